"""Gather a task's examples for training, checking consent from the catalog at that moment.

Never from a cached list: an example any of whose works is withdrawn is not returned. Examples are
decoded from the store only when the loop asks for one, so a large set never sits in memory at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from apprentice.formats.images import is_gray, reading, rgba
from apprentice.formats.parts import decode_part
from apprentice.kinds import Kind
from apprentice.kinds.finish import Finish, judge
from apprentice.provenance import consent
from apprentice.store.examples import ExampleRecord, example_records
from apprentice.store.workshop import Workshop

JUDGED = 64  # examples the finish is judged from, at most


def gather(workshop: Workshop, task: str) -> list[ExampleRecord]:
    """The task's examples whose works all consent, now, to teaching it (see `consent.may_train`)."""
    guild = workshop.task(task).config.get("guild", "")
    return [r for r in example_records(workshop.catalog, task) if consent.example_may_train(r, workshop.member, guild)]


def load_images(workshop: Workshop, record: ExampleRecord) -> dict[str, Image.Image]:
    """Decode an example's parts from the blob store."""
    return {
        role: decode_part(workshop.blobs.get(part.work), part.name, part.layer) for role, part in record.parts.items()
    }


class Decoded(Sequence):
    """A task's examples as (input, target) arrays, each decoded from the store only when asked for.

    An example cut from a sequence also gets the parts the kind reads around it (`Kind.neighbours`) from the
    examples beside it in that sequence, when those are among `records` (so a withdrawn work lends no context) and
    on the same side of the split (`keep_apart`), so no held-out frame reaches training through context.
    """

    def __init__(self, workshop: Workshop, kind: Kind, records: list[ExampleRecord]) -> None:
        self.workshop, self.kind, self.records = workshop, kind, records
        self.sides = [0] * len(records)
        self.placed = {(r.sequence, r.position): i for i, r in enumerate(records) if r.sequence}

    def keep_apart(self, *sides: list[int]) -> None:
        """Lend context only between examples of one of these lists of indices (training, held out); examples in
        none of them lend and get none."""
        self.sides = [-1] * len(self.records)
        for number, indices in enumerate(sides):
            for index in indices:
                self.sides[index] = number

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        record = self.records[index]
        images = load_images(self.workshop, record)
        for role, (offset, theirs) in self.kind.neighbours.items():
            beside = self.placed.get((record.sequence, record.position + offset), -1) if record.sequence else -1
            if beside >= 0 and self.sides[beside] == self.sides[index] >= 0:
                part = self.records[beside].parts[theirs]
                images[role] = decode_part(self.workshop.blobs.get(part.work), part.name, part.layer)
        return self.kind.arrays(images)


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


def judged_finish(workshop: Workshop, records: list[ExampleRecord], kind: Kind, chosen: dict[str, str]) -> Finish:
    """How the examples' targets are finished (palette, alpha, paper), judged from the examples trained on (at most
    JUDGED of them, spread evenly, so a large set does not hold up the start of training)."""
    inputs = [role for role in kind.roles if role != kind.target]
    step = max(1, -(-len(records) // JUDGED))

    def examples():
        for record in records[::step]:
            images = load_images(workshop, record)
            yield rgba(images[kind.target]), [rgba(images[role]) for role in inputs]

    return judge(examples(), chosen)
