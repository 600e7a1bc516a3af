"""The catalog's guilds: which this workshop belongs to, each guild's signed records and forks, and peer addresses.

Records are stored as the canonical JSON they were signed as; checking them is the guild package's job.
"""

from __future__ import annotations

import json
import sqlite3

from apprentice.store.catalog import Catalog, now


def guild_rows(catalog: Catalog) -> list[sqlite3.Row]:
    """(id, name) of every guild this workshop belongs to, in the order it joined them."""
    return catalog.rows("SELECT id, name FROM guilds ORDER BY joined_at, id")


def add_guild(db: sqlite3.Connection, guild: str, name: str) -> None:
    db.execute("INSERT INTO guilds (id, name, joined_at) VALUES (?, ?, ?)", (guild, name, now()))


def log_records(catalog: Catalog, guild: str) -> list[dict]:
    """Every record of the guild's log, in the order this node stored them."""
    rows = catalog.rows("SELECT record FROM guild_records WHERE guild = ? ORDER BY rowid", (guild,))
    return [json.loads(row["record"]) for row in rows]


def records_after(catalog: Catalog, guild: str, author: str, seq: int, limit: int) -> list[dict]:
    rows = catalog.rows(
        "SELECT record FROM guild_records WHERE guild = ? AND author = ? AND seq > ? ORDER BY seq LIMIT ?",
        (guild, author, seq, limit),
    )
    return [json.loads(row["record"]) for row in rows]


def record_at(catalog: Catalog, guild: str, author: str, seq: int) -> dict | None:
    row = catalog.row(
        "SELECT record FROM guild_records WHERE guild = ? AND author = ? AND seq = ?", (guild, author, seq)
    )
    return json.loads(row["record"]) if row else None


def add_record(db: sqlite3.Connection, guild: str, record: dict, digest: str, text: str) -> bool:
    """Keep a judged record at its place in its author's chain; False when another writer took that place first."""
    cursor = db.execute(
        "INSERT INTO guild_records (guild, author, seq, hash, record, received_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (guild, record["author"], record["seq"], digest, text, now()),
    )
    return cursor.rowcount > 0


def add_fork(db: sqlite3.Connection, guild: str, record: dict, digest: str, text: str) -> bool:
    """Keep a second record an author signed at a place of their chain already taken: the proof of a fork.
    One proof per author is enough, so a forking author cannot fill the catalog. False when one was kept before."""
    cursor = db.execute(
        "INSERT INTO guild_forks (guild, author, seq, hash, record, seen_at) SELECT ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM guild_forks WHERE guild = ? AND author = ?)",
        (guild, record["author"], record["seq"], digest, text, now(), guild, record["author"]),
    )
    return cursor.rowcount > 0


def forks(catalog: Catalog, guild: str) -> list[dict]:
    rows = catalog.rows("SELECT author, seq, seen_at FROM guild_forks WHERE guild = ?", (guild,))
    return [dict(row) for row in rows]


def fork_proofs(catalog: Catalog, guild: str) -> list[dict]:
    """Each forked author's second record together with the one this node holds at that place."""
    rows = catalog.rows(
        "SELECT f.record AS second, r.record AS held FROM guild_forks f JOIN guild_records r "
        "ON r.guild = f.guild AND r.author = f.author AND r.seq = f.seq WHERE f.guild = ?",
        (guild,),
    )
    return [json.loads(row[column]) for row in rows for column in ("held", "second")]


def has_forked(catalog: Catalog, guild: str, author: str) -> bool:
    return catalog.row("SELECT 1 FROM guild_forks WHERE guild = ? AND author = ?", (guild, author)) is not None


def peer_addresses(catalog: Catalog, guild: str) -> list[str]:
    """Addresses this node was given for the guild's nodes outside its log (an invite's, say)."""
    return [row["address"] for row in catalog.rows("SELECT address FROM guild_peers WHERE guild = ?", (guild,))]


def add_peer(db: sqlite3.Connection, guild: str, address: str) -> None:
    db.execute("INSERT INTO guild_peers (guild, address) VALUES (?, ?) ON CONFLICT DO NOTHING", (guild, address))
