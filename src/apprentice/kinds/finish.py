"""How the artist's finished work looks, judged from a task's afters: a small palette, hard alpha, white paper.

`judge` decides each at training time (the artist may force any of them on or off); `finish` makes a drawing
respect the decisions, the same way for held-out validation and for apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from apprentice.errors import BadInput

ASPECTS = ("palette", "alpha", "paper")  # what the artist may force on or off on a task: `finish` in its config
SETTINGS = ("auto", "on", "off")  # auto: judged from the afters at training time
MAX_COLOURS = 64  # a palette this small or smaller, covering COVERAGE of the afters' pixels, is a palette
COVERAGE = 0.995
PARTIAL_ALPHA = 0.002  # share of the afters' alpha values strictly between 0 and 255 still called binary
PAPER_SHARE = 0.2  # share of the afters' pixels that must be pure white paper
COMMON_TONE = 0.001  # share of pixels a tone needs to count as one the artist uses
FOG_SHARE = 0.005  # share of pixels between paper and the lightest tone the artist uses still called clean
KEEPS_INPUT = 0.9  # share of the befores' opaque pixels in the palette for a step to keep the before's colours
CHUNK = 1 << 14  # pixels snapped at once: bounds memory on large pages


@dataclass(frozen=True)
class Finish:
    """What a finished drawing of this task looks like; stored in the manifest under output.finish.

    An empty palette, False and 0 leave the output continuous, as the network draws it.
    """

    palette: list[list[int]] = field(default_factory=list)  # straight RGBA colours a pixel may take
    keeps_input: bool = False  # a pixel may also keep its input's colour (outlines, shading over sprites)
    alpha: bool = False  # alpha is 0 or 255
    paper: int = 0  # an opaque pixel whose darkest channel is at least this is pure white paper (0: off)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Finish:
        """The finish a manifest records; manifests from before it was judged finish nothing."""
        data = data or {}
        return cls(
            [list(map(int, c)) for c in data.get("palette", [])],
            bool(data.get("keeps_input", False)),
            bool(data.get("alpha", False)),
            int(data.get("paper", 0)),
        )

    def describe(self) -> str:
        """The decisions in the artist's words, for the apprentice's card."""
        parts = [f"palette of {len(self.palette)} colours" if self.palette else "continuous colour"]
        parts.append("hard alpha" if self.alpha else "soft alpha")
        if self.paper:
            parts.append(f"white paper (from {self.paper})")
        return ", ".join(parts)


def settings(task_config: dict) -> dict[str, str]:
    """The artist's choice for each aspect of the finish on a task: auto unless they set one."""
    return {aspect: "auto" for aspect in ASPECTS} | check_settings(task_config.get("finish") or {})


def check_settings(values: dict[str, str]) -> dict[str, str]:
    """The finish settings given, refused with one sentence when an aspect or a setting is unknown."""
    for aspect, value in values.items():
        if aspect not in ASPECTS:
            raise BadInput(f"'{aspect}' is not part of a task's finish; use {', '.join(ASPECTS)}.")
        if value not in SETTINGS:
            raise BadInput(f"'{value}' is not a setting for the {aspect}; use {', '.join(SETTINGS)}.")
    return dict(values)


def judge(examples: Iterable[tuple[np.ndarray, list[np.ndarray]]], chosen: dict[str, str] | None = None) -> Finish:
    """Decide the finish from (after, befores) uint8 straight-RGBA examples and the artist's settings."""
    chosen = {aspect: "auto" for aspect in ASPECTS} | (chosen or {})
    colours, befores, partial, total = Counter(), Counter(), 0, 0
    for after, inputs in examples:
        colours.update(count_colours(after))
        for before in inputs:
            befores.update(count_colours(before))
        partial += int(np.count_nonzero((after[..., 3] > 0) & (after[..., 3] < 255)))
        total += after.shape[0] * after.shape[1]
    if not total:
        return Finish()
    alpha = decide(chosen["alpha"], partial <= PARTIAL_ALPHA * total)
    palette = palette_of(colours, total, chosen["palette"])
    return Finish(palette, keeps_colours(befores, palette), alpha, paper_line(colours, total, chosen["paper"]))


def decide(setting: str, judged: bool) -> bool:
    return judged if setting == "auto" else setting == "on"


