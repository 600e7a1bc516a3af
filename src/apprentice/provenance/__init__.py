"""Provenance: apprentice manifests now; consent records and output credentials build on them."""
