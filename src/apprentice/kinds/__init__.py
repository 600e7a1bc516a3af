"""Task kinds: one module per kind, each a small plugin the generic import, training and apply call.

A kind says which parts an example has, how to find examples among files, how to turn an example's
images into (input, target) arrays, which network to build, and how to apply a trained one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from torch import nn

from apprentice.errors import BadInput
from apprentice.formats.pairs import Source


@dataclass(frozen=True)
class FoundExample:
    """An example found among files, before it is stored: a name and a source for each role.

    Examples cut from one animation share a `sequence` id and are held out from training together.
    """

    name: str
    parts: dict[str, Source]
    sequence: str = ""
    position: int = 0


class Kind(Protocol):
    name: str
    roles: tuple[str, ...]
    target: str  # the role the network learns to draw
    baseline_name: str  # what the no-learning baseline does, in the user's words
    train_defaults: dict  # TrainConfig fields this kind sets differently
    reverse: bool  # whether the input holds two frames whose order may be swapped in training

    def default_config(self) -> dict: ...

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]: ...

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None: ...

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]: ...

    def baseline(self, inputs: np.ndarray) -> np.ndarray: ...

    def network(self, config: dict) -> nn.Module: ...

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...


def get_kind(name: str) -> Kind:
    from apprentice.kinds.inbetween import InbetweenKind
    from apprentice.kinds.paired import PairedKind

    kinds: dict[str, Kind] = {"paired": PairedKind(), "inbetween": InbetweenKind()}
    if name not in kinds:
        raise BadInput(f"'{name}' is not a task kind Apprentice knows; use one of: {', '.join(kinds)}.")
    return kinds[name]
