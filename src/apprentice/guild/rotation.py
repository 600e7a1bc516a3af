"""Replacing a member's key: the old key certifies the new one in every guild, then the workshop switches to it.

Works, consent and membership carry over; the node's TLS certificate is remade from the new key. The new key is
saved before anything names it, so a crash midway is finished by running the rotation again; the old key is kept,
retired, beside it.
"""

from __future__ import annotations

import os

from apprentice.files import write_atomically
from apprentice.guild.certificates import ensure_certificate
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.records import record_hash, sign
from apprentice.identity import Identity
from apprentice.store import works
from apprentice.store.workshop import Workshop

NEXT = "identity.next.key"


def rotate_key(workshop: Workshop) -> str:
    """Certify a new key in every guild this member belongs to and make it the workshop's key; the new key."""
    old, root = workshop.member, workshop.root
    new = Identity.load(root / NEXT) if (root / NEXT).exists() else Identity.create(root / NEXT)
    for guild in guild_ids(workshop):
        guild_log = GuildLog(workshop, guild)
        if guild_log.state.rotations.get(old) != new.public_key and guild_log.state.is_member(old):
            guild_log.append("rotate", {"new_key": new.public_key})
        if new.public_key not in guild_log.state.heads and guild_log.state.rotations.get(old) == new.public_key:
            rotate = guild_log.records_after(old, guild_log.state.heads[old][0] - 1, 1)[0]
            body = {"old_key": old, "rotate": record_hash(rotate)}
            guild_log.take([sign(new, guild, 1, "", "rotated", body)], "this workshop")
    write_atomically(root / f"identity-{old[:12]}.retired.key", (root / "identity.key").read_bytes())
    with workshop.catalog.write() as db:
        works.add_member(db, new.public_key, workshop.member_name(old))
        works.move_works(db, old, new.public_key)
    os.replace(root / NEXT, root / "identity.key")
    workshop.identity = new
    ensure_certificate(root, new)  # a running node notices the new key by itself, at its next handshake
    return new.public_key
