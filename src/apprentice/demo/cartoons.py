"""Synthetic cartoon animations for the in-betweening demo and benchmark: inked figures in smooth motion.

Each sequence is drawn in code from one seed, so the demo is the same on every machine and needs no downloaded data.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 4  # drawings are made this many times larger, then scaled down: lightly antialiased edges
NOMINAL = (192, 144)  # px, the size the rigs are designed at; other sizes scale them
INK = (22, 20, 24)  # near-black line colour
INK_WIDTH = (2.2, 2.9)  # px at the nominal size, kept within 2..3 px at any size
PAPERS = ((255, 255, 255), (250, 247, 240), (247, 244, 236))  # white and off-white paper
SHADOW_TINT = np.array([70, 70, 100])  # a cast shadow is the paper mixed with a little of this
SPEED = (7.0, 21.0)  # px per frame at the nominal size: the fastest a figure crosses the stage
SHARP_CORNERS = 14  # outlines with at most this many points are polygons and get rounded joints
MIDDLE = 5.5  # frames: figures cross the stage fastest around the middle of a 12-frame sequence

Colour = tuple[int, int, int]


class Part(NamedTuple):
    """One drawn shape: outline points in px, a flat fill (None: ink only) and its ink width in px (0: none)."""

    points: np.ndarray
    fill: Colour | None
    ink: float
    closed: bool = True


class Stage(NamedTuple):
    """What every rig of one sequence shares: the frame size, the scale of the figures, the ink and colours."""

    size: tuple[int, int]
    unit: float  # px per nominal px
    ink: float  # px
    palette: list[Colour]
    paper: Colour
    shadow: Colour


class Path(NamedTuple):
    """A figure's way across the stage: each axis swings smoothly around the centre, like a slow pendulum."""

    centre: np.ndarray
    reach: np.ndarray  # px either side, per axis
    rate: np.ndarray  # rad per frame, per axis
    phase: np.ndarray

    def at(self, moment: float) -> np.ndarray:
        return self.centre + self.reach * np.sin(self.rate * moment + self.phase)

    def velocity(self, moment: float) -> np.ndarray:
        return self.reach * self.rate * np.cos(self.rate * moment + self.phase)


Pose = Callable[[float], list[Part]]  # the drawing at a moment (in frames)


def animation(
    seed: int,
    frames: int = 12,
    size: tuple[int, int] = NOMINAL,
    transparent: bool = False,
    on_twos: bool = False,
) -> list[Image.Image]:
    """Return `frames` RGBA frames of one inked cartoon moving smoothly; the rig is chosen by `seed % 5`.

    The background is flat paper, or fully transparent when `transparent`. `on_twos` holds every drawing for two
    frames, as animation shot on twos does; the length stays `frames`.
    """
    rng = np.random.default_rng(seed)
    stage = _stage(rng, size)
    pose = RIGS[seed % len(RIGS)](rng, stage)
    drawings: dict[int, Image.Image] = {}
    sequence = []
    for frame in range(frames):
        moment = frame - frame % 2 if on_twos else frame
        if moment not in drawings:
            drawings[moment] = _render(pose(float(moment)), size, None if transparent else stage.paper)
        sequence.append(drawings[moment].copy())
    return sequence


def animation_set(count: int, seed: int, frames: int = 12, size: tuple[int, int] = NOMINAL) -> list[list[Image.Image]]:
    """Return `count` different opaque sequences, the same list for the same seed, taking the rigs in turn."""
    bases = np.random.default_rng(seed).integers(0, 2**31 // len(RIGS), size=count)
    seeds = [int(base) * len(RIGS) + (seed + index) % len(RIGS) for index, base in enumerate(bases)]
    return [animation(one, frames, size) for one in seeds]


def _stage(rng: np.random.Generator, size: tuple[int, int]) -> Stage:
    unit = min(size[0] / NOMINAL[0], size[1] / NOMINAL[1])
    ink = float(np.clip(rng.uniform(*INK_WIDTH) * unit, 2.0, 3.0))
    paper = PAPERS[rng.integers(len(PAPERS))]
    shadow = tuple(int(c) for c in np.round(0.8 * np.array(paper) + 0.2 * SHADOW_TINT))
    return Stage(size, unit, ink, _palette(rng), paper, shadow)


def _palette(rng: np.random.Generator) -> list[Colour]:
    """Three to five flat colours with hues spread round the wheel, bright enough to read against black ink."""
    first = rng.uniform(0, 1)
    colours = []
    for index in range(rng.integers(3, 6)):
        hue = (first + index * 0.618 + rng.uniform(-0.04, 0.04)) % 1
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.4, 0.8), rng.uniform(0.75, 0.97))
        colours.append(tuple(round(c * 255) for c in rgb))
    return colours


