"""Three paired before → after tasks made by code from a seed (sketch cleanup, flat colours, regular → bold type).

Also the classical baselines to beat on them: the identity, and a morphological filter tuned on the training pairs.
"""

from __future__ import annotations

import itertools
import shutil
import string
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from apprentice.demo.sketches import cleanup_set

from sprites import run

Pair = tuple[Image.Image, Image.Image]  # (before, after)

SUPERSAMPLE = 4  # flats are drawn this many times larger, then box-filtered down: antialiased edges
INK_WIDTH = 2.5  # px, the flats' outlines
# Fill colour of a region by how many shapes enclose it: 0 is the bare paper, 4 or more share the last colour.
PALETTE = np.array([[255, 255, 255], [244, 196, 150], [136, 178, 226], [152, 206, 134], [226, 142, 172]]) / 255
FONT_FOLDER = Path("/usr/share/fonts/truetype/dejavu")
FONT_FACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
CACHE = Path.home() / ".cache" / "apprentice-bench"  # where the fonts are unpacked when the system lacks them
FONT_NOTE = (
    "Glyphs are set in DejaVu Sans 2.37 (Debian fonts-dejavu-core): Bitstream Vera Fonts licence (free, "
    "permissive; Copyright (c) 2003 Bitstream, Inc.), DejaVu changes in the public domain."
)
LETTERS = string.ascii_lowercase * 4 + string.ascii_uppercase + string.digits  # mostly lower case, as in text
TASKS = ("cleanup", "flats", "glyphs")


def task_pairs(name: str, count: int, seed: int, size: tuple[int, int] = (256, 256)) -> list[Pair]:
    """`count` different (before, after) RGB pairs of the task `name`, the same list for the same seed."""
    if name == "cleanup":
        return cleanup_set(count, seed, size)
    makers = {"flats": flats_pair, "glyphs": glyphs_pair}
    if name not in makers:
        raise ValueError(f"Unknown task '{name}'; choose one of {', '.join(TASKS)}.")
    seeds = np.random.default_rng(seed).integers(0, 2**31, size=count)
    return [makers[name](int(s), size) for s in seeds]


# Flats: line art of closed shapes → the same lines over flat fills.


def flats_pair(seed: int, size: tuple[int, int]) -> Pair:
    """Black outlines of 3–6 overlapping closed shapes on white → the same outlines over flat colour fills.

    Every region the outlines enclose is filled with PALETTE[k], k the number of shapes that contain it (1:
    tan, 2: blue, 3: green, 4+: pink), so two regions that share a line always differ in colour; the paper
    around the shapes stays white and the lines stay black on top. The rule is learnable from the lines near a
    pixel (which side of each curve it lies on); the widest interiors are about 45 px from their nearest line.
    """
    rng = np.random.default_rng(seed)
    outlines = [_shape(rng, size) for _ in range(rng.integers(3, 7))]
    big = (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE)
    depth = np.zeros((big[1], big[0]), dtype=np.int64)
    lines = Image.new("L", big, 0)
    for points in outlines:
        inside = Image.new("L", big, 0)
        ImageDraw.Draw(inside).polygon([tuple(p) for p in points * SUPERSAMPLE], fill=1)
        depth += np.asarray(inside)
        closed = [tuple(p) for p in np.vstack([points, points[:1]]) * SUPERSAMPLE]
        ImageDraw.Draw(lines).line(closed, fill=255, width=round(INK_WIDTH * SUPERSAMPLE), joint="curve")
    fill = _shrink(PALETTE[np.minimum(depth, len(PALETTE) - 1)], size)
    ink = (np.asarray(lines.resize(size, Image.Resampling.BOX), dtype=np.float64) / 255)[..., None]
    before, after = np.repeat(1 - ink, 3, axis=2), fill * (1 - ink)
    return _to_image(before), _to_image(after)


