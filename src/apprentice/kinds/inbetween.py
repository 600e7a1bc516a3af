"""The `inbetween` kind: learn to draw the frame halfway between two drawings, from the artist's animation.

Every three consecutive drawings of a sequence are an example (the middle from its neighbours); holds,
where a drawing is exposed for several frames, count once, as the animator drew it once. Applied to key
poses, it draws N in-betweens (1, 3, 7, …) the way animators chart them: the middle first (the breakdown),
then the middles of each half, so it only ever does what it learned: the frame halfway between two. A timing
chart (kinds/timing.py) places them unevenly, ease in or out, still by halving. The network also reads the key
before and the key after the two, where the shot has them: in training, the drawings three before and three after
the middle (the keys around its keys when every other drawing is a key).
"""

from __future__ import annotations

import hashlib
from collections import abc
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from apprentice.errors import BadInput
from apprentice.formats.images import pixel_digest, pixels
from apprentice.formats.pairs import Source
from apprentice.formats.sequences import Sequence, find_sequences, read_frame
from apprentice.kinds import timing
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet, motion_loss
from apprentice.kinds.kind import FoundExample, Output
from apprentice.kinds.options import ApplyOptions
from apprentice.kinds.tiling import transform

MOTION_WEIGHT = 0.5  # how much the coarse-flow loss counts beside the frame's own L1
DEPTHS = {1: 1, 3: 2, 7: 3, 15: 4}  # in-betweens per key pair → halvings


class InbetweenKind:
    name = "inbetween"
    about = "learn to draw the frame between two key poses"
    applying = "drawing in-betweens"
    roles = ("key1", "inbetween", "key2")
    target = "inbetween"
    baseline_name = "cross-fading the keys"
    train_defaults = {"patch": 96, "batch": 8, "clip": 1.0}  # patches that hold large motion between keys; a spike
    # guard (the median step's gradient norm is about 0.2): unclipped, a run starting from optical flow collapsed
    reverse = True  # playing an in-between backwards gives an in-between: swap the keys as augmentation
    inputs = "sequence"  # the key poses, in order
    uploads_in_order = True  # uploaded still frames are one animation, in name order
    input_channels = 16  # the two keys, then the key before and the key after them, side by side in the channels
    neighbours = {"key0": (-2, "key1"), "key3": (2, "key2")}  # context role ← (position offset, role) in its sequence
    student = None  # its flows and warps are not distilled (yet)

    def default_config(self) -> dict:
        return {"augment": "mirror", "net": InbetweenConfig(context=True, prior=True, parts=True).to_dict()}

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]:
        examples = [example for sequence in find_sequences(paths) for example in triplets(sequence)]
        if not examples:
            raise BadInput(f"{', '.join(map(str, paths))} holds no three different drawings in a row to learn from.")
        return examples

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None:
        first = images["key1"]
        for role, image in images.items():
            if image.size != first.size:
                raise BadInput(
                    f"{sources[role]} is {image.width}×{image.height} but {sources['key1']} is "
                    f"{first.width}×{first.height}; export every frame of an animation at the same size."
                )

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """The keys and, where the example has them, the keys around them (`neighbours`); else each key repeats."""
        first, last = pixels(images["key1"]), pixels(images["key2"])
        before = pixels(images["key0"]) if "key0" in images else first
        after = pixels(images["key3"]) if "key3" in images else last
        return np.concatenate([first, last, before, after], axis=-1), pixels(images["inbetween"])

    def baseline(self, keys: np.ndarray) -> np.ndarray:
        """The in-between a machine draws without learning: the two keys cross-faded (premultiplied)."""
        return (keys[..., :4] + keys[..., 4:8]) / 2.0

    def network(self, config: dict) -> nn.Module:
        return InbetweenNet(InbetweenConfig(**config["net"]))

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        made = net(inputs)
        return F.l1_loss(made, targets) + MOTION_WEIGHT * motion_loss(net, inputs, targets)

    def apply(
        self,
        net: nn.Module,
        inputs: abc.Sequence[np.ndarray],
        options: ApplyOptions,
        on_step: Callable[[int, int], None] | None = None,
    ) -> Iterator[Output]:
        """Every frame in order, gap by gap: each key pose (passed through), then its gap's in-betweens, charted by
        `options.timing` or spaced evenly by `options.between`, each drawn by halving. Holds two keys and one gap's
        drawings at a time, so a long shot of large frames streams through in bounded memory."""
        charts = gap_charts(options, len(inputs) - 1)
        total, done = sum(len(timing.needed(chart)) for chart in charts), [0]

        def drew() -> None:
            done[0] += 1
            if on_step:
                on_step(done[0], total)

        for gap, chart in enumerate(charts):
            first = inputs[gap]
            yield Output(first, gap, drawn=False)
            around = inputs[gap - 1] if gap else None, inputs[gap + 2] if gap + 2 < len(inputs) else None
            for frame in draw_gap(net, [around[0], first, inputs[gap + 1], around[1]], chart, options.tile, drew):
                yield Output(frame, gap)
        yield Output(inputs[len(charts)], len(charts), drawn=False)


