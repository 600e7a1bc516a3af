"""Synthetic before/after pairs for the built-in demo: a rough pencil sketch and its clean inked version.

Each pair is drawn from one seed, so the demo is the same on every machine and needs no downloaded data.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4  # lines are drawn this many times larger, then scaled down: antialiased edges
INK_WIDTH = 2.75  # px, the clean line
PENCIL_WIDTH = (1.1, 1.7)  # px, one rough pass
PENCIL_DARKNESS = (0.3, 0.6)
TAPER_PIECES = 10  # a pencil pass is drawn in this many pieces, lighter towards its ends
GRAPHITE = np.array([0.22, 0.22, 0.25])  # colour of a fully dark pencil pass, 0..1
CONSTRUCTION_BLUE = np.array([150, 190, 240]) / 255
PAPER = np.array([247, 244, 236]) / 255

Pair = tuple[Image.Image, Image.Image]  # (before, after)


class Stroke(NamedTuple):
    """One drawn line: points along it in pixels, and whether it closes on itself."""

    points: np.ndarray
    closed: bool


def cleanup_pair(seed: int, size: tuple[int, int] = (256, 256)) -> Pair:
    """Return (before, after): a rough pencil sketch and the same drawing cleaned up in black ink."""
    rng = np.random.default_rng(seed)
    strokes = _drawing(rng, size)
    after = 1.0 - _coverage(strokes, size, INK_WIDTH)
    before = _paper(rng, size)
    before = _layer(before, _construction(rng, size), CONSTRUCTION_BLUE, rng.uniform(0.55, 0.8))
    grain = _pencil_grain(rng, size)
    for stroke in strokes:
        for rough in _rough_passes(rng, stroke):
            cover = _coverage([rough], size, rng.uniform(*PENCIL_WIDTH), taper=True) * grain
            before = _layer(before, cover, GRAPHITE, rng.uniform(*PENCIL_DARKNESS))
    return _to_image(before), _to_image(np.repeat(after[..., None], 3, axis=2))


def cleanup_set(count: int, seed: int, size: tuple[int, int] = (256, 256)) -> list[Pair]:
    """Return `count` different cleanup pairs, the same list for the same seed."""
    seeds = np.random.default_rng(seed).integers(0, 2**31, size=count)
    return [cleanup_pair(int(s), size) for s in seeds]


def _drawing(rng: np.random.Generator, size: tuple[int, int]) -> list[Stroke]:
    """A few smooth curves, ellipses and straight strokes spread over the page."""
    strokes = [_bezier(rng, size) for _ in range(rng.integers(2, 4))]
    strokes += [_ellipse(rng, size) for _ in range(rng.integers(1, 3))]
    strokes += [_straight(rng, size) for _ in range(rng.integers(2, 4))]
    return strokes


def _point(rng: np.random.Generator, size: tuple[int, int], margin: float = 0.12) -> np.ndarray:
    return rng.uniform(margin, 1 - margin, 2) * np.array(size)


def _bezier(rng: np.random.Generator, size: tuple[int, int]) -> Stroke:
    start, end = _point(rng, size), _point(rng, size)
    bend = [start + (end - start) * k / 3 + rng.normal(0, 0.12, 2) * np.array(size) for k in (1, 2)]
    c1, c2 = np.clip(bend, 0.05 * np.array(size), 0.95 * np.array(size))  # keeps the curve on the page
    t = np.linspace(0, 1, 120)[:, None]
    points = (1 - t) ** 3 * start + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * end
    return Stroke(points, closed=False)


def _ellipse(rng: np.random.Generator, size: tuple[int, int]) -> Stroke:
    radii = rng.uniform(0.07, 0.2, 2) * min(size)
    centre = _point(rng, size, margin=0.25)
    angle, turn = rng.uniform(0, np.pi), np.linspace(0, 2 * np.pi, 160, endpoint=False)
    local = np.stack([radii[0] * np.cos(turn), radii[1] * np.sin(turn)], axis=1)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return Stroke(centre + local @ rotation.T, closed=True)


def _straight(rng: np.random.Generator, size: tuple[int, int]) -> Stroke:
    start = _point(rng, size)
    direction = rng.normal(size=2)
    length = rng.uniform(0.15, 0.4) * min(size)
    end = np.clip(start + direction / np.linalg.norm(direction) * length, 8, np.array(size) - 8)
    return Stroke(np.linspace(start, end, 40), closed=False)


def _rough_passes(rng: np.random.Generator, stroke: Stroke) -> list[Stroke]:
    """The stroke as a sketcher draws it: two or three wobbly, shifted passes, some overshooting."""
    passes = []
    for _ in range(rng.integers(2, 4)):
        points = _loop_past_start(rng, stroke.points) if stroke.closed else _overshoot(rng, stroke.points)
        passes.append(Stroke(_wobble(rng, points), closed=False))
    return passes


def _overshoot(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """Extend (or now and then shorten) each end of an open stroke along its direction."""
    ends = []
    for tip, inner in ((points[0], points[3]), (points[-1], points[-4])):
        along = (tip - inner) / max(np.linalg.norm(tip - inner), 1e-6)
        ends.append(tip + along * (rng.uniform(2, 7) if rng.random() < 0.5 else rng.uniform(-3, 0)))
    return np.vstack([ends[0], points[1:-1], ends[1]])


def _loop_past_start(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """Go round a closed stroke from a random place, stopping a little past where it began."""
    start = rng.integers(len(points))
    extra = rng.integers(0, len(points) // 12)
    return np.roll(points, -start, axis=0)[np.arange(len(points) + extra) % len(points)]


def _wobble(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """Shift a polyline by a pixel or two and let it drift sideways slowly along its length."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    drift = np.zeros_like(points)
    for _ in range(2):
        wavelength, phase = rng.uniform(25, 70), rng.uniform(0, 2 * np.pi)
        drift += rng.normal(0, 0.7, 2) * np.sin(2 * np.pi * along / wavelength + phase)[:, None]
    return points + rng.normal(0, 1.1, 2) + drift


