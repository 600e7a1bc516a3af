"""The workshop: one person's folder holding the SQLite catalog and the content-addressed blob store."""
