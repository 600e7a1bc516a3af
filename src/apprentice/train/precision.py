"""The quality guards on a faster apply: what bfloat16 and 8-bit integers cost a trained apprentice on its held-out
examples, and the activation ranges 8-bit integers run at, measured on its training patches.

Measured once, when the apprentice is published; the manifest records them and apply never runs in a precision
that costs more than `kinds.precision.MAX_LOSS_DB`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds.finish import Finish, finish
from apprentice.kinds.precision import BF16, FP32, INT8, Guard, runner, takes
from apprentice.kinds.quantized import measure_ranges
from apprentice.kinds.tiling import transform
from apprentice.train.metrics import image_scores

Pair = tuple[np.ndarray, np.ndarray]  # (premultiplied input, premultiplied target), as validation holds them


def held_out_psnr(net: nn.Module, validation: list[Pair], how: Finish) -> float:
    """Mean held-out PSNR of `net`'s finished drawings, through the tiled path apply takes."""
    scores = []
    for source, target in validation:
        straight = unpremultiply(source)
        inputs = [straight[..., i : i + 4] for i in range(0, straight.shape[-1], 4)]
        made = finish(transform(net, straight, net.margin), inputs, how)
        scores.append(image_scores(premultiply(made), target)["psnr"])
    return float(np.mean(scores))


def measure_guards(
    net: nn.Module, validation: list[Pair], how: Finish, patches: Iterable[torch.Tensor]
) -> tuple[dict | None, dict | None]:
    """The records of bfloat16's and 8-bit integers' guards (None for a precision the network cannot run in): each
    against float32 on the held-out examples; 8-bit's with the activation ranges measured on `patches` (training
    inputs, never the held-out ones)."""
    if not validation:
        return None, None
    fp32 = held_out_psnr(runner(net.eval(), FP32), validation, how)
    bf16 = Guard(BF16, fp32, held_out_psnr(runner(net, BF16), validation, how)).to_dict() if takes(net, BF16) else None
    if not takes(net, INT8):
        return bf16, None
    ranges = measure_ranges(net, patches)
    int8 = Guard(INT8, fp32, held_out_psnr(runner(net, INT8, ranges), validation, how))
    return bf16, int8.to_dict() | {"ranges": ranges}
