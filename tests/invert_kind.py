"""A third task kind, defined outside Apprentice as a plugin would be: `invert` learns before → inverted after.

It has its own two-layer network; registering `InvertKind()` is all it takes for the CLI and the page to offer it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

from apprentice.errors import BadInput
from apprentice.formats.images import pixels
from apprentice.formats.pairs import Source, find_pairs
from apprentice.kinds import ApplyOptions, FoundExample, Output
from apprentice.kinds.tiling import transform


class InvertNet(nn.Module):
    """Two convolutions: a 3×3 that looks at each pixel's neighbours and a 1×1 that mixes channels."""

    margin = 1  # the 3×3 convolution's reach

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.look, self.mix = nn.Conv2d(4, width, 3, padding=1), nn.Conv2d(width, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(F.relu(self.look(x)))


class InvertKind:
    name = "invert"
    about = "learn to invert a drawing's colours"
    applying = "inverting"
    roles = ("before", "after")
    target = "after"
    baseline_name = "copying the before"
    train_defaults = {"patch": 32, "batch": 4}
    reverse = False
    inputs = "each"
    uploads_in_order = False
    input_channels = 4
    neighbours: dict[str, tuple[int, str]] = {}
    student: dict | None = None

    def default_config(self) -> dict:
        return {"augment": "mirror", "net": {"width": 4}}

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]:
        return [FoundExample(p.name, {"before": p.before, "after": p.after}) for p in find_pairs(paths, "", "")]

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None:
        if images["before"].size != images["after"].size:
            raise BadInput(f"{sources['after']} is not the size of {sources['before']}; export both at one size.")

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        return pixels(images["before"]), pixels(images["after"])

    def baseline(self, before: np.ndarray) -> np.ndarray:
        return before

    def network(self, config: dict) -> nn.Module:
        return InvertNet(**config["net"])

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(net(inputs), targets)

    def apply(
        self,
        net: nn.Module,
        inputs: list[np.ndarray],
        options: ApplyOptions,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[Output]:
        return [Output(transform(net, drawing, net.margin, options.tile), n) for n, drawing in enumerate(inputs)]


def inverted_pair(seed: int, size: tuple[int, int] = (40, 32)) -> tuple[Image.Image, Image.Image]:
    """A picture of random pixels and the same picture with its colours inverted."""
    rng = np.random.default_rng(seed)
    before = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    return before, ImageOps.invert(before)