def _path(rng: np.random.Generator, stage: Stage, height: float, sway: float) -> Path:
    """Across the stage and back at 7-21 px per frame at its fastest (nominal size); `sway` px up and down."""
    width = stage.size[0]
    reach = rng.uniform(0.24, 0.33) * width
    rate = rng.uniform(*SPEED) * stage.unit / reach
    phase = -rate * MIDDLE + rng.uniform(-0.4, 0.4) + np.pi * rng.integers(2)
    return Path(
        np.array([width / 2, height]),
        np.array([reach, sway]),
        np.array([rate, rate * rng.uniform(0.7, 1.6)]),
        np.array([phase, rng.uniform(0, 2 * np.pi)]),
    )


# Shapes, in a part's own frame: x to the right, y down, the origin at its pivot.


def _blob(rng: np.random.Generator, rx: float, ry: float, count: int = 48) -> np.ndarray:
    """An ellipse as a hand would draw it: a slight, fixed unevenness that turns with the part."""
    turn = np.linspace(0, 2 * np.pi, count, endpoint=False)
    waver = 1 + sum(rng.uniform(-0.035, 0.035) * np.sin(k * turn + rng.uniform(0, 2 * np.pi)) for k in (2, 3))
    return np.stack([rx * waver * np.cos(turn), ry * waver * np.sin(turn)], axis=1)


def _ellipse(rx: float, ry: float, count: int = 32) -> np.ndarray:
    turn = np.linspace(0, 2 * np.pi, count, endpoint=False)
    return np.stack([rx * np.cos(turn), ry * np.sin(turn)], axis=1)


def _capsule(length: float, radius: float) -> np.ndarray:
    """A limb from the origin along +x: a bar of `length` with round ends."""
    far, near = np.linspace(-np.pi / 2, np.pi / 2, 9), np.linspace(np.pi / 2, 3 * np.pi / 2, 9)
    ends = [(length + radius * np.cos(far), radius * np.sin(far)), (radius * np.cos(near), radius * np.sin(near))]
    return np.vstack([np.stack(end, axis=1) for end in ends])


def _place(
    local: np.ndarray, at: np.ndarray | tuple[float, float], turn: float = 0.0, scale: tuple[float, float] = (1.0, 1.0)
) -> np.ndarray:
    """Scale a shape in its own frame, turn it (positive: clockwise on screen) and move its origin to `at`."""
    c, s = np.cos(turn), np.sin(turn)
    return (local * np.asarray(scale)) @ np.array([[c, s], [-s, c]]) + np.asarray(at)


def _chain(start: np.ndarray, lengths: tuple[float, float], turns: tuple[float, float]) -> list[np.ndarray]:
    """Joint positions of a two-bone limb; each bone's turn is relative to the one before it."""
    joints, heading = [np.asarray(start, dtype=float)], 0.0
    for length, turn in zip(lengths, turns, strict=True):
        heading += turn
        joints.append(joints[-1] + length * np.array([np.cos(heading), np.sin(heading)]))
    return joints


def _limb(joints: list[np.ndarray], radius: float, colour: Colour, ink: float) -> list[Part]:
    """Outlined bones between consecutive joints, the upper bone drawn last so it covers the elbow."""
    parts = []
    for start, end in reversed(list(zip(joints, joints[1:], strict=False))):
        heading = np.arctan2(*(end - start)[::-1])
        parts.append(Part(_place(_capsule(np.linalg.norm(end - start), radius), start, heading), colour, ink))
    return parts


