"""What a task kind is: the protocol every kind module implements, and the values kinds hand back.

A kind says which parts an example has, how to find examples among files, how to turn an example's images
into (input, target) arrays, which network to build, how its apply inputs are read, and how to apply it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn

from apprentice.formats.pairs import Source
from apprentice.kinds.options import ApplyOptions

AUGMENTATIONS = ("none", "mirror", "mirror+rotate")  # what training may do to any kind's examples

Inputs = Literal["each", "sequence"]  # each drawing on its own, or all inputs as one ordered run of key poses


@dataclass(frozen=True)
class FoundExample:
    """An example found among files, before it is stored: a name and a source for each role.

    Examples cut from one animation share a `sequence` id and are held out from training together.
    """

    name: str
    parts: dict[str, Source]
    sequence: str = ""
    position: int = 0


@dataclass(frozen=True)
class Output:
    """One drawing a kind's apply step made: H×W×4 straight-RGBA uint8, and where it came from.

    `source` is the index of the input it was made from (in a sequence, the key pose before it); `drawn` is
    False for an input passed through unchanged, such as a key pose, which carries no apprentice credentials.
    """

    pixels: np.ndarray
    source: int = 0
    drawn: bool = True


class Kind(Protocol):
    name: str
    about: str  # what it learns, inputs → outputs, for help texts: "learn a before → after step"
    applying: str  # what applying it is called while it runs: "applying", "drawing in-betweens"
    roles: tuple[str, ...]
    target: str  # the role the network learns to draw
    baseline_name: str  # what the no-learning baseline does, in the user's words
    train_defaults: dict  # TrainConfig fields this kind sets differently
    reverse: bool  # whether the input holds two frames whose order may be swapped in training
    inputs: Inputs  # how apply reads its inputs: each drawing on its own, or all as one sequence of key poses
    uploads_in_order: bool  # whether uploaded still files are one sequence, in name order
    input_channels: int  # channels of the network's input: 4 (premultiplied RGBA) per image it sees
    neighbours: dict[str, tuple[int, str]]  # parts read from the examples beside one in its sequence: role ← (offset,
    # their role); {} for kinds that read each example alone
    student: dict | None  # the cheaper network (its "net" settings) a trained apprentice teaches for a faster apply;
    # None: the kind has none (train.distil)

    def default_config(self) -> dict: ...

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]: ...

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None: ...

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]: ...

    def baseline(self, inputs: np.ndarray) -> np.ndarray: ...

    def network(self, config: dict) -> nn.Module: ...

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def apply(
        self,
        net: nn.Module,
        inputs: Sequence[np.ndarray],
        options: ApplyOptions,
        on_step: Callable[[int, int], None] | None = None,
    ) -> Iterable[Output]:
        """The drawings the network makes from straight-RGBA inputs: one input (and one output) at a time for
        `each` kinds, every key pose in order for `sequence` kinds (which may read the keys lazily, by index, and
        yield frames as they are drawn); `on_step(done, total)` reports progress."""
        ...
