"""Files → works → examples: read what the user names, check all of it, then store it in one transaction.

A failed import stores nothing in the catalog; blobs written before the failure are unreferenced and harmless.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apprentice.errors import BadInput, NotFound
from apprentice.formats import sequences
from apprentice.formats.pairs import Source
from apprentice.formats.parts import decode_part
from apprentice.kinds import FoundExample, get_kind
from apprentice.provenance import consent
from apprentice.provenance.signals import training_reservations
from apprentice.store import examples, works
from apprentice.store.examples import NewExample
from apprentice.store.workshop import Workshop


@dataclass(frozen=True)
class ImportReport:
    """What one `add` did."""

    added: list[str]
    already_present: list[str]
    new_works: int

    def to_dict(self) -> dict:
        return {"added": self.added, "already_present": self.already_present, "new_works": self.new_works}


@dataclass
class LoadedExample:
    found: FoundExample
    data: dict[str, bytes]  # role → file bytes
    size: tuple[int, int]
    reservations: dict[str, str]  # role → the do-not-train signal its owner overrode with --mine


def load(found: FoundExample, check: Callable, mine: bool, read: dict | None = None) -> LoadedExample:
    """Read and decode an example's parts, refusing files whose makers reserved them from training.

    `read` (path → bytes and reservations) is shared by the examples of one import: a layered or animated file
    holds many examples, and is read and scanned once, not once per example.
    """
    data, images, reservations, read = {}, {}, {}, {} if read is None else read
    for role, source in found.parts.items():
        if source.path not in read:
            content = read_bytes(source)
            read[source.path] = (content, training_reservations(content))
        data[role], found_reservations = read[source.path]
        if found_reservations and not mine:
            first = found_reservations[0]
            raise BadInput(
                f"{source.path} says it must not be used for AI training ({first.standard}: {first.detail}); "
                "if you made it yourself and still want to train on it, add it again with --mine."
            )
        reservations[role] = "; ".join(f"{r.standard}: {r.detail}" for r in found_reservations)
        images[role] = decode_part(data[role], str(source.path), source.part)
    check(found.name, images, found.parts)
    return LoadedExample(found, data, next(iter(images.values())).size, reservations)


def read_bytes(source: Source) -> bytes:
    """The part's file; the same bytes object that finding the examples read, while the file is unchanged."""
    return sequences.read_bytes(source.path)


def put_once(workshop: Workshop, data: bytes, stored: dict[int, str]) -> str:
    """Put a file's bytes in the blob store once per import (`stored`: id of the bytes → blob), not per example."""
    if id(data) not in stored:
        stored[id(data)] = workshop.blobs.put(data)
    return stored[id(data)]


def fingerprint(parts: dict[str, tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(parts.items())).encode()).hexdigest()


def add_examples(workshop: Workshop, task_name: str, paths: list[Path], options: dict | None = None) -> ImportReport:
    """Import every example the paths hold into the task, all or nothing."""
    task = workshop.task(task_name)
    kind = get_kind(task.kind)
    options = options or {}
    found = kind.find_examples(paths, options)
    read: dict = {}
    loaded = [load(item, kind.check, options.get("mine", False), read) for item in found]
    stored: dict[int, str] = {}
    keys = {id(item): {role: put_once(workshop, data, stored) for role, data in item.data.items()} for item in loaded}
    added, present, new_works = [], [], 0
    with workshop.catalog.write() as db:
        for item in loaded:
            parts = {role: (keys[id(item)][role], item.found.parts[role].part) for role in kind.roles}
            for role, (work, _) in parts.items():
                new_works += store_work(db, workshop, work, item, role)
            if examples.add_example(db, task.name, new_example(item, parts)):
                added.append(item.found.name)
            else:
                present.append(item.found.name)
    return ImportReport(added, present, new_works)


def new_example(item: LoadedExample, parts: dict[str, tuple[str, str]]) -> NewExample:
    found = item.found
    return NewExample(found.name, fingerprint(parts), *item.size, parts, found.sequence, found.position)


def store_work(db: sqlite3.Connection, workshop: Workshop, work: str, item: LoadedExample, role: str) -> int:
    """Store a work once, owned by the importing member, with its first (signed) consent: own."""
    name, size = item.found.parts[role].path.name, len(item.data[role])
    if not works.add_work(db, work, workshop.member, name, size, item.reservations[role]):
        return 0
    consent.record(db, workshop, work, consent.OWN)
    return 1


def remove_example(workshop: Workshop, task_name: str, example_id: int) -> None:
    """Take one example out of a task (its works stay stored: other examples or apprentices may name them)."""
    workshop.task(task_name)
    with workshop.catalog.write() as db:
        if not examples.remove_example(db, task_name, example_id):
            raise NotFound(f"The task '{task_name}' has no example {example_id}; reload the list of examples.")
