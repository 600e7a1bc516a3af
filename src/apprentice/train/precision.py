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
from apprentice.kinds.precision import BF16, FP32, INT8, Guard, runner, takes_bf16
from apprentice.kinds.quantized import measure_ranges, takes_int8
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


def measure_guard(net: nn.Module, validation: list[Pair], how: Finish) -> Guard | None:
    """bfloat16 against float32 on the held-out examples; None for a network that cannot run in bfloat16."""
    if not takes_bf16(net) or not validation:
        return None
    fp32, bf16 = (held_out_psnr(runner(net.eval(), precision), validation, how) for precision in (FP32, BF16))
    return Guard(BF16, fp32, bf16)


def measure_int8(net: nn.Module, validation: list[Pair], how: Finish, patches: Iterable[torch.Tensor]) -> dict | None:
    """8-bit integers against float32 on the held-out examples, at activation ranges measured on `patches` (training
    inputs, never the held-out ones): the guard's record and the ranges; None for a network it cannot convert."""
    if not takes_int8(net) or not validation:
        return None
    ranges = measure_ranges(net.eval(), patches)
    fp32, int8 = (held_out_psnr(runner(net, p, ranges), validation, how) for p in (FP32, INT8))
    return Guard(INT8, fp32, int8).to_dict() | {"ranges": ranges}
