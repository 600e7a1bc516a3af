"""Image quality as the artist sees it: PSNR and SSIM of the picture composited over white paper.

Computed only on held-out pixels; the identity (before vs after) gives the baseline to beat.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F


def over_white(premultiplied: np.ndarray) -> np.ndarray:
    """H×W×4 premultiplied RGBA → H×W×3 RGB as seen on white paper."""
    return premultiplied[..., :3] + (1.0 - premultiplied[..., 3:4])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1] (capped at 100 for identical images)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse <= 1e-10 else 10.0 * math.log10(1.0 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004: 11-px Gaussian window, σ 1.5) over RGB channels.

    Images narrower than 11 px use the largest odd window that fits.
    """
    x = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)
    y = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)).permute(2, 0, 1)
    side = min(11, x.shape[-2], x.shape[-1])
    size = side if side % 2 else side - 1
    taps = torch.exp(-((torch.arange(size) - (size - 1) / 2) ** 2) / (2 * 1.5**2))
    taps = taps / taps.sum()
    moments = torch.cat([x, y, x * x, y * y, x * y])[None]  # blurred together: one pass per direction
    count = moments.shape[1]
    moments = F.conv2d(moments, taps.view(1, 1, size, 1).expand(count, 1, size, 1), groups=count)
    moments = F.conv2d(moments, taps.view(1, 1, 1, size).expand(count, 1, 1, size), groups=count)
    mx, my, xx, yy, xy = moments[0].split(x.shape[0])
    vx, vy, cov = xx - mx**2, yy - my**2, xy - mx * my
    c1, c2 = 0.01**2, 0.03**2
    score = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(score.mean())


def image_scores(prediction: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of two premultiplied RGBA arrays, seen over white."""
    seen, wanted = over_white(prediction), over_white(target)
    return {"psnr": psnr(seen, wanted), "ssim": ssim(seen, wanted)}
