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

from PIL import Image

from apprentice.errors import BadInput, NotFound
from apprentice.formats import animation, layered
from apprentice.formats.images import decode_image
from apprentice.formats.pairs import Source
from apprentice.kinds import FoundExample, get_kind
from apprentice.provenance import consent
from apprentice.provenance.signals import training_reservations
from apprentice.store.workshop import Workshop, now


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


def decode_part(data: bytes, name: str, layer: str) -> Image.Image:
    """The pixels of one part from its file's bytes: a flat image, a layer, or a frame (its number) of an animation."""
    if layer and layered.is_layered(Path(name)):
        return layered.decode_layer(data, name, layer)
    if layer:
        return animation.decode_frame(data, name, int(layer))
    return decode_image(data, name)


def load(found: FoundExample, check: Callable, mine: bool) -> LoadedExample:
    """Read and decode an example's parts, refusing files whose makers reserved them from training."""
    data, images, reservations, read = {}, {}, {}, {}
    for role, source in found.parts.items():
        if source.path not in read:  # a layered file holds both sides: read and scan it once
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
    try:
        return source.path.read_bytes()
    except OSError as error:
        raise BadInput(f"{source.path} cannot be read ({error.strerror}); check its permissions.") from None


def fingerprint(parts: dict[str, tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(sorted(parts.items())).encode()).hexdigest()


def add_examples(workshop: Workshop, task_name: str, paths: list[Path], options: dict | None = None) -> ImportReport:
    """Import every example the paths hold into the task, all or nothing."""
    task = workshop.task(task_name)
    kind = get_kind(task.kind)
    options = options or {}
    found = kind.find_examples(paths, options)
    loaded = [load(item, kind.check, options.get("mine", False)) for item in found]
    keys = {id(item): {role: workshop.blobs.put(data) for role, data in item.data.items()} for item in loaded}
    added, present, new_works = [], [], 0
    with workshop.catalog.write() as db:
        for item in loaded:
            parts = {role: (keys[id(item)][role], item.found.parts[role].part) for role in kind.roles}
            for role, (work, _) in parts.items():
                new_works += store_work(db, workshop, work, item, role)
            if store_example(db, task.name, item, parts):
                added.append(item.found.name)
            else:
                present.append(item.found.name)
    return ImportReport(added, present, new_works)


def store_work(db: sqlite3.Connection, workshop: Workshop, work: str, item: LoadedExample, role: str) -> int:
    """Store a work once, owned by the importing member, with its first (signed) consent: own."""
    cursor = db.execute(
        "INSERT INTO works (id, owner, name, size, added_at, reservation) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (work, workshop.member, item.found.parts[role].path.name, len(item.data[role]), now(), item.reservations[role]),
    )
    if cursor.rowcount:
        consent.record(db, workshop, work, "own")
    return cursor.rowcount


def store_example(db: sqlite3.Connection, task: str, item: LoadedExample, parts: dict[str, tuple[str, str]]) -> bool:
    cursor = db.execute(
        "INSERT INTO examples (task, name, fingerprint, width, height, added_at, sequence, position) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task, fingerprint) DO NOTHING",
        (task, item.found.name, fingerprint(parts), *item.size, now(), item.found.sequence, item.found.position),
    )
    if cursor.rowcount == 0:
        return False
    for role, (work, layer) in parts.items():
        db.execute(
            "INSERT INTO example_parts (example, role, work, layer) VALUES (?, ?, ?, ?)",
            (cursor.lastrowid, role, work, layer),
        )
    return True


def remove_example(workshop: Workshop, task_name: str, example_id: int) -> None:
    """Take one example out of a task (its works stay stored: other examples or apprentices may name them)."""
    workshop.task(task_name)
    with workshop.catalog.write() as db:
        cursor = db.execute("DELETE FROM examples WHERE id = ? AND task = ?", (example_id, task_name))
        if cursor.rowcount == 0:
            raise NotFound(f"The task '{task_name}' has no example {example_id}; reload the list of examples.")
