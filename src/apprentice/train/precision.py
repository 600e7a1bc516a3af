"""The quality guard on a faster apply: what bfloat16 costs a trained apprentice on its held-out examples.

Measured once, when the apprentice is published; the manifest records it and apply never runs in bfloat16 where
it costs more than `kinds.precision.MAX_LOSS_DB`.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds.finish import Finish, finish
from apprentice.kinds.precision import BF16, FP32, Bf16Guard, runner, takes_bf16
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


def measure_guard(net: nn.Module, validation: list[Pair], how: Finish) -> Bf16Guard | None:
    """bfloat16 against float32 on the held-out examples; None for a network that cannot run in bfloat16."""
    if not takes_bf16(net) or not validation:
        return None
    fp32, bf16 = (held_out_psnr(runner(net.eval(), precision), validation, how) for precision in (FP32, BF16))
    return Bf16Guard(fp32, bf16)
