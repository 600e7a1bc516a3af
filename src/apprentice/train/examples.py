"""Gather a task's examples for training, checking consent from the catalog at that moment.

Never from a cached list: an example any of whose works is withdrawn is not returned. Examples are
decoded from the store only when the loop asks for one, so a large set never sits in memory at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from apprentice.formats.images import is_gray, reading
from apprentice.imports import decode_part
from apprentice.kinds import Kind
from apprentice.store.workshop import Workshop


@dataclass(frozen=True)
class Part:
    work: str
    layer: str
    owner: str
    name: str
    consent: str


@dataclass(frozen=True)
class ExampleRecord:
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


def gather(workshop: Workshop, task: str) -> list[ExampleRecord]:
    """The task's examples whose works all consent to this training: none withdrawn, and every other member's
    work lent to the guild whose shared apprentice this task trains (a task of one's own takes only one's own)."""
    guild = workshop.task(task).config.get("guild", "")
    lent = f"guild:{guild}" if guild else ""
    rows = workshop.catalog.rows(
        "SELECT e.id, e.name, e.fingerprint, e.width, e.height, e.sequence, e.position, "
        "p.role, p.work, p.layer, w.owner, w.name AS file, w.consent "
        "FROM examples e JOIN example_parts p ON p.example = e.id JOIN works w ON w.id = p.work "
        "WHERE e.task = ? AND NOT EXISTS (SELECT 1 FROM example_parts q JOIN works v ON v.id = q.work "
        "WHERE q.example = e.id AND (v.consent = 'withdrawn' OR (v.owner != ? AND v.consent != ?))) "
        "ORDER BY e.id, p.role",
        (task, workshop.member, lent),
    )
    records: dict[int, ExampleRecord] = {}
    for row in rows:
        record = records.setdefault(
            row["id"],
            ExampleRecord(
                row["id"],
                row["name"],
                row["fingerprint"],
                row["width"],
                row["height"],
                {},
                row["sequence"],
                row["position"],
            ),
        )
        record.parts[row["role"]] = Part(row["work"], row["layer"], row["owner"], row["file"], row["consent"])
    return list(records.values())


def load_images(workshop: Workshop, record: ExampleRecord) -> dict[str, Image.Image]:
    """Decode an example's parts from the blob store."""
    return {
        role: decode_part(workshop.blobs.get(part.work), part.name, part.layer) for role, part in record.parts.items()
    }


class Decoded(Sequence):
    """A task's examples as (input, target) arrays, each decoded from the store only when asked for."""

    def __init__(self, workshop: Workshop, kind: Kind, records: list[ExampleRecord]) -> None:
        self.workshop, self.kind, self.records = workshop, kind, records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        return self.kind.arrays(load_images(self.workshop, self.records[index]))


class Subset(Sequence):
    """Some of a sequence's items, in the given order, still decoded only when asked for."""

    def __init__(self, items: Sequence, indices: list[int]) -> None:
        self.items, self.indices = items, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):  # type: ignore[override]
        return self.items[self.indices[index]]


def target_is_gray(workshop: Workshop, records: list[ExampleRecord], role: str) -> bool:
    """Whether every example's target is stored grayscale; flat files are judged from their header alone."""
    for record in records:
        part = record.parts[role]
        data = workshop.blobs.get(part.work)
        if part.layer:
            image = decode_part(data, part.name, part.layer)
        else:
            with reading(part.name):
                image = Image.open(io.BytesIO(data))
        if not is_gray(image):
            return False
    return True
