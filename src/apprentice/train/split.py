"""Hold out validation data that training never touches: whole examples or animations, else their ends.

With three or more groups (an example, or all examples cut from one animation) a fifth of the groups
(at least one) is held out, chosen by group id so the choice is stable. With fewer, animations hold out
their last frames in time, leaving a gap so no frame is both trained on and scored; stand-alone
examples hold out the last quarter of each along its longer side.
"""

from __future__ import annotations

import numpy as np

Pair = tuple[np.ndarray, np.ndarray]
GAP = 3  # triplets whose middles are 3 frames apart share no frame


def split_examples(
    pairs: list[Pair],
    fingerprints: list[str],
    holdout: float,
    groups: list[str] | None = None,
    positions: list[int] | None = None,
) -> tuple[list[Pair], list[Pair], str, list[str]]:
    """(training pairs, validation pairs, how validation was held out, fingerprints not trained on)."""
    groups = groups or fingerprints
    positions = positions or [0] * len(pairs)
    names = sorted(set(groups))
    if len(names) >= 3:
        count = max(1, round(holdout * len(names)))
        held = {i for i, group in enumerate(groups) if group in set(names[:count])}
        noun = "animation(s)" if any(g != f for g, f in zip(groups, fingerprints, strict=True)) else "example(s)"
        return (
            *pick(pairs, held, held),
            f"{count} held-out {noun} of {len(names)}",
            [fingerprints[i] for i in sorted(held)],
        )
    members = {
        name: sorted((i for i, g in enumerate(groups) if g == name), key=lambda i: positions[i]) for name in names
    }
    if all(len(run) >= 2 * GAP for run in members.values()):
        held, unused = set(), set()
        for run in members.values():
            count = max(1, round(holdout * len(run)))
            first_held = positions[run[-count]]
            held |= set(run[-count:])
            unused |= {i for i in run[:-count] if positions[i] > first_held - GAP}
        training, validation = pick(pairs, held | unused, held)
        return (
            training,
            validation,
            "held-out last frames of each animation",
            [fingerprints[i] for i in sorted(held | unused)],
        )
    cuts = [cut_region(x, y) for x, y in pairs]
    return [c[0] for c in cuts], [c[1] for c in cuts], "held-out last quarter of each example", []


def pick(pairs: list[Pair], not_trained: set[int], held: set[int]) -> tuple[list[Pair], list[Pair]]:
    training = [pair for i, pair in enumerate(pairs) if i not in not_trained]
    return training, [pairs[i] for i in sorted(held)]


def cut_region(x: np.ndarray, y: np.ndarray) -> tuple[Pair, Pair]:
    """Split one pair along its longer side at a multiple of 4: (first three quarters, last quarter)."""
    axis = 1 if x.shape[1] >= x.shape[0] else 0
    length = x.shape[axis]
    at = max(4, int(length * 0.75) // 4 * 4)
    first = [np.take(a, np.arange(at), axis=axis) for a in (x, y)]
    last = [np.take(a, np.arange(at, length), axis=axis) for a in (x, y)]
    return (first[0], first[1]), (last[0], last[1])