def _coverage(strokes: list[Stroke], size: tuple[int, int], width: float, taper: bool = False) -> np.ndarray:
    """How much of each pixel the strokes cover (0..1), antialiased; `taper` eases off at the ends."""
    big = Image.new("L", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    for stroke in strokes:
        points = stroke.points * SUPERSAMPLE
        points = np.vstack([points, points[:1]]) if stroke.closed else points
        pieces = np.array_split(np.arange(len(points)), TAPER_PIECES if taper else 1)
        for k, piece in enumerate(pieces):
            pressure = np.sin(np.pi * (k + 0.5) / len(pieces)) ** 0.6 if taper else 1.0
            span = points[piece[0] : piece[-1] + 2]  # one point past the piece, so pieces join
            _line(draw, span, width * SUPERSAMPLE, round(255 * (0.35 + 0.65 * pressure) if taper else 255))
    return np.asarray(big.resize(size, Image.Resampling.BOX), dtype=np.float64) / 255


def _line(draw: ImageDraw.ImageDraw, points: np.ndarray, width: float, fill: int) -> None:
    """A polyline with smooth joints and round caps."""
    xy = [(float(x), float(y)) for x, y in points]
    draw.line(xy, fill=fill, width=round(width), joint="curve")
    for x, y in (xy[0], xy[-1]):
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=fill)


def _construction(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Faint blue guide lines: a few long straight lines across the page and a circle or two."""
    lines = []
    for _ in range(rng.integers(2, 5)):
        middle, direction = _point(rng, size, 0.0), rng.normal(size=2)
        reach = direction / np.linalg.norm(direction) * max(size) * rng.uniform(0.4, 1.2)
        lines.append(Stroke(np.stack([middle - reach, middle + reach]), closed=False))
    for _ in range(rng.integers(1, 3)):
        centre, radius = _point(rng, size, 0.2), rng.uniform(0.1, 0.3) * min(size)
        turn = np.linspace(0, 2 * np.pi, 90, endpoint=False)[:, None]
        lines.append(Stroke(centre + radius * np.hstack([np.cos(turn), np.sin(turn)]), closed=True))
    return _coverage(lines, size, 1.0)


def _paper(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Off-white paper with a fine grain and a slow unevenness in tone."""
    width, height = size
    fine = rng.normal(0, 0.012, (height, width, 1))
    slow = _smooth_noise(rng, size, cells=6) * 0.025
    return np.clip(PAPER * (1 + fine + slow[..., None]), 0, 1)


def _pencil_grain(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Graphite catches only on the tooth of the paper: a mask between about 0.45 and 1."""
    tooth = _smooth_noise(rng, size, cells=max(size) // 2)
    return np.clip(0.85 + 0.4 * tooth, 0.45, 1.0)


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: int) -> np.ndarray:
    """Noise in -1..1 that varies over `cells` blobs across the page, smoothly interpolated."""
    coarse = rng.uniform(0, 255, (cells, cells)).astype(np.uint8)
    smooth = Image.fromarray(coarse, "L").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(smooth, dtype=np.float64) / 127.5 - 1


def _layer(base: np.ndarray, cover: np.ndarray, colour: np.ndarray, strength: float) -> np.ndarray:
    """Lay a translucent medium over the page; overlapping passes darken like real pencil or ink."""
    amount = (strength * cover)[..., None]
    return base * (1 - amount * (1 - colour))


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), "RGB")