def _smooth(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


# Rigs: each takes the seed's generator and the stage, and returns the pose at any moment.


def _bouncing_ball(rng: np.random.Generator, stage: Stage) -> Pose:
    """A striped ball that rolls across, bouncing with squash and stretch, its shadow on the ground, past a post."""
    (width, height), unit, ink, palette = stage.size, stage.unit, stage.ink, stage.palette
    radius, ground = rng.uniform(12, 19) * unit, height * rng.uniform(0.84, 0.9)
    leap = min(rng.uniform(0.28, 0.45) * height, ground - 2.4 * radius - 0.05 * height)
    period, bounce_phase = rng.uniform(7, 11), rng.uniform(0, np.pi)
    path = _path(rng, stage, ground, 0.0)
    stripes = 2 * int(rng.integers(2, 4))
    rim = _blob(rng, radius, radius, 10 * stripes)
    wedges = [np.vstack([[0, 0], np.roll(rim, -10 * k, axis=0)[:11]]) for k in range(stripes)]
    behind, front = _post(rng, stage, path, (ground - rng.uniform(0.35, 0.6) * height, ground), palette[2])
    floor = Part(np.array([[-4.0, ground], [width + 4.0, ground]]), None, ink, closed=False)

    def pose(moment: float) -> list[Part]:
        x = path.at(moment)[0]
        swing = np.pi * moment / period + bounce_phase
        lift, rush = abs(np.sin(swing)), np.cos(swing) ** 2
        contact = (1 - lift) ** 6
        squash = 1 - 0.3 * contact + 0.18 * (1 - contact) * rush  # squashed on the ground, stretched when fast
        centre, scale = (x, ground - radius * squash - leap * lift), (1 / squash, squash)
        spin = (x - width / 2) / radius  # it rolls along the ground
        ball = [
            Part(_place(_place(w, (0, 0), spin), centre, 0, scale), palette[k % 2], 0) for k, w in enumerate(wedges)
        ]
        ball.append(Part(_place(_place(rim, (0, 0), spin), centre, 0, scale), None, ink))
        shadow = Part(_place(_ellipse(radius * (1.2 - 0.5 * lift), radius * 0.22), (x, ground)), stage.shadow, 0)
        return [floor, shadow, *behind, *ball, *front]

    return pose


def _walker(rng: np.random.Generator, stage: Stage) -> Pose:
    """A little figure walking to and fro with a bob in its step; one arm swings, the other may wave hello."""
    (width, height), ink, palette = stage.size, stage.ink, stage.palette
    unit = stage.unit * rng.uniform(0.85, 1.05)
    ground = height * rng.uniform(0.86, 0.92)
    thigh, shin, upper, fore = (rng.uniform(12, 15) * unit for _ in range(4))
    limb, hips = rng.uniform(3.2, 4.4) * unit, thigh + shin
    torso = _blob(rng, rng.uniform(10, 13) * unit, rng.uniform(14, 17) * unit)
    head_size = rng.uniform(10, 12.5) * unit
    head, hat = _blob(rng, head_size, head_size), _hat(rng, head_size)
    path = _path(rng, stage, ground, 0.0)
    stride, cycle_phase = rng.uniform(8, 12), rng.uniform(0, 2 * np.pi)
    wave_from, wave_rate = rng.uniform(-4, 6) if rng.random() < 0.7 else np.inf, rng.uniform(0.7, 1.1)
    behind, front = _post(rng, stage, path, (ground - rng.uniform(0.45, 0.7) * height, ground), palette[-1])
    floor = Part(np.array([[-4.0, ground], [width + 4.0, ground]]), None, ink, closed=False)
    skin, cloth, shoes = palette[1], palette[0], palette[2]

    def pose(moment: float) -> list[Part]:
        step = 2 * np.pi * moment / stride + cycle_phase
        x, heading = path.at(moment)[0], np.tanh(path.velocity(moment)[0] / (2 * stage.unit))
        hip = np.array([x, ground - hips * 0.97 - 2.5 * unit * (1 + np.cos(2 * step)) / 2])  # bobs as it steps
        stretch, lean, tall = 1 + 0.06 * np.cos(2 * step + 0.6), 0.1 * heading, torso[:, 1].max()

        def above_hip(rise: float) -> np.ndarray:
            return hip + _place(np.array([[0.0, -rise]]), (0, 0), lean)[0]

        neck = above_hip(2 * tall * stretch - 1.5 * unit)
        shoulder = above_hip(2 * tall * stretch - 5 * unit)
        legs = [_leg(hip, step + side * np.pi, heading, (thigh, shin), limb, skin, shoes, ink) for side in (1, 0)]
        swing = [np.pi / 2 - 0.5 * heading * np.sin(step + side * np.pi) for side in (0, 1)]
        wave = _smooth((moment - wave_from) / 5)  # the front arm rises to wave from `wave_from` on
        hello = np.sin(wave_rate * moment)
        turns = (swing[0], (1 - wave) * swing[1] + wave * (-np.pi / 2 + 0.45 + 0.35 * hello))
        elbows = (-0.35 * heading, (1 - wave) * -0.35 * heading + wave * 0.6 * np.sin(wave_rate * moment + 0.9))
        arms = [
            _limb(_chain(shoulder, (upper, fore), pair), limb, skin, ink) for pair in zip(turns, elbows, strict=True)
        ]
        body = Part(_place(torso, above_hip(tall * stretch), lean, (1 / stretch, stretch)), cloth, ink)
        face = _face(neck, head_size, heading, unit, lean)
        top = [Part(_place(head, face.centre, lean), skin, ink), Part(_place(hat, face.centre, lean), shoes, ink)]
        shadow = Part(_place(_ellipse(14 * unit, 3 * unit), (x, ground)), stage.shadow, 0)
        return [floor, shadow, *behind, *arms[0], *legs[0], *legs[1], body, *top, *face.parts, *arms[1], *front]

    return pose


def _leg(
    hip: np.ndarray,
    step: float,
    heading: float,
    bones: tuple[float, float],
    radius: float,
    colour: Colour,
    shoe: Colour,
    ink: float,
) -> list[Part]:
    """One walking leg: the thigh swings about the hip, the knee bends back as the foot comes through."""
    thigh = np.pi / 2 - 0.42 * heading * np.sin(step)
    knee = 0.55 * heading * (1 - np.cos(step + 0.5)) / 2
    joints = _chain(hip, bones, (thigh, knee))
    foot = _place(_ellipse(radius * 1.6, radius * 0.95, 20), joints[-1] + [2 * heading * radius * 0.5, 0], 0)
    return [*_limb(joints, radius, colour, ink), Part(foot, shoe, ink)]


class _Face(NamedTuple):
    centre: np.ndarray
    parts: list[Part]


def _face(neck: np.ndarray, size: float, heading: float, unit: float, lean: float) -> _Face:
    """Where the head sits on the neck, and two dot eyes that look the way the figure goes."""
    centre = neck + _place(np.array([[0.0, -size * 0.95]]), (0, 0), lean)[0]
    eye = _ellipse(1.6 * unit, 2.3 * unit, 12)
    eyes = [Part(_place(eye, centre + [heading * size * 0.35 + dx * size, size * 0.12]), INK, 0) for dx in (-0.3, 0.3)]
    return _Face(centre, eyes)


def _hat(rng: np.random.Generator, head: float) -> np.ndarray:
    """A cap over the top of the head: half an ellipse with a brim."""
    turn = np.linspace(np.pi, 2 * np.pi, 20)
    crown = np.stack([head * 0.92 * np.cos(turn), -head * 0.5 + head * rng.uniform(0.6, 0.9) * np.sin(turn)], axis=1)
    brim = np.array([[head * 1.3, -head * 0.5], [head * 1.25, -head * 0.36], [-head * 0.9, -head * 0.36]])
    return np.vstack([crown, brim])


def _lantern(rng: np.random.Generator, stage: Stage) -> Pose:
    """A lantern hanging from a trolley that rolls along a sagging wire: it swings, its flame flickers."""
    (width, height), unit, ink, palette = stage.size, stage.unit, stage.ink, stage.palette
    wire_y, sag = height * rng.uniform(0.1, 0.16), height * rng.uniform(0.0, 0.05)
    path = _path(rng, stage, wire_y, 0.0)
    wheel, rope = rng.uniform(6, 8) * unit, height * rng.uniform(0.22, 0.34)
    swing, swing_rate, swing_phase = rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.6), rng.uniform(0, 2 * np.pi)
    flicker_rate, lantern = rng.uniform(1.2, 2.0), _lantern_parts(rng, stage)
    behind, front = _post(rng, stage, path, (wire_y + sag + rng.uniform(0.12, 0.3) * height, height + 10), palette[-1])
    xs = np.linspace(-4, width + 4, 24)

    def wire_at(x: float) -> float:
        return wire_y + sag * (1 - ((x - width / 2) / (width / 2)) ** 2)

    wire = Part(np.stack([xs, [wire_at(x) for x in xs]], axis=1), None, ink, closed=False)

    def pose(moment: float) -> list[Part]:
        x = path.at(moment)[0]
        hub = np.array([x, wire_at(x) - wheel * 0.55])
        rope_turn = swing * np.sin(swing_rate * moment + swing_phase)
        body_turn = rope_turn + 0.45 * swing * np.sin(swing_rate * moment + swing_phase - 1.1)
        hook = hub + rope * np.array([-np.sin(rope_turn), np.cos(rope_turn)])
        flame = 1 + 0.22 * np.sin(flicker_rate * moment) * np.sin(0.5 * flicker_rate * moment + 1)
        roll = (x - width / 2) / wheel
        spokes = [
            Part(_place(np.array([[-wheel, 0], [wheel, 0]]), hub, roll + k * np.pi / 3), None, ink * 0.6, False)
            for k in range(3)
        ]
        cord = Part(np.stack([hub, hook]), None, ink * 0.75, closed=False)
        lamp = [
            Part(_place(part.points, hook, body_turn, (1, flame) if flickers else (1, 1)), *part[1:])
            for part, flickers in lantern
        ]
        disc = [Part(_place(_ellipse(wheel, wheel, 24), hub), palette[2], ink), *spokes]
        return [*behind, wire, cord, *lamp, *disc, *front]

    return pose


