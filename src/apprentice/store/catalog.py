"""The SQLite catalog: schema migrations, one writer connection, reads on their own connection.

Every write runs in a `BEGIN IMMEDIATE` transaction, so a failed import or a kill changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

MIGRATIONS = [
    """
    CREATE TABLE members (
        key TEXT PRIMARY KEY,            -- Ed25519 public key, hex
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE works (
        id TEXT PRIMARY KEY,             -- SHA-256 of the file's bytes, hex
        owner TEXT NOT NULL REFERENCES members(key),
        name TEXT NOT NULL,              -- file name when first imported
        size INTEGER NOT NULL,
        consent TEXT NOT NULL DEFAULT 'own',
        added_at TEXT NOT NULL
    );
    CREATE TABLE tasks (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config TEXT NOT NULL,            -- JSON
        created_at TEXT NOT NULL
    );
    CREATE TABLE examples (
        id INTEGER PRIMARY KEY,
        task TEXT NOT NULL REFERENCES tasks(name),
        name TEXT NOT NULL,
        fingerprint TEXT NOT NULL,       -- SHA-256 of its parts: the same parts are one example
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        UNIQUE (task, fingerprint)
    );
    CREATE TABLE example_parts (
        example INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
        role TEXT NOT NULL,              -- 'before', 'after', … as the task's kind names them
        work TEXT NOT NULL REFERENCES works(id),
        layer TEXT NOT NULL DEFAULT '',  -- the layer of a layered work, '' for a flat image
        PRIMARY KEY (example, role)
    );
    CREATE TABLE apprentices (
        id TEXT PRIMARY KEY,             -- first 16 hex of the weights' SHA-256
        task TEXT NOT NULL REFERENCES tasks(name),
        version INTEGER NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        val_psnr REAL,
        val_ssim REAL,
        identity_psnr REAL,
        steps INTEGER NOT NULL,
        seconds REAL NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (task, version)
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        apprentice TEXT NOT NULL REFERENCES apprentices(id),
        input TEXT NOT NULL,
        output TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE consent_changes (
        id INTEGER PRIMARY KEY,
        work TEXT NOT NULL REFERENCES works(id),
        scope TEXT NOT NULL,             -- 'own', 'guild:<id>' or 'withdrawn'
        member TEXT NOT NULL,            -- who changed it: the work's owner
        at TEXT NOT NULL,
        signature TEXT NOT NULL          -- the member's Ed25519 signature of the change's canonical JSON
    );
    CREATE TABLE apprentice_works (
        apprentice TEXT NOT NULL REFERENCES apprentices(id),
        work TEXT NOT NULL REFERENCES works(id),
        PRIMARY KEY (apprentice, work)
    );
    ALTER TABLE apprentices ADD COLUMN successor_of TEXT;
    ALTER TABLE apprentices ADD COLUMN because TEXT;
    ALTER TABLE works ADD COLUMN reservation TEXT NOT NULL DEFAULT ''
    """,  # reservation: a do-not-train signal its owner overrode with --mine (comments inside ALTER break SQLite)
    """
    ALTER TABLE examples ADD COLUMN sequence TEXT NOT NULL DEFAULT '';
    ALTER TABLE examples ADD COLUMN position INTEGER NOT NULL DEFAULT 0
    """,  # sequence: examples cut from one animation share it and are held out together; position: order in it
    """
    CREATE TABLE guilds (
        id TEXT PRIMARY KEY,             -- SHA-256 of the guild's charter record
        name TEXT NOT NULL,
        joined_at TEXT NOT NULL
    );
    CREATE TABLE guild_records (
        guild TEXT NOT NULL REFERENCES guilds(id),
        author TEXT NOT NULL,            -- Ed25519 public key, hex
        seq INTEGER NOT NULL,            -- place in its author's chain, from 1
        hash TEXT NOT NULL,              -- SHA-256 of the record's canonical JSON
        record TEXT NOT NULL,            -- the signed record, canonical JSON
        received_at TEXT NOT NULL,
        PRIMARY KEY (guild, author, seq)
    );
    CREATE TABLE guild_forks (
        guild TEXT NOT NULL,
        author TEXT NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,              -- a second record the author signed at a place already taken
        record TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (guild, hash)
    );
    CREATE TABLE guild_peers (
        guild TEXT NOT NULL,
        address TEXT NOT NULL,           -- a node's base URL, from an invite or the log
        PRIMARY KEY (guild, address)
    )
    """,
]


def now() -> str:
    """The current time as an ISO-8601 UTC string, as stored in the catalog."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


class Catalog:
    """The workshop's catalog file, migrated to the newest schema on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = connect(path)
        self.writer.execute("PRAGMA journal_mode = WAL")
        self.writer.execute("PRAGMA synchronous = FULL")
        self.reader = connect(path)
        self.migrate()

    def migrate(self) -> None:
        version = self.writer.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.write() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction on the writer connection: all of it lands, or none of it."""
        self.writer.execute("BEGIN IMMEDIATE")
        try:
            yield self.writer
        except BaseException:
            self.writer.execute("ROLLBACK")
            raise
        self.writer.execute("COMMIT")

    def rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        return self.reader.execute(sql, params).fetchall()

    def row(self, sql: str, params: tuple = ()) -> sqlite3.Row | None:
        return self.reader.execute(sql, params).fetchone()

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


def first_row(source: Catalog | sqlite3.Connection, sql: str, params: tuple = ()) -> sqlite3.Row | None:
    """The first row of a query, read inside a write transaction's connection or on the catalog's reader."""
    if isinstance(source, Catalog):
        return source.row(sql, params)
    return source.execute(sql, params).fetchone()
