"""Consent: what each work may be used for, changed only by its owner, every change signed and kept.

Scopes: `own` (the owner's apprentices only; the default), `guild:<id>` (also that guild's shared
apprentices) and `withdrawn` (nothing). Training reads consent from the catalog, never from a cache.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from apprentice.errors import BadInput, Conflict, NotFound
from apprentice.identity import canonical, verify
from apprentice.store.workshop import Workshop, now

SCOPE = re.compile(r"^(own|withdrawn|guild:[A-Za-z0-9_-]{1,64})$")


@dataclass(frozen=True)
class ConsentChange:
    """One signed change of a work's consent."""

    work: str
    scope: str
    member: str
    at: str
    signature: str = ""

    def message(self) -> bytes:
        """The canonical JSON the owner signs."""
        return canonical({"work": self.work, "scope": self.scope, "member": self.member, "at": self.at})

    def verified(self) -> bool:
        return verify(self.member, self.message(), self.signature)

    def to_dict(self) -> dict:
        return asdict(self) | {"verified": self.verified()}


def check_scope(scope: str) -> str:
    if not SCOPE.match(scope):
        raise BadInput(f"'{scope}' is not a consent scope; use own, withdrawn or guild:GUILD-ID.")
    return scope


def record(db: sqlite3.Connection, workshop: Workshop, work: str, scope: str) -> ConsentChange:
    """Sign and store a change inside the caller's transaction, and set the work's current consent."""
    unsigned = ConsentChange(work, check_scope(scope), workshop.member, now())
    change = ConsentChange(**(asdict(unsigned) | {"signature": workshop.identity.sign(unsigned.message())}))
    db.execute(
        "INSERT INTO consent_changes (work, scope, member, at, signature) VALUES (?, ?, ?, ?, ?)",
        (change.work, change.scope, change.member, change.at, change.signature),
    )
    db.execute("UPDATE works SET consent = ? WHERE id = ?", (scope, work))
    return change


def resolve(workshop: Workshop, reference: str) -> str:
    """A work id from a work id (or a unique prefix of at least 8 characters) or from a file's path."""
    path = Path(reference)
    if path.is_file():
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        if workshop.catalog.row("SELECT 1 FROM works WHERE id = ?", (key,)) is None:
            raise NotFound(f"{path} was never added to this workshop, so it has no consent to change.")
        return key
    rows = workshop.catalog.rows("SELECT id FROM works WHERE id LIKE ?", (reference.lower() + "%",))
    if len(reference) < 8 or len(rows) != 1:
        raise NotFound(
            f"'{reference}' names no single work; pass a file you added or a work id from `apprentice show`."
        )
    return rows[0]["id"]


def set_consent(workshop: Workshop, references: list[str], scope: str) -> list[ConsentChange]:
    """Change the consent of the named works, all or none; only their owner may."""
    works = [resolve(workshop, reference) for reference in references]
    check_scope(scope)
    with workshop.catalog.write() as db:
        for work in works:
            owner = db.execute("SELECT owner FROM works WHERE id = ?", (work,)).fetchone()["owner"]
            if owner != workshop.member:
                raise Conflict(
                    f"Work {work[:12]} belongs to {workshop.member_name(owner)}; only its owner can change it."
                )
        return [record(db, workshop, work, scope) for work in works]


def history(workshop: Workshop, work: str) -> list[ConsentChange]:
    rows = workshop.catalog.rows("SELECT * FROM consent_changes WHERE work = ? ORDER BY id", (work,))
    return [ConsentChange(r["work"], r["scope"], r["member"], r["at"], r["signature"]) for r in rows]


def withdrawn_among(workshop: Workshop, works: set[str]) -> list[str]:
    """Those of `works` that are withdrawn now, read from the catalog."""
    rows = workshop.catalog.rows("SELECT id FROM works WHERE consent = 'withdrawn'")
    return sorted(row["id"] for row in rows if row["id"] in works)