def _lantern_parts(rng: np.random.Generator, stage: Stage) -> list[tuple[Part, bool]]:
    """The lantern in its own frame, hanging from the origin, in drawing order, each with whether it flickers.

    The flame glows inside the glass, behind the bars; the caps close the glass at top and bottom.
    """
    unit, ink, palette = stage.unit, stage.ink, stage.palette
    half, top, bottom = rng.uniform(10, 13) * unit, 12 * unit, rng.uniform(36, 44) * unit
    turn = np.linspace(np.pi, 2 * np.pi, 16)
    handle = np.stack([5 * unit * np.cos(turn), 9 * unit + 8 * unit * np.sin(turn)], axis=1)
    glass = np.array([[-half, top], [half, top], [half * 0.9, bottom], [-half * 0.9, bottom]])
    cap = np.array([[-0.55 * half, 6 * unit], [0.55 * half, 6 * unit], [1.25 * half, top], [-1.25 * half, top]])
    sole = bottom + 6 * unit
    foot = np.array([[-1.15 * half, bottom], [1.15 * half, bottom], [0.8 * half, sole], [-0.8 * half, sole]])
    flame = np.array([0, (top + bottom) / 2 + 3 * unit]) + _flame(0.42 * half, 0.3 * (bottom - top))
    bars = [np.array([[dx * half, top + 1], [dx * half * 0.95, bottom - 1]]) for dx in (-0.45, 0.45)]
    return [
        (Part(handle, None, ink * 0.8, closed=False), False),
        (Part(glass, palette[1], ink), False),
        (Part(flame, palette[3 % len(palette)], ink * 0.8), True),
        *[(Part(bar, None, ink * 0.8, closed=False), False) for bar in bars],
        (Part(cap, palette[0], ink), False),
        (Part(foot, palette[0], ink), False),
    ]


