"""Hold out validation data that training never touches: whole examples or animations, else their ends.

With three or more groups (an example, or all examples cut from one animation) a fifth of the groups
(at least one) is held out, chosen by group id so the choice is stable. With fewer, animations hold out
their last frames in time, leaving a gap so no frame is both trained on and scored; stand-alone
examples hold out the last quarter of each along its longer side. A large held-out set is scored on
crops where the step changes the picture, so a validation costs seconds, not minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apprentice.train.sampler import changed_pixels

Pair = tuple[np.ndarray, np.ndarray]
GAP = 3  # triplets whose middles are 3 frames apart share no frame
VALIDATION_PIXELS = 2**21  # held-out pixels scored at each validation; beyond, examples are scored on crops
SMALLEST_CROP = 128
HOLDOUT = 0.2  # share of whole examples or animations held out


@dataclass(frozen=True)
class Split:
    """Which examples train and which are scored, by index, and how validation was held out."""

    training: list[int]
    validation: list[int]
    how: str
    not_trained: list[str]  # fingerprints of the examples no step learns from


def split_indices(
    fingerprints: list[str], holdout: float, groups: list[str] | None = None, positions: list[int] | None = None
) -> Split | None:
    """Hold out whole groups, else the last frames of each animation; None when only a region cut will do."""
    groups = groups or fingerprints
    positions = positions or [0] * len(fingerprints)
    names = sorted(set(groups))
    everything = range(len(fingerprints))
    if len(names) >= 3:
        count = max(1, round(holdout * len(names)))
        chosen = set(names[:count])
        held = [i for i in everything if groups[i] in chosen]
        noun = "animation(s)" if any(g != f for g, f in zip(groups, fingerprints, strict=True)) else "example(s)"
        training = [i for i in everything if groups[i] not in chosen]
        return Split(training, held, f"{count} held-out {noun} of {len(names)}", [fingerprints[i] for i in held])
    members = {name: sorted((i for i in everything if groups[i] == name), key=lambda i: positions[i]) for name in names}
    if not all(len(run) >= 2 * GAP for run in members.values()):
        return None
    held, unused = set(), set()
    for run in members.values():
        count = max(1, round(holdout * len(run)))
        first_held = positions[run[-count]]
        held |= set(run[-count:])
        unused |= {i for i in run[:-count] if positions[i] > first_held - GAP}
    return Split(
        [i for i in everything if i not in held | unused],
        sorted(held),
        "held-out last frames of each animation",
        [fingerprints[i] for i in sorted(held | unused)],
    )


@dataclass(frozen=True)
class HeldOut:
    """Whole examples chosen for holding out beyond one workshop's, and among how many."""

    fingerprints: tuple[str, ...]
    among: int


def held_out_among(fingerprints: list[str], holdout: float = HOLDOUT) -> HeldOut | None:
    """The examples `split_indices` holds out of stand-alone `fingerprints` (None below three, where it cuts)."""
    names = sorted(set(fingerprints))
    split = split_indices(names, holdout) if len(names) >= 3 else None
    return None if split is None else HeldOut(tuple(split.not_trained), len(names))


def held_as_chosen(fingerprints: list[str], chosen: set[str], among: int) -> Split:
    """Hold out the examples a caller chose among `among` examples beyond these (a guild's federated run holds out
    across every contributor's examples, as pooled training would, each node scoring its own share)."""
    held = [i for i, fingerprint in enumerate(fingerprints) if fingerprint in chosen]
    training = [i for i in range(len(fingerprints)) if i not in set(held)]
    how = f"{len(chosen)} held-out example(s) of {among} across the contributors, {len(held)} of them here"
    return Split(training, held, how, [fingerprints[i] for i in held])


def cut_regions(pairs: list[Pair]) -> tuple[list[Pair], list[Pair], str]:
    """(the first three quarters of each pair, the last quarters, how validation was held out)."""
    cuts = [cut_region(x, y) for x, y in pairs]
    return [c[0] for c in cuts], [c[1] for c in cuts], "held-out last quarter of each example"


def cut_region(x: np.ndarray, y: np.ndarray) -> tuple[Pair, Pair]:
    """Split one pair along its longer side at a multiple of 4: (first three quarters, last quarter)."""
    axis = 1 if x.shape[1] >= x.shape[0] else 0
    length = x.shape[axis]
    at = max(4, int(length * 0.75) // 4 * 4)
    first = [np.take(a, np.arange(at), axis=axis) for a in (x, y)]
    last = [np.take(a, np.arange(at, length), axis=axis) for a in (x, y)]
    return (first[0], first[1]), (last[0], last[1])


def validation_crops(areas: list[int], budget: int | None = None) -> tuple[int | None, int]:
    """(crop side or None for whole examples, how many held-out examples to score) within `budget` pixels."""
    budget = budget or VALIDATION_PIXELS
    if sum(areas) <= budget:
        return None, len(areas)
    side = max(SMALLEST_CROP, math.isqrt(budget // len(areas)) // 4 * 4)
    return side, min(len(areas), max(1, budget // (side * side)))


def held_out_crops(examples: Sequence[Pair], indices: list[int], side: int) -> list[Pair]:
    """The held-out examples' crops, copied into one block made before the second is decoded.

    Small crops kept between the large freed buffers of each decode would pin those buffers in the C
    heap (RSS grew by about one decoded example per held-out example); one block made early avoids that.
    """
    block, crops = None, []
    for number, index in enumerate(indices):
        x, y = crop_where_changed(*examples[index], side)
        if block is None:
            block = np.zeros((len(indices), side, side, x.shape[-1] + y.shape[-1]), np.float32)
        height, width, split = *x.shape[:2], x.shape[-1]
        kept = block[number, :height, :width]
        kept[..., :split], kept[..., split:] = x, y
        crops.append((kept[..., :split], kept[..., split:]))
    return crops


def crop_where_changed(x: np.ndarray, y: np.ndarray, side: int) -> Pair:
    """A side×side window (a view) of the pair centred on the median of the pixels the step changes."""
    changes = changed_pixels(np.concatenate([x, y], axis=-1), x.shape[-1])
    height, width = x.shape[:2]
    cy, cx = np.median(changes, axis=0).astype(int) if len(changes) else (height // 2, width // 2)
    top = int(np.clip(cy - side // 2, 0, max(0, height - side)))
    left = int(np.clip(cx - side // 2, 0, max(0, width - side)))
    window = (slice(top, top + side), slice(left, left + side))
    return x[window], y[window]
