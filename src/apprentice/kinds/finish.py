"""How the artist's finished work looks, judged from a task's afters: a small palette, hard alpha, white paper.

`judge` decides each at training time (the artist may force any of them on or off); `finish` makes a drawing
respect the decisions, the same way for held-out validation and for apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from apprentice.errors import BadInput

ASPECTS = ("palette", "alpha", "paper")  # what the artist may force on or off on a task: `finish` in its config
SETTINGS = ("auto", "on", "off")  # auto: judged from the afters at training time
MAX_COLOURS = 64  # a palette this small or smaller, covering COVERAGE of the afters' pixels, is a palette
COVERAGE = 0.995
PARTIAL_ALPHA = 0.002  # share of the afters' alpha values strictly between 0 and 255 still called binary
PAPER_SHARE = 0.2  # share of the afters' pixels that must be pure white paper
COMMON_TONE = 0.001  # share of pixels a tone needs to count as one the artist uses
FOG_SHARE = 0.005  # share of pixels between paper and the lightest tone the artist uses still called clean
INPUT_COLOURS = 256  # the most an input's own colours a pixel may keep
KEEPS_INPUT = 0.9  # share of the befores' opaque colours in the palette for a step to keep the before's colours
SURE = 0.9  # the share of its scores from which the network's pick beats snapping its drawing (the demo's ink)
CHUNK = 1 << 16  # pixels snapped at once: bounds memory on large pages


@dataclass(frozen=True)
class Finish:
    """What a finished drawing of this task looks like; stored in the manifest under output.finish.

    An empty palette, False and 0 leave the output continuous, as the network draws it.
    """

    palette: list[list[int]] = field(default_factory=list)  # straight RGBA colours a pixel may take
    keeps_input: bool = False  # a pixel may also keep its input's colour (outlines, shading over sprites)
    alpha: bool = False  # alpha is 0 or 255
    opaque: bool = False  # every after is opaque, so every output is: composited over white paper, no holes
    paper: int = 0  # an opaque pixel whose darkest channel is at least this is pure white paper (0: off)
    note: str = ""  # why a judged palette was not kept (earlier versions' validation could drop one)
    picks: bool = False  # the network picks each pixel's colour (its input's or the palette's) instead of a snap
    sure: float = 0.0  # … where its pick has at least this share of the scores; elsewhere its drawing is snapped

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> Finish:
        """The finish a manifest records; manifests from before it was judged finish nothing. A manifest may come
        from another member: a palette longer than any judged one is cut, and every channel kept within 0–255."""
        data = data or {}
        colours = [[min(255, max(0, int(v))) for v in colour][:4] for colour in data.get("palette", [])[:MAX_COLOURS]]
        return cls(
            [colour for colour in colours if len(colour) == 4],
            bool(data.get("keeps_input", False)),
            bool(data.get("alpha", False)),
            bool(data.get("opaque", False)),
            min(255, max(0, int(data.get("paper", 0)))),
            str(data.get("note", "")),
            bool(data.get("picks", False)) and bool(colours),
            min(1.0, max(0.0, float(data.get("sure", 0.0)))),
        )

    def describe(self) -> str:
        """The decisions in the artist's words, for the apprentice's card."""
        parts = [f"palette of {len(self.palette)} colours" if self.palette else "continuous colour"]
        if self.picks:
            parts[0] += " picked by the network"
            parts[0] += f" where it is {self.sure:.0%} sure, else snapped" if self.sure else ""
        if self.note:
            parts[0] += f" ({self.note})"
        parts.append("opaque" if self.opaque else "hard alpha" if self.alpha else "soft alpha")
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


@dataclass
class Tally:
    """What the afters hold, counted over every example: colours, colours no input of theirs has, soft alpha."""

    colours: Counter = field(default_factory=Counter)  # after pixels per colour
    fresh: Counter = field(default_factory=Counter)  # after pixels per colour that the example's inputs lack
    befores: Counter = field(default_factory=Counter)  # input pixels per colour
    partial: int = 0  # alpha values strictly between 0 and 255
    see_through: int = 0  # alpha values below 255
    total: int = 0

    def add(self, after: np.ndarray, inputs: list[np.ndarray]) -> None:
        counted, given = count_colours(after), Counter()
        for before in inputs:
            given.update(count_colours(before))
        self.colours.update(counted)
        self.befores.update(given)
        self.fresh.update({colour: n for colour, n in counted.items() if colour not in given})
        self.partial += int(np.count_nonzero((after[..., 3] > 0) & (after[..., 3] < 255)))
        self.see_through += int(np.count_nonzero(after[..., 3] < 255))
        self.total += after.shape[0] * after.shape[1]


def judge(examples: Iterable[tuple[np.ndarray, list[np.ndarray]]], chosen: dict[str, str] | None = None) -> Finish:
    """Decide the finish from (after, inputs) uint8 straight-RGBA examples and the artist's settings."""
    chosen = {aspect: "auto" for aspect in ASPECTS} | (chosen or {})
    tally = Tally()
    for after, inputs in examples:
        tally.add(after, inputs)
    if not tally.total:
        return Finish()
    alpha = decide(chosen["alpha"], tally.partial <= PARTIAL_ALPHA * tally.total)
    opaque = alpha and tally.see_through == 0
    paper = paper_line(tally.colours, tally.total, chosen["paper"])
    palette = palette_of(tally.colours, tally.total, chosen["palette"])
    if palette or chosen["palette"] == "off":
        return Finish(palette, keeps_colours(tally.befores, palette), alpha, opaque, paper)
    added = added_colours(tally)  # pixel art whose step keeps each sprite's own colours and adds a few
    if added:
        return Finish(added, True, alpha, opaque, paper)
    return Finish([], False, alpha, opaque, paper)