def _shape(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A closed outline (N×2 points, px) wholly on the page: an ellipse, a convex polygon or a smooth blob."""
    radii = rng.uniform(0.1, 0.22, 2) * min(size)
    reach = radii.max() * 1.2
    centre = rng.uniform([reach + 4, reach + 4], [size[0] - reach - 4, size[1] - reach - 4])
    kind = rng.integers(3)
    if kind == 0:
        turn, scale = np.linspace(0, 2 * np.pi, 120, endpoint=False), np.ones(120)
    elif kind == 1:
        corners = rng.integers(3, 8)
        turn = np.sort(rng.uniform(0, 2 * np.pi, corners))
        turn = np.linspace(0, 2 * np.pi, corners, endpoint=False) if np.diff(turn).min() < 0.4 else turn
        scale = np.ones(corners)
    else:
        turn = np.linspace(0, 2 * np.pi, 160, endpoint=False)
        scale = 1 + sum(rng.uniform(-0.12, 0.12) * np.sin(k * turn + rng.uniform(0, 7)) for k in (2, 3))
    angle = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    local = np.stack([radii[0] * np.cos(turn), radii[1] * np.sin(turn)], axis=1) * scale[:, None]
    return centre + local @ rotation.T


def _shrink(colours: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A supersampled H×W×3 float picture averaged down to `size` (box filter)."""
    height, width = size[1], size[0]
    return colours.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE, 3).mean(axis=(1, 3))


# Glyphs: text in the regular face → the same text in the bold face.


def glyphs_pair(seed: int, size: tuple[int, int]) -> Pair:
    """Random words (12–40 px, one size per line) in DejaVu Sans → the same letters in DejaVu Sans Bold.

    Each letter of both pictures starts at the same pen position on the same baseline; the pen advances by
    the wider of the two faces' advance widths, so bold letters never collide and the change stays local.
    """
    rng = np.random.default_rng(seed)
    regular, bold = font_files()
    before, after = Image.new("L", size, 255), Image.new("L", size, 255)
    baseline = 4.0
    while True:
        pixels = int(rng.integers(12, 41))
        baseline += pixels * 1.25
        if baseline + pixels * 0.3 > size[1]:
            break
        faces = (ImageFont.truetype(str(regular), pixels), ImageFont.truetype(str(bold), pixels))
        _set_line(rng, faces, (ImageDraw.Draw(before), ImageDraw.Draw(after)), round(baseline), size[0])
    return before.convert("RGB"), after.convert("RGB")


def _set_line(rng: np.random.Generator, faces: tuple, draws: tuple, baseline: int, width: int) -> None:
    """Words of 1–8 random letters along one baseline, regular face in draws[0] and bold in draws[1]."""
    pen = float(rng.uniform(2, faces[0].size))
    while True:
        word = "".join(rng.choice(list(LETTERS), int(rng.integers(1, 9))))
        advances = [max(face.getlength(letter) for face in faces) for letter in word]
        if pen + sum(advances) > width - 2:
            return
        for letter, advance in zip(word, advances, strict=True):
            for face, draw in zip(faces, draws, strict=True):
                draw.text((round(pen), baseline), letter, font=face, fill=0, anchor="ls")
            pen += advance
        pen += faces[0].size * rng.uniform(0.35, 1.2)


def font_files(cache: Path = CACHE) -> tuple[Path, Path]:
    """(regular, bold) DejaVu Sans files: the system's, else Debian's fonts-dejavu-core unpacked into cache."""
    for folder in (FONT_FOLDER, cache / "fonts-dejavu-core" / "usr/share/fonts/truetype/dejavu"):
        if all((folder / face).is_file() for face in FONT_FACES):
            return folder / FONT_FACES[0], folder / FONT_FACES[1]
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError(f"DejaVu Sans is missing: install fonts-dejavu-core or put {FONT_FACES} in {FONT_FOLDER}.")
    with tempfile.TemporaryDirectory() as folder:
        run(["apt-get", "download", "fonts-dejavu-core"], Path(folder))
        package = next(Path(folder).glob("fonts-dejavu-core_*.deb"))
        cache.mkdir(parents=True, exist_ok=True)
        run(["dpkg-deb", "-x", str(package), str(cache / "fonts-dejavu-core")], Path(folder))
    return font_files(cache)


def _to_image(values: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(values, 0, 1) * 255).astype(np.uint8), "RGB")


# Baselines.


@dataclass(frozen=True)
class Identity:
    """The before picture as it is: the result of doing nothing."""

    why: str = "the before picture as it is"

    def __call__(self, image: Image.Image) -> Image.Image:
        return image

    def describe(self) -> str:
        return self.why


