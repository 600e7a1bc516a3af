"""Classical optical flow (OpenCV's DIS) between two keys: where the in-between network's motion starts.

The network learns corrections on top of it from the artist's examples; the flow itself is an input, not a
layer, so no gradient passes through it.
"""

from __future__ import annotations

import numpy as np
import torch

from apprentice.kinds.parts import moved_halfway

SMALLEST = 12  # DIS needs a side of at least 12 pixels; smaller patches start from no motion
LUMA = (0.2126, 0.7152, 0.0722)


def prior_flows(first: torch.Tensor, last: torch.Tensor, parts: bool = False) -> torch.Tensor:
    """N×5×H×W: flows from the middle to the first key and to the last (pixels, x then y) for premultiplied N×4×H×W
    frames, and the blend's logit toward the first key. The flows are half of DIS's both ways, F½→0 ≈ ¼(F1→0 − F0→1)
    and F½→1 = −F½→0 (Super SloMo's estimate), blended evenly; with `parts`, each shape that moves as a whole between
    the keys moves halfway along its own motion instead, and the blend leans on the key that shows what lay behind
    where it left (`kinds.parts`)."""
    import cv2  # only where an apprentice starts from optical flow

    n, _, height, width = first.shape
    flows = np.zeros((n, height, width, 5), np.float32)
    if max(height, width) >= SMALLEST:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        grays = gray_over_white(first), gray_over_white(last)
        for item in range(n):
            a, b = grays[0][item], grays[1][item]
            to_first = (dis.calc(b, a, None) - dis.calc(a, b, None)) / 4
            to_last, blend = -to_first, np.zeros((height, width), np.float32)
            if parts:
                keys = (frame[item].permute(1, 2, 0).float().numpy() for frame in (first, last))
                to_first, to_last, blend = moved_halfway(*keys, (a, b), to_first, to_last)
            flows[item] = np.concatenate([to_first, to_last, blend[..., None]], axis=-1)
    return torch.from_numpy(flows).permute(0, 3, 1, 2).to(first.dtype)


def gray_over_white(frames: torch.Tensor) -> np.ndarray:
    """N×H×W uint8 luminance of premultiplied frames seen over white paper."""
    with torch.no_grad():
        seen = frames[:, :3].float() + (1.0 - frames[:, 3:4].float())
        luma = sum(weight * seen[:, channel] for channel, weight in enumerate(LUMA))
        return np.ascontiguousarray((luma.clamp(0, 1) * 255).round().to(torch.uint8).numpy())