def _flame(half_width: float, tall: float) -> np.ndarray:
    """A teardrop, pointed at the top, resting on its round base at the origin."""
    turn = np.linspace(0, 2 * np.pi, 28, endpoint=False)
    y = -tall * (1 - np.cos(turn)) / 2  # 0 at the base, -tall at the tip
    x = half_width * np.sin(turn) * (1 + np.cos(turn)) / 2 * 1.6
    return np.stack([x, y + tall * 0.5], axis=1)


def _fish(rng: np.random.Generator, stage: Stage) -> Pose:
    """A fish swimming to and fro past swaying weed: its tail wags, fins flap, and it turns at each end."""
    height, unit, ink, palette = stage.size[1], stage.unit, stage.ink, stage.palette
    length = rng.uniform(40, 52) * unit
    body = _blob(rng, length / 2, length * rng.uniform(0.24, 0.3))
    stripe = _slab(body, -length * 0.12, length * 0.02)
    tail = np.array([[0, 0], [-0.36, -0.26], [-0.27, 0], [-0.36, 0.26]]) * length
    fin = np.array([[0.12, -0.2], [-0.02, -0.38], [-0.2, -0.34], [-0.17, -0.18]]) * length
    flipper = _ellipse(length * 0.11, length * 0.05, 16) + [length * 0.09, 0]
    path = _path(rng, stage, height * rng.uniform(0.42, 0.55), height * rng.uniform(0.06, 0.14))
    wag_rate, wag_phase, speed = rng.uniform(0.8, 1.3), rng.uniform(0, 2 * np.pi), np.abs(path.reach * path.rate)[0]
    weed = _weed(rng, stage, path)
    weed_in_front = rng.random() < 0.5

    def pose(moment: float) -> list[Part]:
        centre, velocity = path.at(moment), path.velocity(moment)
        facing = np.tanh(velocity[0] / (0.25 * speed))
        tilt = facing * np.arctan2(velocity[1], abs(velocity[0]) + 0.3 * speed) * 0.8
        stretch = 1 + 0.05 * np.sin(2 * wag_rate * moment + wag_phase)
        wag = 0.5 * np.sin(wag_rate * moment + wag_phase)
        flap = 0.6 * np.sin(1.5 * wag_rate * moment)

        def put(shape: np.ndarray) -> np.ndarray:
            return _place(shape * [stretch, 1 / stretch], centre, tilt, (facing, 1))

        hinge = np.array([-length * 0.46, 0])
        parts = [
            Part(put(_place(flipper, (length * 0.02, length * 0.05), -flap - 0.3)), palette[1], ink),
            Part(put(_place(tail, hinge, wag)), palette[1], ink),
            Part(put(_place(fin, (0, 0), 0.15 * wag)), palette[1], ink),
            Part(put(body), palette[0], 0),
            Part(put(stripe), palette[2], 0),
            Part(put(body), None, ink),
            Part(put(_ellipse(length * 0.05, length * 0.055, 16) + [length * 0.3, -length * 0.04]), INK, 0),
            Part(put(_place(flipper, (-length * 0.08, length * 0.1), flap + 0.5)), palette[1], ink),
        ]
        plant = weed(moment)
        return [*parts, *plant] if weed_in_front else [*plant, *parts]

    return pose


