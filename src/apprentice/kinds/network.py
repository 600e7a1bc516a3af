"""The image-to-image network shared by the paired kinds: small, fully convolutional, residual.

Pixel-unshuffle stems move work to quarter resolution, where most of the layers run; a skip at half
resolution and the input itself keep thin lines sharp. Every weight is learned from the workshop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class NetConfig:
    """Shape of the network; stored in every checkpoint and manifest."""

    channels: int = 4  # premultiplied RGBA in and out
    width: int = 32  # features at half resolution; 0: none (the stem goes straight to quarter resolution)
    deep_width: int = 64  # features at quarter resolution
    blocks: int = 4  # residual blocks at quarter resolution
    link: int = 3  # kernel of the convolutions between half and quarter resolution (1: cheaper)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def margin(self) -> int:
        """Pixels of context each output pixel sees on each side, rounded up to the stem's stride."""
        half_res = 2 * 2 if self.width else 0  # two 3×3 convs at half resolution, 2 px each
        links = 2 if self.link == 3 or not self.width else 0  # without half resolution: 3×3 stem and head
        quarter_res = 4 * (2 * self.blocks + links)  # 3×3 convs at quarter resolution, 4 px each
        radius = half_res + quarter_res + 4
        return -(-radius // 4) * 4


def act(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU: units that go negative on white paper still learn."""
    return F.leaky_relu(x, 0.1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(act(self.conv1(x)))


class PairedNet(nn.Module):
    """Maps a premultiplied RGBA image (N×4×H×W, H and W multiples of 4) to one of the same shape."""

    takes_bf16 = True  # features follow the weights' dtype (kinds.precision)

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        c, w, d = config.channels, config.width, config.deep_width
        self.config = config
        self.blocks = nn.Sequential(*[ResidualBlock(d) for _ in range(config.blocks)])
        if not w:  # each quarter-resolution feature reads and writes a 4×4 block of pixels
            self.stem, self.head = nn.Conv2d(16 * c, d, 3, padding=1), nn.Conv2d(d, 16 * c, 3, padding=1)
            return
        self.stem = nn.Conv2d(4 * c, w, 3, padding=1)
        self.down = nn.Conv2d(4 * w, d, config.link, padding=config.link // 2)
        self.up = nn.Conv2d(d, 4 * w, config.link, padding=config.link // 2)
        self.fuse = nn.Conv2d(2 * w, w, 3, padding=1)
        self.head = nn.Conv2d(w, 4 * c, 3, padding=1)

    @property
    def margin(self) -> int:
        return self.config.margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features in the weights' dtype (float32, or bfloat16 for a faster apply); the input's skip in x's."""
        centred = (x * 2.0 - 1.0).to(self.head.weight.dtype)  # paper is mostly white: centring keeps units alive
        if not self.config.width:
            deep = self.blocks(act(self.stem(F.pixel_unshuffle(centred, 4))))
            return x + F.pixel_shuffle(self.head(deep), 4).to(x.dtype)
        half = act(self.stem(F.pixel_unshuffle(centred, 2)))
        deep = self.blocks(act(self.down(F.pixel_unshuffle(half, 2))))
        up = act(F.pixel_shuffle(self.up(deep), 2))
        fused = act(self.fuse(torch.cat([half, up], dim=1)))
        return x + F.pixel_shuffle(self.head(fused), 2).to(x.dtype)