@dataclass(frozen=True)
class Morphology:
    """A grey-level filter on darkness (1 − brightness): optional threshold, one morphological operation, blur.

    channel "luma" is the usual grey; "max" takes the brightest of R, G, B, which drops blue construction lines.
    threshold None works on grey darkness; a number makes it black and white first. side is the structuring
    element's width in px (disk or square); blur is a Gaussian σ in px that softens a thresholded result.
    """

    channel: str = "luma"
    threshold: float | None = None
    operation: str = "none"  # none, dilate (thicker lines), erode (thinner), open, close
    element: str = "disk"
    side: int = 1
    blur: float = 0.0

    def __call__(self, image: Image.Image) -> Image.Image:
        shade = 1 - self.darkness(darkness_of(image, self.channel))
        return Image.fromarray(np.round(shade * 255).astype(np.uint8), "L").convert("RGB")

    def darkness(self, dark: np.ndarray) -> np.ndarray:
        """The filtered H×W darkness in [0, 1], from the darkness of the chosen channel."""
        if self.threshold is not None:
            dark = (dark > self.threshold).astype(np.float32)
        if self.operation != "none":
            shape = cv2.MORPH_ELLIPSE if self.element == "disk" else cv2.MORPH_RECT
            kernel = cv2.getStructuringElement(shape, (self.side, self.side))
            dark = cv2.morphologyEx(dark, OPERATIONS[self.operation], kernel)
        if self.blur:
            dark = cv2.GaussianBlur(dark, (0, 0), self.blur)
        return np.clip(dark, 0, 1)

    def describe(self) -> str:
        cut = "grey" if self.threshold is None else f"threshold {self.threshold:g}"
        shape = "" if self.operation == "none" else f" {self.operation} {self.element} {self.side}px"
        return f"{self.channel} {cut}{shape}" + (f" blur σ{self.blur:g}" if self.blur else "")


OPERATIONS = {
    "dilate": cv2.MORPH_DILATE,
    "erode": cv2.MORPH_ERODE,
    "open": cv2.MORPH_OPEN,
    "close": cv2.MORPH_CLOSE,
}


def darkness_of(image: Image.Image, channel: str) -> np.ndarray:
    """H×W float32 darkness in [0, 1] of the picture over white, from its luma or its brightest channel."""
    rgb = np.asarray(over_white(image), dtype=np.float32) / 255
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if channel == "luma" else rgb.max(axis=2)
    return np.ascontiguousarray(1 - grey)


def over_white(image: Image.Image) -> Image.Image:
    """The picture as RGB on white paper (transparent parts become white)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, image.convert("RGBA")).convert("RGB")
    return image.convert("RGB")


def morphology_grid() -> list[Morphology]:
    """Every filter the search tries: 2 channels × (grey or 8 thresholds) × operations × elements × blur."""
    shapes = [("none", "disk", 1)] + list(itertools.product(OPERATIONS, ("disk", "square"), (2, 3, 4, 5)))
    filters = []
    for channel, threshold, (operation, element, side) in itertools.product(
        ("luma", "max"), (None, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), shapes
    ):
        for blur in (0.0,) if threshold is None else (0.0, 0.6, 1.0):
            filters.append(Morphology(channel, threshold, operation, element, side, blur))
    return filters


def morphological_baseline(task: str, train_pairs: list[Pair]) -> Callable[[Image.Image], Image.Image]:
    """The grid's filter with the best mean PSNR on the TRAINING pairs only (its .describe() names it).

    Flats have no morphological equivalent (filling regions needs their topology, not a neighbourhood
    operator), so for them this is the identity.
    """
    if task == "flats":
        return Identity("none exists for flat fills: identity")
    targets = [1 - darkness_of(after, "luma") for _, after in train_pairs]
    inputs = {c: [darkness_of(before, c) for before, _ in train_pairs] for c in ("luma", "max")}
    best, best_psnr = Morphology(), -np.inf
    for candidate in morphology_grid():
        pairs = zip(inputs[candidate.channel], targets, strict=True)
        score = float(np.mean([psnr(1 - candidate.darkness(dark), target) for dark, target in pairs]))
        if score > best_psnr:
            best, best_psnr = candidate, score
    return best


def psnr(grey: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two grey pictures in [0, 1]: the app's RGB PSNR when both pictures are grey."""
    return 10 * float(np.log10(1 / max(float(np.mean((grey - target) ** 2)), 1e-10)))