def count_colours(rgba: np.ndarray) -> Counter:
    """Pixels per straight-RGBA colour, every fully transparent pixel counted as (0, 0, 0, 0)."""
    flat = rgba.reshape(-1, 4)
    packed = flat.astype(np.uint32) @ np.array([1 << 24, 1 << 16, 1 << 8, 1], dtype=np.uint32)
    packed[flat[:, 3] == 0] = 0
    values, counts = np.unique(packed, return_counts=True)
    return Counter(dict(zip(values.tolist(), counts.tolist(), strict=True)))


def unpack(colour: int) -> list[int]:
    return [(colour >> 24) & 255, (colour >> 16) & 255, (colour >> 8) & 255, colour & 255]


def palette_of(colours: Counter, total: int, setting: str) -> list[list[int]]:
    """The artist's palette: the fewest most-used colours covering COVERAGE of the pixels, when MAX_COLOURS do."""
    if setting == "off":
        return []
    common, covered = [], 0
    for colour, count in colours.most_common():
        if covered >= COVERAGE * total or len(common) == MAX_COLOURS:
            break
        common.append(unpack(colour))
        covered += count
    if setting == "auto" and covered < COVERAGE * total:
        return []
    return common


def keeps_colours(befores: Counter, palette: list[list[int]]) -> bool:
    """Whether the befores' opaque colours are mostly the palette's: the step keeps the colours it is given."""
    known = {(r << 24) | (g << 16) | (b << 8) | a for r, g, b, a in palette}
    opaque = {colour: count for colour, count in befores.items() if colour & 255}
    total = sum(opaque.values())
    return bool(palette) and total > 0 and sum(c for k, c in opaque.items() if k in known) >= KEEPS_INPUT * total


def paper_line(colours: Counter, total: int, setting: str) -> int:
    """The darkest channel value from which an opaque pixel is paper, when the afters' paper is clean white."""
    if setting == "off":
        return 0
    white = colours.get(0xFFFFFFFF, 0)
    tones = [min(unpack(c)[:3]) for c, n in colours.items() if n >= COMMON_TONE * total and c & 255 == 255]
    lightest = max([tone for tone in tones if tone < 255], default=128)
    line = (lightest + 256) // 2
    fog = sum(n for c, n in colours.items() if c & 255 == 255 and line <= min(unpack(c)[:3]) < 255)
    if setting == "on" or (white >= PAPER_SHARE * total and fog <= FOG_SHARE * total):
        return line
    return 0


def finish(made: np.ndarray, inputs: list[np.ndarray], how: Finish) -> np.ndarray:
    """The drawing `made` (uint8 H×W×4 straight RGBA) finished as the artist finishes: hard alpha, white paper,
    each pixel one of the palette's colours (or its input's, where the step keeps them)."""
    out = made.copy()
    if how.alpha:
        out[..., 3] = np.where(out[..., 3] >= 128, 255, 0)
    if how.alpha or how.palette:
        out[out[..., 3] == 0] = 0
    if how.paper:
        out[(out[..., 3] == 255) & (out[..., :3].min(axis=-1) >= how.paper)] = 255
    if how.palette:
        keep = [transparent_as_zero(image.reshape(-1, 4)) for image in inputs] if how.keeps_input else []
        flat = out.reshape(-1, 4)
        for start in range(0, flat.shape[0], CHUNK):
            part = slice(start, start + CHUNK)
            flat[part] = nearest(flat[part], np.asarray(how.palette, dtype=np.uint8), [k[part] for k in keep])
    return out


def transparent_as_zero(pixels: np.ndarray) -> np.ndarray:
    return np.where(pixels[:, 3:] == 0, 0, pixels).astype(np.uint8)


def premultiplied(rgba: np.ndarray) -> np.ndarray:
    values = rgba.astype(np.float32) / 255.0
    return np.concatenate([values[..., :3] * values[..., 3:], values[..., 3:]], axis=-1)


def nearest(pixels: np.ndarray, palette: np.ndarray, keep: list[np.ndarray]) -> np.ndarray:
    """Each N×4 straight-RGBA pixel replaced by the closest, in premultiplied RGBA, of the palette's colours and
    of its own input colours in `keep`."""
    seen = premultiplied(pixels)
    choices = np.broadcast_to(palette, (pixels.shape[0], *palette.shape))
    if keep:
        choices = np.concatenate([choices, np.stack(keep, axis=1)], axis=1)
    distance = ((premultiplied(choices) - seen[:, None, :]) ** 2).sum(axis=-1)
    return choices[np.arange(pixels.shape[0]), distance.argmin(axis=1)]
