"""Consent: the one place that says what a work may be used for, and the signed changes its owner makes.

Scopes: `own` (the owner's apprentices only; the default), `guild:<id>` (lent to that guild's shared
apprentices too) and `withdrawn` (nothing). Every caller asks the questions below; none reads a scope itself.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from apprentice.errors import BadInput, Conflict, NotFound
from apprentice.identity import canonical, verify
from apprentice.store import works as stored
from apprentice.store.examples import ExampleRecord
from apprentice.store.workshop import Workshop, now

OWN, WITHDRAWN, LENT = "own", "withdrawn", "guild:"
SCOPE = re.compile(r"^(own|withdrawn|guild:[A-Za-z0-9_-]{1,64})$")


def lent_to(guild: str) -> str:
    """The scope that lends a work to `guild`'s shared apprentices."""
    return LENT + guild


def check_scope(scope: str) -> str:
    if not SCOPE.match(scope):
        raise BadInput(f"'{scope}' is not a consent scope; use own, withdrawn or guild:GUILD-ID.")
    return scope


# -- the questions --------------------------------------------------------------------------------------------


def may_train(owner: str, scope: str, member: str, task_guild: str = "") -> bool:
    """May a work (owned by `owner`, under `scope`) teach a task of `member`'s workshop?

    Never once withdrawn; a member's own works teach any of their tasks; another member's work teaches only
    the shared task of the guild it is lent to (`task_guild`), never a task of one's own.
    """
    if scope == WITHDRAWN:
        return False
    return owner == member or (bool(task_guild) and scope == lent_to(task_guild))


def example_may_train(example: ExampleRecord, member: str, task_guild: str = "") -> bool:
    """Whether every work of an example may teach the task (read from the catalog's consent as it is now)."""
    return all(may_train(part.owner, part.consent, member, task_guild) for part in example.parts.values())


def may_lend(scope: str | None, guild: str) -> bool:
    """May this node hand a work's bytes to `guild`'s trainer? Only while its consent here lends it to that guild."""
    return scope == lent_to(guild)


def may_teach_here(example: ExampleRecord, member: str, guild: str, offered: bool) -> bool:
    """May this node train `guild`'s shared apprentice on one of its member's examples, at home (federated)? Only
    when it is theirs, they offered it to the guild for that task (`offered`, read from the guild's log), and every
    work of it is lent to that guild now (read from the catalog)."""
    return offered and all(part.owner == member and may_lend(part.consent, guild) for part in example.parts.values())


def is_withdrawn(scope: str | None) -> bool:
    return scope == WITHDRAWN


def guild_may_train(works: set[str], withdrawn_from_guild: set[str]) -> bool:
    """May an example a member offered to a guild teach its shared apprentices? While none of its works is
    withdrawn from the guild (as the guild's log records it)."""
    return not works & withdrawn_from_guild


def copy_scope(guild: str, withdrawn_from_guild: bool) -> str:
    """The consent under which a node keeps its copy of another member's work lent to `guild`."""
    return WITHDRAWN if withdrawn_from_guild else lent_to(guild)


def no_longer_lent(scope: str | None, guild: str) -> bool:
    """Has a work its owner lent to `guild` been taken back (withdrawn, or consent changed to anything else)?"""
    return scope != lent_to(guild)


# -- changes --------------------------------------------------------------------------------------------------


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


def record(db: sqlite3.Connection, workshop: Workshop, work: str, scope: str) -> ConsentChange:
    """Sign and store a change inside the caller's transaction, and set the work's current consent."""
    unsigned = ConsentChange(work, check_scope(scope), workshop.member, now())
    change = ConsentChange(**(asdict(unsigned) | {"signature": workshop.identity.sign(unsigned.message())}))
    stored.add_consent_change(db, change.work, change.scope, change.member, change.at, change.signature)
    return change


def resolve(workshop: Workshop, reference: str) -> str:
    """A work id from a work id (or a unique prefix of at least 8 characters) or from a file's path."""
    path = Path(reference)
    if path.is_file():
        key = hashlib.sha256(path.read_bytes()).hexdigest()
        if not stored.has_work(workshop.catalog, key):
            raise NotFound(f"{path} was never added to this workshop, so it has no consent to change.")
        return key
    found = stored.works_starting(workshop.catalog, reference)
    if len(reference) < 8 or len(found) != 1:
        raise NotFound(
            f"'{reference}' names no single work; pass a file you added or a work id from `apprentice show`."
        )
    return found[0]


def set_consent(workshop: Workshop, references: list[str], scope: str) -> list[ConsentChange]:
    """Change the consent of the named works, all or none; only their owner may."""
    works = [resolve(workshop, reference) for reference in references]
    check_scope(scope)
    with workshop.catalog.write() as db:
        for work in works:
            owner = stored.owner_of(db, work)
            if owner != workshop.member:
                raise Conflict(
                    f"Work {work[:12]} belongs to {workshop.member_name(owner)}; only its owner can change it."
                )
        return [record(db, workshop, work, scope) for work in works]


def restore_lent(db: sqlite3.Connection, workshop: Workshop, works: list[str], guild: str) -> None:
    """This member's own offer to `guild`, come back from a peer (a restored backup): lend those works again,
    unless withdrawn here since."""
    restore(db, workshop, works, lent_to(guild))


def restore_withdrawn(db: sqlite3.Connection, workshop: Workshop, works: list[str]) -> None:
    """This member's own withdrawal, come back from a peer (a restored backup): withdraw those works here too."""
    restore(db, workshop, works, WITHDRAWN)


def restore(db: sqlite3.Connection, workshop: Workshop, works: list[str], scope: str) -> None:
    for work in works:
        current = stored.consent_of(db, work, owner=workshop.member)
        if current is not None and current not in (scope, WITHDRAWN):
            record(db, workshop, work, scope)


def withdraw_copies(db: sqlite3.Connection, workshop: Workshop, works: list[str]) -> None:
    """Withdrawn in a guild → withdrawn here too, for this node's copies of other members' works."""
    stored.set_copies_consent(db, works, WITHDRAWN, workshop.member)


def forget_withdrawn_copies(workshop: Workshop) -> None:
    """Delete this node's copies of others' withdrawn works: the bytes are gone, the hash stays."""
    for work in stored.copies_with_consent(workshop.catalog, WITHDRAWN, workshop.member):
        workshop.blobs.path(work).unlink(missing_ok=True)


def history(workshop: Workshop, work: str) -> list[ConsentChange]:
    rows = stored.consent_changes(workshop.catalog, work)
    return [ConsentChange(r["work"], r["scope"], r["member"], r["at"], r["signature"]) for r in rows]


def withdrawn_among(workshop: Workshop, works: set[str]) -> list[str]:
    """Those of `works` that are withdrawn now, read from the catalog."""
    scopes = stored.consents(workshop.catalog)
    return sorted(work for work in works if is_withdrawn(scopes.get(work)))
