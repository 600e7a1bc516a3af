"""The workshop in a browser: a local web UI and its JSON API, a thin shell over the same core as the CLI."""
