"""Apply a fully convolutional network to an image of any size, tile by tile, with no seams.

Each tile is cut with `margin` pixels of real context on every side (at least the network's receptive
radius), so the tiled result equals the whole-image result; memory stays bounded by the tile size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from apprentice.formats.images import premultiplied_tensor, straight_rgba

ALIGN = 4  # the paired network's stems halve the resolution twice; a network may ask for more (`align`)


def spans(length: int, tile: int) -> list[tuple[int, int]]:
    """[start, end) spans of at most `tile` pixels covering 0..length (starts aligned when `tile` is)."""
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def window(rgba: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """rgba[y0:y1, x0:x1], with rows and columns past the image repeating its last row and column."""
    height, width = rgba.shape[:2]
    inside = rgba[y0 : min(y1, height), x0 : min(x1, width)]
    extra = ((0, max(0, y1 - height)), (0, max(0, x1 - width)), (0, 0))
    return np.pad(inside, extra, mode="edge") if extra[0][1] or extra[1][1] else inside


def run(net: nn.Module, rgba: np.ndarray) -> torch.Tensor:
    """The network on one uint8 straight-RGBA window (sides multiples of its alignment); premultiplied H×W×4 out."""
    tensor = premultiplied_tensor(rgba).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return net(tensor)[0].permute(1, 2, 0)


def transform(
    net: nn.Module,
    rgba: np.ndarray,
    margin: int,
    tile: int = 1024,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Apply `net` to a uint8 H×W×4 straight-RGBA image (H×W×8 for two frames); returns H×W×4 straight RGBA."""
    height, width = rgba.shape[:2]
    align = getattr(net, "align", ALIGN)
    padded_h, padded_w = -(-height // align) * align, -(-width // align) * align
    tile = max(align, tile // align * align)
    out = np.empty((height, width, 4), dtype=np.uint8)
    tiles = [(ys, xs) for ys in spans(padded_h, tile) for xs in spans(padded_w, tile)]
    for done, ((y0, y1), (x0, x1)) in enumerate(tiles, start=1):
        wy0, wy1 = max(0, y0 - margin), min(padded_h, y1 + margin)
        wx0, wx1 = max(0, x0 - margin), min(padded_w, x1 + margin)
        result = run(net, window(rgba, wy0, wy1, wx0, wx1))
        core = straight_rgba(result[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0])
        out[y0 : min(y1, height), x0 : min(x1, width)] = core[: min(y1, height) - y0, : min(x1, width) - x0]
        if on_tile:
            on_tile(done, len(tiles))
    return out
