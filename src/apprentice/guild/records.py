"""Guild records: canonical JSON signed by their author, hash-linked per author, carrying the guild id.

A record is a plain dict; its hash (SHA-256 of its canonical JSON, signature included) is how others cite it.
"""

from __future__ import annotations

import base64
import hashlib
import json

from apprentice.errors import BadInput
from apprentice.guild.schemas import record_problem
from apprentice.identity import Identity, canonical, signed_by_its_signer, verify
from apprentice.store.workshop import now

FIELDS = ("guild", "author", "seq", "prev", "type", "body", "at")


def record_hash(record: dict) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def unsigned(record: dict) -> dict:
    return {name: record.get(name) for name in FIELDS}


def sign(identity: Identity, guild: str, seq: int, prev: str, kind: str, body: dict) -> dict:
    """A new record by `identity`, the `seq`-th of its chain in `guild`, following the record hashed `prev`."""
    facts = {"guild": guild, "author": identity.public_key, "seq": seq, "prev": prev, "type": kind, "body": body}
    facts["at"] = now()
    return facts | {"sig": identity.sign(canonical(facts))}


def well_formed(record: object) -> str:
    """Why `record` is not a record ('' when it has a record's exact shape and its signature is its author's)."""
    problem = record_problem(record)
    if problem:
        return problem
    if not verify(record["author"], canonical(unsigned(record)), record["sig"]):
        return "its signature does not match its author (forged or altered)"
    return ""


INVITE_PREFIX = "apprentice-invite:"


def encode_invite(token: dict) -> str:
    """The invite as one line a member can paste in a message."""
    return INVITE_PREFIX + base64.urlsafe_b64encode(canonical(token)).decode().rstrip("=")


def decode_invite(text: str) -> dict:
    text = text.strip()
    shown = text if len(text) <= 40 else text[:40] + "…"
    problem = BadInput(f"'{shown}' is not an Apprentice invite; paste the whole line the inviter sent you.")
    if not text.startswith(INVITE_PREFIX):
        raise problem
    payload = text[len(INVITE_PREFIX) :]
    try:
        token = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise problem from None
    if not signed_by_its_signer(token) or not {"guild", "nonce", "address"} <= set(token):
        raise problem
    return token
