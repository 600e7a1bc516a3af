"""The catalog's members, works and their signed consent changes: who made what, and what it may be used for now.

Only SQL lives here; which scope allows what is decided in `apprentice.provenance.consent`.
"""

from __future__ import annotations

import sqlite3

from apprentice.store.catalog import Catalog, first_row, now


def add_member(db: sqlite3.Connection, key: str, name: str) -> None:
    """Name a member this workshop has heard of, once (their own name for themselves wins later)."""
    db.execute(
        "INSERT INTO members (key, name, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING", (key, name, now())
    )


def member_named(catalog: Catalog, key: str) -> str | None:
    """The name of a member this workshop has heard of, or None for a key its catalog does not name."""
    row = catalog.row("SELECT name FROM members WHERE key = ?", (key,))
    return row["name"] if row else None


def add_work(db: sqlite3.Connection, work: str, owner: str, name: str, size: int, reservation: str) -> bool:
    """Store a work of this workshop's member once; False when it was stored before."""
    cursor = db.execute(
        "INSERT INTO works (id, owner, name, size, added_at, reservation) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (work, owner, name, size, now(), reservation),
    )
    return cursor.rowcount > 0


def add_copy(db: sqlite3.Connection, work: str, owner: str, name: str, scope: str, me: str) -> None:
    """A work of another member held here under `scope`: a copy follows the guild's record, but never touches
    a work this workshop's own member owns (their catalog has the last word on those)."""
    db.execute(
        "INSERT INTO works (id, owner, name, size, consent, added_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET consent = excluded.consent WHERE works.owner = excluded.owner "
        "AND works.owner != ?",
        (work, owner, name, 0, scope, now(), me),
    )


def add_consent_change(db: sqlite3.Connection, work: str, scope: str, member: str, at: str, signature: str) -> None:
    """Keep a signed consent change and make its scope the work's current consent."""
    db.execute(
        "INSERT INTO consent_changes (work, scope, member, at, signature) VALUES (?, ?, ?, ?, ?)",
        (work, scope, member, at, signature),
    )
    db.execute("UPDATE works SET consent = ? WHERE id = ?", (scope, work))


def consent_changes(catalog: Catalog, work: str) -> list[sqlite3.Row]:
    return catalog.rows("SELECT * FROM consent_changes WHERE work = ? ORDER BY id", (work,))


def has_work(catalog: Catalog, work: str) -> bool:
    return catalog.row("SELECT 1 FROM works WHERE id = ?", (work,)) is not None


def works_starting(catalog: Catalog, prefix: str) -> list[str]:
    return [row["id"] for row in catalog.rows("SELECT id FROM works WHERE id LIKE ?", (prefix.lower() + "%",))]


def owner_of(db: sqlite3.Connection, work: str) -> str:
    return db.execute("SELECT owner FROM works WHERE id = ?", (work,)).fetchone()["owner"]


def work_name(catalog: Catalog, work: str) -> str | None:
    """The file name a work was first added under, or None when the workshop holds no such work."""
    row = catalog.row("SELECT name FROM works WHERE id = ?", (work,))
    return row["name"] if row else None


def consent_of(catalog: Catalog | sqlite3.Connection, work: str, owner: str | None = None) -> str | None:
    """A work's current consent (only if `owner` owns it, when named), or None when there is no such work."""
    sql, params = "SELECT consent FROM works WHERE id = ?", (work,)
    if owner is not None:
        sql, params = sql + " AND owner = ?", (work, owner)
    row = first_row(catalog, sql, params)
    return row["consent"] if row else None


def consents(catalog: Catalog) -> dict[str, str]:
    """Every work's current consent."""
    return {row["id"]: row["consent"] for row in catalog.rows("SELECT id, consent FROM works")}


def set_copies_consent(db: sqlite3.Connection, works: list[str], scope: str, me: str) -> None:
    """Set the consent of this node's copies of other members' works (never of `me`'s own)."""
    db.executemany("UPDATE works SET consent = ? WHERE id = ? AND owner != ?", [(scope, work, me) for work in works])


def copies_with_consent(catalog: Catalog, scope: str, me: str) -> list[str]:
    """Other members' works this node holds under `scope`."""
    rows = catalog.rows("SELECT id FROM works WHERE consent = ? AND owner != ?", (scope, me))
    return [row["id"] for row in rows]


def move_works(db: sqlite3.Connection, old_owner: str, new_owner: str) -> None:
    """A member's works follow them to their new key."""
    db.execute("UPDATE works SET owner = ? WHERE owner = ?", (new_owner, old_owner))
