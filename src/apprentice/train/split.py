"""Hold out validation data that training never touches: whole pairs, or regions when there are few.

With three or more examples a fifth of them (at least one) is held out, chosen by fingerprint so the
choice is stable; with one or two, the last quarter of each along its longer side is held out instead.
"""

from __future__ import annotations

import numpy as np

Pair = tuple[np.ndarray, np.ndarray]


def split_examples(
    pairs: list[Pair], fingerprints: list[str], holdout: float
) -> tuple[list[Pair], list[Pair], str, list[str]]:
    """(training pairs, validation pairs, how validation was held out, fingerprints of held-out examples)."""
    if len(pairs) >= 3:
        count = max(1, round(holdout * len(pairs)))
        order = sorted(range(len(pairs)), key=lambda i: fingerprints[i])
        held = set(order[:count])
        train = [pair for i, pair in enumerate(pairs) if i not in held]
        held_out = [fingerprints[i] for i in sorted(held)]
        return train, [pairs[i] for i in sorted(held)], f"{count} held-out example(s) of {len(pairs)}", held_out
    cuts = [cut_region(x, y) for x, y in pairs]
    return [c[0] for c in cuts], [c[1] for c in cuts], "held-out last quarter of each example", []


def cut_region(x: np.ndarray, y: np.ndarray) -> tuple[Pair, Pair]:
    """Split one pair along its longer side at a multiple of 4: (first three quarters, last quarter)."""
    axis = 1 if x.shape[1] >= x.shape[0] else 0
    length = x.shape[axis]
    at = max(4, int(length * 0.75) // 4 * 4)
    first = [np.take(a, np.arange(at), axis=axis) for a in (x, y)]
    last = [np.take(a, np.arange(at, length), axis=axis) for a in (x, y)]
    return (first[0], first[1]), (last[0], last[1])