def _slab(shape: np.ndarray, left: float, right: float) -> np.ndarray:
    """The part of a convex outline between two vertical lines (Sutherland-Hodgman clipping)."""
    for edge, keep in ((left, 1.0), (right, -1.0)):
        kept = []
        for here, there in zip(shape, np.roll(shape, -1, axis=0), strict=True):
            inside_here, inside_there = keep * (here[0] - edge) >= 0, keep * (there[0] - edge) >= 0
            if inside_here:
                kept.append(here)
            if inside_here != inside_there:
                kept.append(here + (there - here) * (edge - here[0]) / (there[0] - here[0]))
        shape = np.array(kept)
    return shape


def _weed(rng: np.random.Generator, stage: Stage, path: Path) -> Pose:
    """A stalk of weed rooted at the bottom, three joints swaying one after another."""
    (_, height), unit, ink = stage.size, stage.unit, stage.ink
    root = np.array([path.centre[0] + rng.uniform(-0.5, 0.5) * path.reach[0], height + 4 * unit])
    bone, radius = height * rng.uniform(0.17, 0.24), rng.uniform(3.5, 5) * unit
    rate, phase, colour = rng.uniform(0.3, 0.5), rng.uniform(0, 2 * np.pi), stage.palette[-1]

    def pose(moment: float) -> list[Part]:
        turns = [-np.pi / 2 + 0.18 * np.sin(rate * moment + phase)]
        turns += [0.25 * np.sin(rate * moment + phase - 0.8 * k) for k in (1, 2)]
        joints = [root]
        heading = 0.0
        for turn in turns:
            heading += turn
            joints.append(joints[-1] + bone * np.array([np.cos(heading), np.sin(heading)]))
        return _limb(joints, radius, colour, ink)

    return pose


