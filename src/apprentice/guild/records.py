"""Guild records: canonical JSON signed by their author, hash-linked per author, carrying the guild id.

A record is a plain dict; its hash (SHA-256 of its canonical JSON, signature included) is how others cite it.
"""

from __future__ import annotations

import base64
import hashlib
import json

from apprentice.errors import BadInput
from apprentice.identity import Identity, canonical, signed_by_its_signer, verify
from apprentice.store.workshop import now

FIELDS = ("guild", "author", "seq", "prev", "type", "body", "at")
NUMBER = (int, float)
SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {  # the fields each type's body must have, and their types
    "charter": {"name": str, "join": str, "quorum": NUMBER, "threshold": NUMBER},
    "invite": {"nonce": str},
    "join": {"invite": dict, "name": str},
    "address": {"address": str},
    "offer": {"task": str, "examples": list},
    "withdraw": {"works": list},
    "proposal": {"kind": str, "electorate": list},
    "vote": {"proposal": str, "vote": str},
    "release": {
        "proposal": str,
        "task": str,
        "apprentice": str,
        "manifest_sha256": str,
        "weights_sha256": str,
        "owners": dict,
        "works": list,
    },
    "rotate": {"new_key": str},
    "rotated": {"old_key": str},
}
TYPES = tuple(SHAPES)
TRAIN = {"task": str, "task_kind": str, "contributors": list, "compute": dict}


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
    """Why `record` is not a record ('' when it is one and its signature is its author's)."""
    if not isinstance(record, dict) or set(record) != {*FIELDS, "sig"}:
        return "it is not a guild record"
    if record["type"] not in TYPES or not isinstance(record["body"], dict):
        return f"its type '{record['type']}' is unknown"
    if not isinstance(record["seq"], int) or record["seq"] < 1 or not isinstance(record["prev"], str):
        return "its sequence number or link is malformed"
    if not verify(str(record["author"]), canonical(unsigned(record)), str(record["sig"])):
        return "its signature does not match its author (forged or altered)"
    return body_problem(record["type"], record["body"])


def body_problem(kind: str, body: dict) -> str:
    """Why a signed body cannot be folded in ('' when it has every field its type needs)."""
    shapes = [SHAPES[kind]]
    if kind == "proposal" and body.get("kind") == "train":
        shapes.append(TRAIN)
    missing = [name for shape in shapes for name, kinds in shape.items() if not isinstance(body.get(name), kinds)]
    if missing:
        return f"its {kind} lacks a valid '{missing[0]}'"
    if kind == "offer":
        for example in body["examples"]:
            if not isinstance(example, dict) or not isinstance(example.get("fingerprint"), str):
                return "its offer holds an example without a fingerprint"
            parts = example.get("parts")
            if not isinstance(parts, dict) or not all(
                isinstance(p, dict) and isinstance(p.get("work"), str) for p in parts.values()
            ):
                return "its offer holds an example without its works"
    if kind == "proposal" and body["kind"] not in ("train", "admit"):
        return f"its proposal kind '{body['kind']}' is unknown"
    if kind == "proposal" and body["kind"] == "train" and not isinstance(body["compute"].get("member"), str):
        return "its proposal pledges no member's compute"
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
