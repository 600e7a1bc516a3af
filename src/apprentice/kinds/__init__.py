"""Task kinds: one module per kind, each a small plugin the generic import, training and apply call.

A kind says which parts an example has, how to find examples among files, how to turn an example's
images into (input, target) arrays, which network to build, and how to apply a trained one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image
from torch import nn

from apprentice.errors import BadInput
from apprentice.formats.pairs import Source


@dataclass(frozen=True)
class FoundExample:
    """An example found among files, before it is stored: a name and a source for each role."""

    name: str
    parts: dict[str, Source]


class Kind(Protocol):
    name: str
    roles: tuple[str, ...]

    def default_config(self) -> dict: ...

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]: ...

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None: ...

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]: ...

    def network(self, config: dict) -> nn.Module: ...


def get_kind(name: str) -> Kind:
    from apprentice.kinds.paired import PairedKind

    kinds: dict[str, Kind] = {"paired": PairedKind()}
    if name not in kinds:
        raise BadInput(f"'{name}' is not a task kind Apprentice knows; use one of: {', '.join(kinds)}.")
    return kinds[name]
