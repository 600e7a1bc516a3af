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


Span = tuple[int, int]  # [start, end) along one side


def spans(length: int, count: int, align: int) -> list[Span]:
    """At most `count` spans covering 0..length, equal but for the last, each a multiple of `align` (as `length` is)."""
    size = -(-length // count // align) * align
    return [(start, min(start + size, length)) for start in range(0, length, size)]


def grid(height: int, width: int, tile: int, align: int, margin: int) -> tuple[list[Span], list[Span]]:
    """The tiles' rows and columns: each tile at most tile² pixels, each window (a tile and its margin, within the
    image) no larger than a square tile's, and the fewest window pixels in all. A 1920×1088 frame with the
    in-betweener's 160-px margin takes two tiles of 960×1088 (2.4 Mpx of windows), not four of at most 1024² (3.2)."""

    def windows(parts: list[Span], length: int) -> int:
        return sum(min(end + margin, length) - max(start - margin, 0) for start, end in parts)

    best, fewest = None, None
    for rows in range(1, -(-height // align) + 1):
        ys = spans(height, rows, align)
        row = ys[0][1] - ys[0][0]
        columns = -(-width // max(align, tile * tile // row // align * align))
        xs = spans(width, columns, align)
        tall, wide = min(row + 2 * margin, height), min(xs[0][1] - xs[0][0] + 2 * margin, width)
        if row * (xs[0][1] - xs[0][0]) > tile * tile or tall * wide > (tile + 2 * margin) ** 2:
            continue
        cost = windows(ys, height) * windows(xs, width)
        if fewest is None or cost < fewest:
            best, fewest = (ys, xs), cost
        if row <= tile and len(ys) * len(xs) > 4 * -(-height // tile) * -(-width // tile):
            break  # thinner rows only add margins
    assert best is not None, "square tiles of at most `tile` always fit"
    return best


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
    rows, columns = grid(padded_h, padded_w, max(align, tile // align * align), align, margin)
    out = np.empty((height, width, 4), dtype=np.uint8)
    tiles = [(ys, xs) for ys in rows for xs in columns]
    for done, ((y0, y1), (x0, x1)) in enumerate(tiles, start=1):
        wy0, wy1 = max(0, y0 - margin), min(padded_h, y1 + margin)
        wx0, wx1 = max(0, x0 - margin), min(padded_w, x1 + margin)
        result = run(net, window(rgba, wy0, wy1, wx0, wx1))
        core = straight_rgba(result[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0])
        out[y0 : min(y1, height), x0 : min(x1, width)] = core[: min(y1, height) - y0, : min(x1, width) - x0]
        if on_tile:
            on_tile(done, len(tiles))
    return out
