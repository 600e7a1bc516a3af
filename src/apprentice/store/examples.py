"""The catalog's examples: each task's training cases and the works (and layers) each of their parts comes from.

Reads return every example with its parts' owners and consent as stored; what consent allows is decided above.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from apprentice.store.catalog import Catalog, now


@dataclass(frozen=True)
class Part:
    """One part of an example (its before, its after, a key…): which work, which layer, whose, under what consent."""

    work: str
    layer: str
    owner: str
    name: str  # the file name the work was first added under
    consent: str


@dataclass(frozen=True)
class ExampleRecord:
    """One stored example of a task."""

    id: int
    name: str
    fingerprint: str
    width: int
    height: int
    parts: dict[str, Part]
    sequence: str = ""  # the animation an example was cut from ('' for a stand-alone example)
    position: int = 0

    @property
    def group(self) -> str:
        """What validation holds out together: the whole animation, else the example alone."""
        return self.sequence or self.fingerprint

    @property
    def works(self) -> set[str]:
        return {part.work for part in self.parts.values()}


@dataclass(frozen=True)
class NewExample:
    """An example to store: its parts as role → (work, layer)."""

    name: str
    fingerprint: str
    width: int
    height: int
    parts: dict[str, tuple[str, str]]
    sequence: str = ""
    position: int = 0


def example_records(catalog: Catalog, task: str) -> list[ExampleRecord]:
    """Every example of the task, in the order added, with each part's work, owner and current consent."""
    rows = catalog.rows(
        "SELECT e.id, e.name, e.fingerprint, e.width, e.height, e.sequence, e.position, "
        "p.role, p.work, p.layer, w.owner, w.name AS file, w.consent "
        "FROM examples e JOIN example_parts p ON p.example = e.id JOIN works w ON w.id = p.work "
        "WHERE e.task = ? ORDER BY e.id, p.role",
        (task,),
    )
    records: dict[int, ExampleRecord] = {}
    for row in rows:
        if row["id"] not in records:
            facts = (row["id"], row["name"], row["fingerprint"], row["width"], row["height"])
            records[row["id"]] = ExampleRecord(*facts, {}, row["sequence"], row["position"])
        records[row["id"]].parts[row["role"]] = Part(
            row["work"], row["layer"], row["owner"], row["file"], row["consent"]
        )
    return list(records.values())


def example_count(catalog: Catalog, task: str) -> int:
    return catalog.row("SELECT COUNT(*) AS n FROM examples WHERE task = ?", (task,))["n"]


def add_example(db: sqlite3.Connection, task: str, example: NewExample) -> bool:
    """Store an example in the caller's transaction; False when the task holds the same parts already."""
    cursor = db.execute(
        "INSERT INTO examples (task, name, fingerprint, width, height, added_at, sequence, position) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task, fingerprint) DO NOTHING",
        (task, example.name, example.fingerprint, example.width, example.height, now())
        + (example.sequence, example.position),
    )
    if cursor.rowcount == 0:
        return False
    db.executemany(
        "INSERT INTO example_parts (example, role, work, layer) VALUES (?, ?, ?, ?)",
        [(cursor.lastrowid, role, work, layer) for role, (work, layer) in example.parts.items()],
    )
    return True


def remove_example(db: sqlite3.Connection, task: str, example_id: int) -> bool:
    """Take one example out of a task (its works stay); False when the task has no such example."""
    return db.execute("DELETE FROM examples WHERE id = ? AND task = ?", (example_id, task)).rowcount > 0


def clear_examples(db: sqlite3.Connection, task: str) -> None:
    """Take every example out of a task, as a guild's task does before it stores a proposal's set afresh."""
    db.execute("DELETE FROM examples WHERE task = ?", (task,))
