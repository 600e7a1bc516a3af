"""Files → works → examples: read what the user names, check all of it, then store it in one transaction.

A failed import stores nothing in the catalog; blobs written before the failure are unreferenced and harmless.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import layered
from apprentice.formats.images import decode_image
from apprentice.formats.pairs import Source
from apprentice.kinds import FoundExample, get_kind
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


def decode_part(data: bytes, name: str, layer: str) -> Image.Image:
    """The pixels of one part: a flat image file, or one layer of a layered file, from its bytes."""
    if layer:
        return layered.decode_layer(data, name, layer)
    return decode_image(data, name)


def load(found: FoundExample, check) -> LoadedExample:
    data, images, cache = {}, {}, {}
    for role, source in found.parts.items():
        if source.path not in cache:
            cache[source.path] = read_bytes(source)
        data[role] = cache[source.path]
        images[role] = decode_part(data[role], str(source.path), source.layer)
    check(found.name, images, found.parts)
    return LoadedExample(found, data, next(iter(images.values())).size)


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
    loaded = [load(found, kind.check) for found in kind.find_examples(paths, options or {})]
    keys = {id(item): {role: workshop.blobs.put(data) for role, data in item.data.items()} for item in loaded}
    added, present, new_works = [], [], 0
    with workshop.catalog.write() as db:
        for item in loaded:
            parts = {role: (keys[id(item)][role], item.found.parts[role].layer) for role in kind.roles}
            for role, (work, _) in parts.items():
                new_works += store_work(db, workshop.member, work, item.found.parts[role].path, item.data[role])
            if store_example(db, task.name, item, parts):
                added.append(item.found.name)
            else:
                present.append(item.found.name)
    return ImportReport(added, present, new_works)


def store_work(db, owner: str, work: str, path: Path, data: bytes) -> int:
    cursor = db.execute(
        "INSERT INTO works (id, owner, name, size, added_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (work, owner, path.name, len(data), now()),
    )
    return cursor.rowcount


def store_example(db, task: str, item: LoadedExample, parts: dict[str, tuple[str, str]]) -> bool:
    cursor = db.execute(
        "INSERT INTO examples (task, name, fingerprint, width, height, added_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (task, fingerprint) DO NOTHING",
        (task, item.found.name, fingerprint(parts), *item.size, now()),
    )
    if cursor.rowcount == 0:
        return False
    for role, (work, layer) in parts.items():
        db.execute(
            "INSERT INTO example_parts (example, role, work, layer) VALUES (?, ?, ?, ?)",
            (cursor.lastrowid, role, work, layer),
        )
    return True
