"""Content-addressed blob store: every imported file's bytes, named by their SHA-256.

Adding the same bytes twice stores them once; a blob is written atomically before the catalog names it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from apprentice.errors import BadInput, NotFound
from apprentice.files import write_atomically
from apprentice.ids import is_id


def digest(data: bytes) -> str:
    """The SHA-256 of `data` in hex: a work's id."""
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Blobs under `root/ab/cdef…`, keyed by SHA-256 hex."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """Where a work's bytes lie; only a work id (64 hex digits) names a blob, so no id reaches outside `root`."""
        if not is_id(key, "work"):
            raise BadInput(f"'{str(key)[:16]}' is not a work id (64 hex digits); use an id `apprentice show` lists.")
        return self.root / key[:2] / key[2:]

    def put(self, data: bytes) -> str:
        key = digest(data)
        if not self.path(key).exists():
            write_atomically(self.path(key), data)
        return key

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"The workshop's blob {key[:12]} is missing from {self.root}; add its file again.") from None
