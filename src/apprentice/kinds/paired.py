"""The `paired` kind: learn any same-size image → image step from before/after pairs.

Cleanup, inking, flats, recolouring, weight change: the network maps the before to the after.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from apprentice.errors import BadInput
from apprentice.formats.images import pixels
from apprentice.formats.pairs import Source, find_pairs
from apprentice.kinds.kind import AUGMENTATIONS, FoundExample, Output
from apprentice.kinds.network import IGNORED, NetConfig, PairedNet
from apprentice.kinds.options import ApplyOptions
from apprentice.kinds.tiling import transform

__all__ = ["AUGMENTATIONS", "PairedKind"]

PICKING = 0.1  # weight of the picking head's cross-entropy beside the drawn image's loss


class PairedKind:
    name = "paired"
    about = "learn a before → after step"
    applying = "applying"
    roles = ("before", "after")
    target = "after"
    baseline_name = "copying the before"
    train_defaults: dict = {}
    reverse = False
    inputs = "each"
    uploads_in_order = False
    input_channels = 4
    neighbours: dict[str, tuple[int, str]] = {}
    student: dict | None = NetConfig(width=16, deep_width=32, blocks=8, link=1).to_dict()  # 2.9× fewer multiply-adds

    def default_config(self) -> dict:
        return {"augment": "mirror", "net": NetConfig().to_dict()}

    def find_examples(self, paths: list[Path], options: dict) -> list[FoundExample]:
        pairs = find_pairs(paths, options.get("before_layer", ""), options.get("after_layer", ""))
        return [FoundExample(pair.name, {"before": pair.before, "after": pair.after}) for pair in pairs]

    def check(self, name: str, images: dict[str, Image.Image], sources: dict[str, Source]) -> None:
        before, after = images["before"], images["after"]
        if before.size != after.size:
            raise BadInput(
                f"{sources['before']} is {before.width}×{before.height} but {sources['after']} is "
                f"{after.width}×{after.height}; export the before and the after at the same size."
            )

    def arrays(self, images: dict[str, Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        return pixels(images["before"]), pixels(images["after"])

    def baseline(self, before: np.ndarray) -> np.ndarray:
        """The after a machine draws without learning: the before, unchanged."""
        return before

    def network(self, config: dict) -> nn.Module:
        return PairedNet(NetConfig(**config["net"]))

    def loss(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """L1 for crisp edges plus squared error, whose pull does not vanish where a step changes few pixels (an
        outline: under L1 alone the best guess for every pixel stays "unchanged"); with a palette, the picking
        head's cross-entropy against each pixel's right choice."""
        drawn, scores = net.both(inputs)
        loss = F.l1_loss(drawn, targets) + F.mse_loss(drawn, targets)
        if scores is None:
            return loss
        right = net.choices(inputs, targets)
        counted = (right != IGNORED).sum().clamp(min=1)  # a mean over the pixels with a right choice; 0 if none
        return loss + PICKING * F.cross_entropy(scores, right, ignore_index=IGNORED, reduction="sum") / counted

    def apply(
        self,
        net: nn.Module,
        inputs: list[np.ndarray],
        options: ApplyOptions,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[Output]:
        """The after of each before, tile by tile."""
        return [
            Output(transform(net, before, net.margin, options.tile), number) for number, before in enumerate(inputs)
        ]