def gap_charts(options: ApplyOptions, gaps: int) -> list[timing.Chart]:
    """Each gap's chart: the timing chart's, else `between` in-betweens spaced evenly by halving."""
    if options.timing:
        return timing.parse_chart(options.timing, gaps)
    if options.between not in DEPTHS:
        raise BadInput(
            f"--between {options.between} cannot be drawn by halving; use 1, 3, 7 or 15, or chart the spacing "
            f"with --timing (such as --timing 1/3,2/3)."
        )
    return [timing.even(options.between)] * gaps


def draw_gap(
    net: nn.Module, keys: list[np.ndarray | None], chart: timing.Chart, tile: int, drew: Callable[[], None]
) -> list[np.ndarray]:
    """The chart's in-betweens between keys[1] and keys[2]: each position's drawing made by halving, the halves it
    needs first. keys[0] and keys[3] are the keys before and after (None at the shot's ends); a half reads the
    drawings one half-length before and after it where they are drawn."""
    made = {Fraction(place - 1): key for place, key in enumerate(keys) if key is not None}
    for place in timing.needed(chart):
        before, after = timing.halvings(place)
        length = after - before
        around = made.get(before - length), made.get(after + length)
        made[place] = halfway(net, made[before], made[after], tile, around)
        drew()
    return [made[timing.drawn_at(place)] for place in chart]


def halfway(
    net: nn.Module,
    first: np.ndarray,
    last: np.ndarray,
    tile: int,
    around: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> np.ndarray:
    """The drawing halfway between two straight-RGBA frames, reading the drawings `around` them where given (else
    each key repeats, as at a shot's ends); a hold stays a hold."""
    if np.array_equal(first, last):
        return first.copy()
    before = first if around[0] is None else around[0]
    after = last if around[1] is None else around[1]
    return transform(net, np.concatenate([first, last, before, after], axis=-1), net.margin, tile)


def drawings(sequence: Sequence) -> list[tuple[Source, str]]:
    """The sequence's frames with holds collapsed: (first frame of each drawing, its pixel digest)."""
    kept: list[tuple[Source, str]] = []
    size = None
    for source in sequence.frames:
        image = read_frame(source)
        if size is None:
            size, first = image.size, source
        elif image.size != size:
            raise BadInput(
                f"{source} is {image.width}×{image.height} but {first} is {size[0]}×{size[1]}; "
                "export every frame of an animation at the same size."
            )
        digest = pixel_digest(image)
        if sequence.explicit or not kept or kept[-1][1] != digest:
            kept.append((source, digest))
    return kept


def triplets(sequence: Sequence) -> list[FoundExample]:
    """Each run of three consecutive drawings, the middle one to be learned; a named triplet as it is."""
    kept = drawings(sequence)
    if len(kept) < 3:
        raise BadInput(
            f"{sequence.frames[0].path} has {len(kept)} different drawing(s); an in-between example needs three "
            "in a row (key, in-between, key)."
        )
    digests = [digest for _, digest in kept]
    group = hashlib.sha256(" ".join(digests).encode()).hexdigest()
    if sequence.explicit:
        return [FoundExample(sequence.name, dict(zip(InbetweenKind.roles, [s for s, _ in kept], strict=True)), group)]
    return [
        FoundExample(
            f"{sequence.name} {index:03d}",
            {"key1": kept[index - 1][0], "inbetween": kept[index][0], "key2": kept[index + 1][0]},
            group,
            index,
        )
        for index in range(1, len(kept) - 1)
    ]