def _star(rng: np.random.Generator, stage: Stage) -> Pose:
    """A cheerful star tumbling through the air, pulsing like jelly, with a little moon circling round it."""
    height, unit, ink, palette = stage.size[1], stage.unit, stage.ink, stage.palette
    radius = rng.uniform(20, 27) * unit
    points = int(rng.integers(5, 7))
    outline, heart = _star_shape(points, radius, rng.uniform(0.45, 0.55)), _star_shape(points, radius * 0.5, 0.5)
    path = _path(rng, stage, height * rng.uniform(0.45, 0.55), height * rng.uniform(0.08, 0.16))
    spin, pulse, pulse_phase = rng.choice([-1, 1]) * rng.uniform(0.1, 0.25), rng.uniform(0.5, 0.9), rng.uniform(0, 6)
    orbit, orbit_rate, orbit_phase = radius * rng.uniform(1.35, 1.6), rng.uniform(0.3, 0.5), rng.uniform(0, 6)
    moon, crater = _blob(rng, radius * 0.3, radius * 0.3), _ellipse(radius * 0.08, radius * 0.07, 12)
    body, inner, satellite = palette[0], palette[1], palette[2]
    eyes = [_ellipse(1.6 * unit, 2.6 * unit, 12) + [dx * unit, -2 * unit] for dx in (-4.5, 4.5)]

    def pose(moment: float) -> list[Part]:
        centre, turn = path.at(moment), spin * moment
        wobble = 1 + 0.14 * np.sin(pulse * moment + pulse_phase)
        scale = (wobble, 1 / wobble)
        star = [
            Part(_place(_place(outline, (0, 0), turn), centre, 0, scale), body, ink),
            Part(_place(_place(heart, (0, 0), turn), centre, 0, scale), inner, 0),
        ]
        star += [Part(_place(_place(eye, (0, 0), turn), centre, 0, scale), INK, 0) for eye in eyes]
        angle = orbit_rate * moment + orbit_phase
        depth = np.sin(angle)
        spot = centre + _place(np.array([[orbit * np.cos(angle), 0.35 * orbit * depth]]), (0, 0), -0.3)[0]
        size = (1 + 0.15 * depth, 1 + 0.15 * depth)
        satellite_parts = [
            Part(_place(moon, spot, turn, size), satellite, ink),
            Part(_place(crater + [radius * 0.08, -radius * 0.05], spot, turn, size), inner, 0),
        ]
        return [*star, *satellite_parts] if depth > 0 else [*satellite_parts, *star]

    return pose


def _star_shape(points: int, outer: float, depth: float) -> np.ndarray:
    turn = np.linspace(-np.pi / 2, 3 * np.pi / 2, 2 * points, endpoint=False)
    radius = np.where(np.arange(2 * points) % 2 == 0, outer, outer * depth)
    return np.stack([radius * np.cos(turn), radius * np.sin(turn)], axis=1)


def _post(
    rng: np.random.Generator, stage: Stage, path: Path, span: tuple[float, float], colour: Colour
) -> tuple[list[Part], list[Part]]:
    """A still post (or tree trunk) on the figure's way, standing behind or in front of it: (behind, front)."""
    unit, ink = stage.unit, stage.ink
    x = path.centre[0] + rng.uniform(-0.7, 0.7) * path.reach[0]
    half = rng.uniform(4, 7) * unit
    top, bottom = span
    pole = np.array([[x - half, bottom], [x - half, top + half], [x, top], [x + half, top + half], [x + half, bottom]])
    band = np.array(
        [
            [x - half * 1.3, top + 3 * half],
            [x + half * 1.3, top + 3 * half],
            [x + half * 1.3, top + 4.6 * half],
            [x - half * 1.3, top + 4.6 * half],
        ]
    )
    parts = [Part(pole, colour, ink), Part(band, stage.palette[0], ink)]
    return (parts, []) if rng.random() < 0.6 else ([], parts)


def _render(parts: list[Part], size: tuple[int, int], paper: Colour | None) -> Image.Image:
    """Draw the parts in order at SUPERSAMPLE times the size on paper (None: clear), then scale down (box filter)."""
    mode = "RGB" if paper else "RGBA"  # opaque frames skip Pillow's alpha premultiplication when scaling
    big = Image.new(mode, (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), paper or (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    for part in parts:
        xy = [(float(x), float(y)) for x, y in part.points * SUPERSAMPLE]
        if part.fill is not None:
            draw.polygon(xy, fill=(*part.fill, 255))
        if part.ink > 0:
            _ink(draw, xy, part.ink * SUPERSAMPLE, part.closed)
    return big.resize(size, Image.Resampling.BOX).convert("RGBA")


def _ink(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], width: float, closed: bool) -> None:
    """An inked line with round caps and, where it turns sharply, round joints.

    Smooth curves have many points and bend only a little at each, so they need no joint (which is slow to draw).
    """
    colour = (*INK, 255)
    joint = "curve" if len(xy) <= SHARP_CORNERS else None
    draw.line(xy + xy[:2] if closed else xy, fill=colour, width=max(1, round(width)), joint=joint)
    if not closed:
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=colour)


RIGS: tuple[Callable[[np.random.Generator, Stage], Pose], ...] = (_bouncing_ball, _walker, _lantern, _fish, _star)