def added_colours(tally: Tally) -> list[list[int]]:
    """The few colours the step adds to its inputs' own, when those and the inputs' cover the afters."""
    kept = tally.total - sum(tally.fresh.values())
    added = [unpack(colour) for colour, _ in tally.fresh.most_common(MAX_COLOURS)]
    covered = kept + sum(n for _, n in tally.fresh.most_common(MAX_COLOURS))
    if covered < COVERAGE * tally.total:
        return []
    return added or [unpack(tally.colours.most_common(1)[0][0])]


def candidates(judged: Finish, can_pick: bool = False) -> list[Finish]:
    """The finishes held-out validation tries: the judged one with its palette picked by the network (when it
    `can_pick`), then picked only where the network is SURE and snapped elsewhere, then snapped. What the afters show
    always stays (the artist may turn any aspect off on the task); validation only chooses how colours are picked."""
    if not (can_pick and judged.palette):
        return [judged]
    return [replace(judged, picks=True), replace(judged, picks=True, sure=SURE), judged]


def kept(scores: list[dict[str, float]]) -> int:
    """Which of the candidates' held-out scores to keep: the network's picking only where it scores no worse, in
    PSNR and SSIM, than the snap (in general, walking from the last candidate to the first)."""
    chosen = len(scores) - 1
    for index in range(len(scores) - 2, -1, -1):
        if all(scores[index][name] >= scores[chosen][name] for name in ("psnr", "ssim")):
            chosen = index
    return chosen


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
    """Whether the befores' opaque colours are mostly the palette's, counted colour by colour (not pixel by pixel,
    so that white paper cannot outvote the greys of a sketch): the step keeps the colours it is given."""
    known = {(r << 24) | (g << 16) | (b << 8) | a for r, g, b, a in palette}
    opaque = [colour for colour in befores if colour & 255]
    return bool(palette) and bool(opaque) and sum(colour in known for colour in opaque) >= KEEPS_INPUT * len(opaque)


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
    each pixel one of the palette's colours (or its input's, where the step keeps them). Each pixel is finished on
    its own, CHUNK pixels at a time, so a large page needs no page-sized temporaries."""
    out = made.copy()
    choices = None
    if how.palette:
        choices = np.asarray(how.palette, dtype=np.uint8)
        if how.keeps_input:
            choices = np.concatenate([choices, *(input_colours(image) for image in inputs)])
    flat = out.reshape(-1, 4)
    for start in range(0, flat.shape[0], CHUNK):
        finish_pixels(flat[start : start + CHUNK], how, choices)
    return out


def finish_pixels(pixels: np.ndarray, how: Finish, choices: np.ndarray | None) -> None:
    """Finish N×4 straight-RGBA pixels in place (see `finish`); `choices`: the palette with the input's colours."""
    if how.opaque:  # what shows through a see-through pixel is the paper
        see = np.flatnonzero(pixels[:, 3] < 255)  # most pixels of an opaque drawing are opaque already
        alpha = pixels[see, 3:].astype(np.float32) / 255.0
        pixels[see, :3] = np.round(pixels[see, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
        pixels[see, 3] = 255
    elif how.alpha:
        pixels[:, 3] = np.where(pixels[:, 3] >= 128, 255, 0)
    if how.alpha or how.palette:
        pixels[np.flatnonzero(pixels[:, 3] == 0)] = 0
    keys = pixels.view(np.uint32).reshape(-1)  # one integer per pixel, for whole-pixel writes and matches
    if how.paper:  # (the darkest channel, taken pairwise: a reduction over an axis of 3 is several times slower)
        darkest = np.minimum(np.minimum(pixels[:, 0], pixels[:, 1]), pixels[:, 2])
        paper = (pixels[:, 3] == 255) & (darkest >= how.paper)
        keys |= np.uint32(0) - paper.astype(np.uint32)  # all ones (opaque white) on paper: 5× faster than row writes
    if choices is not None:
        known = choices.view(np.uint32).reshape(-1)
        off = np.ones(len(keys), dtype=bool)
        for key in known:  # a pixel already one of the choices (paper, mostly) needs no search
            off &= keys != key
        rest = np.flatnonzero(off)
        pixels[rest] = nearest(pixels[rest], choices)


def input_colours(rgba: np.ndarray) -> np.ndarray:
    """The input's own colours a pixel may keep: its INPUT_COLOURS most used, as K×4 straight RGBA."""
    counted = count_colours(rgba).most_common(INPUT_COLOURS)
    return np.asarray([unpack(colour) for colour, _ in counted], dtype=np.uint8).reshape(-1, 4)


def nearest(pixels: np.ndarray, choices: np.ndarray) -> np.ndarray:
    """Each N×4 straight-RGBA pixel replaced by the closest of the K×4 choices, in premultiplied RGBA."""
    seen = torch.from_numpy(pixels).float().div_(255.0)
    options = torch.from_numpy(choices).float().div_(255.0)
    seen[:, :3] *= seen[:, 3:]
    options[:, :3] *= options[:, 3:]
    return choices[torch.cdist(seen, options).argmin(dim=1).numpy()]
