"""The shape of every id Apprentice stores, sends or receives: lowercase hex of a fixed length.

Ids from another machine or another person's file are checked here before they touch a path, a query or a record.
"""

from __future__ import annotations

import re

HEX = re.compile(r"[0-9a-f]+")
LENGTHS = {
    "work": 64,  # SHA-256 of a file's bytes
    "apprentice": 16,  # the first 16 hex of its weights' SHA-256
    "member": 64,  # an Ed25519 public key
    "guild": 64,  # SHA-256 of its charter record
    "record": 64,  # SHA-256 of a guild record's canonical JSON
    "sha256": 64,
    "signature": 128,  # an Ed25519 signature
}


def is_id(value: object, kind: str) -> bool:
    """Whether `value` is an id of this kind: a string of exactly that many lowercase hex digits."""
    return isinstance(value, str) and len(value) == LENGTHS[kind] and HEX.fullmatch(value) is not None
