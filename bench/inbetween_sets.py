"""The in-betweening benches' data and scores: the cartoons and real sprite sets split by character, their held-out
triplets, and the summaries every in-between bench prints. Light on purpose: numpy, PIL and the scores alone.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np

from apprentice.demo.cartoons import animation_set

from inbetween_baselines import line_chamfer, lines_found, psnr_ssim
from sprites import supertux_sequences, wesnoth_sequences, wesnoth_unit

Sequences = dict[str, list[np.ndarray]]
Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]
Around = tuple[np.ndarray | None, np.ndarray | None]  # the keys before and after a triplet's keys, where drawn
Maker = Callable[[np.ndarray, np.ndarray, Around], np.ndarray]
Scores = tuple[dict[str, float], dict[str, float]]  # over every held-out triplet, and over those of motion alone

# Words in a sequence's name (SuperTux's and Wesnoth's own) that mark an effect, not a motion: the middle drawing is a
# stage of fire, melting, fading or a flash that neither key shows, so no in-between of the two can foresee it.
EFFECTS = frozenset({
    "burning", "melting", "gmelting", "exploding", "vanishing", "warping",
    "fire", "die", "dying", "death", "decay", "heal", "teleport",
})  # fmt: skip


def synthetic(_: Path) -> tuple[Sequences, Sequences]:
    """The demo's generated cartoons: 16 training sequences, 6 unseen ones from other seeds."""
    train_set = {f"seq{i:02d}": [np.asarray(f) for f in s] for i, s in enumerate(animation_set(16, seed=1))}
    unseen = {f"new{i:02d}": [np.asarray(f) for f in s] for i, s in enumerate(animation_set(6, seed=2))}
    return train_set, unseen


def supertux(cache: Path) -> tuple[Sequences, Sequences]:
    """SuperTux's sprite animations, split by creature: every fourth creature's sequences are unseen."""
    sequences = supertux_sequences(cache)
    creatures = sorted({name.split("/")[0] for name in sequences})
    unseen_creatures = set(creatures[3::4])
    train_set = {k: v for k, v in sequences.items() if k.split("/")[0] not in unseen_creatures}
    unseen = {k: v for k, v in sequences.items() if k.split("/")[0] in unseen_creatures}
    return train_set, unseen


def wesnoth(cache: Path) -> tuple[Sequences, Sequences]:
    """Wesnoth's unit animations, split by unit (variants together): every fourth unit's sequences are unseen."""
    sequences = wesnoth_sequences(cache)
    units = sorted({wesnoth_unit(name) for name in sequences})
    unseen_units = set(units[3::4])
    train_set = {k: v for k, v in sequences.items() if wesnoth_unit(k) not in unseen_units}
    unseen = {k: v for k, v in sequences.items() if wesnoth_unit(k) in unseen_units}
    return train_set, unseen


DATA: dict[str, Callable[[Path], tuple[Sequences, Sequences]]] = {
    "synthetic": synthetic,
    "supertux": supertux,
    "wesnoth": wesnoth,
}


def drawings(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Holds collapsed, as the importer does: a drawing exposed for several frames counts once."""
    kept = [frames[0]]
    for frame in frames[1:]:
        if not np.array_equal(frame, kept[-1]):
            kept.append(frame)
    return kept


def held_out_triplets(unseen: Sequences) -> list[tuple[Triplet, Around, bool]]:
    """Each middle drawing with its two neighbours, the drawings three before and after it (the keys around its
    keys when every other drawing is a key), as the app's examples are cut, and whether its sequence is motion."""
    found = []
    for name, frames in unseen.items():
        kept = drawings(frames)
        for i in range(1, len(kept) - 1):
            found.append(((kept[i - 1], kept[i], kept[i + 1]), around_of(kept, i), is_motion(name)))
    return found


def is_motion(name: str) -> bool:
    """Whether a sequence is motion rather than an effect, by the words of its name (`EFFECTS`)."""
    return not EFFECTS.intersection(re.split(r"[-+_ ]", name.split("/")[-1].lower()))


def around_of(kept: list[np.ndarray], i: int) -> Around:
    """The drawings three before and after drawing i, where the sequence has them."""
    return kept[i - 3] if i >= 3 else None, kept[i + 3] if i + 3 < len(kept) else None


def scores(make: Maker, triplets: list[tuple[Triplet, Around, bool]]) -> Scores:
    drawn = [(make(first, last, around), middle, motion) for (first, middle, last), around, motion in triplets]
    return split(drawn)


def split(drawn: list[tuple[np.ndarray, np.ndarray, bool]]) -> Scores:
    """The summaries of (made, true, motion) middles: over all of them, and over those of motion."""
    return summary([(made, true) for made, true, _ in drawn]), summary([(m, t) for m, t, motion in drawn if motion])


def summary(drawn: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The scores of (made, true) middles."""
    rows = []
    for made, middle in drawn:
        psnr, ssim = psnr_ssim(made, middle)
        found = lines_found(made, middle)
        rows.append((min(psnr, 60.0), ssim, line_chamfer(made, middle), found))  # identical frames: cap at 60 dB
    psnrs, ssims, chamfers, founds = zip(*rows, strict=True)
    return {
        "psnr": float(np.mean(psnrs)),
        "median_psnr": statistics.median(psnrs),
        "ssim": float(np.mean(ssims)),
        "chamfer": float(np.mean(chamfers)),
        "median_chamfer": statistics.median(chamfers),  # the mean is ruled by frames whose lines all faded
        "found": float(np.mean(founds)),
    }
