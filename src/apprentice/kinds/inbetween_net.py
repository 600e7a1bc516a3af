"""The in-between network: from two drawings, the one halfway between them, learned from scratch.

A small encoder-decoder sees both frames down to 1/16 resolution (room for large motion) and estimates,
at 1/4 resolution, where each middle pixel comes from in either frame (two flows); a second stage looks
at both frames warped by those flows and corrects them at 1/2 resolution, where lines are sharp. Both
frames are warped by the final flows and blended, and a learned correction is added. With `flow=False`
it is a direct-synthesis U-Net over the cross-fade instead. With `context`, the encoder also reads the key before
the first and the key after the last (where the shot has them), so it sees how the motion goes on: arcs, ease.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from apprentice.errors import BadInput
from apprentice.kinds.flow_prior import prior_flows
from apprentice.kinds.network import ResidualBlock, act


@dataclass(frozen=True)
class InbetweenConfig:
    """Shape of the network; stored in every checkpoint and manifest."""

    width: int = 32  # features at 1/2 resolution
    mid_width: int = 48  # at 1/4
    deep_width: int = 64  # at 1/8 and 1/16
    blocks: int = 2  # residual blocks at 1/16
    flow: bool = True  # warp-and-blend (True) or direct synthesis over the cross-fade (False)
    context: bool = False  # also read the keys around the two (absent from apprentices made before it existed)
    prior: bool = False  # start the motion from OpenCV's DIS optical flow between the keys, not from no motion
    parts: bool = False  # … and move each shape that moves as a whole halfway along its own motion (`kinds.parts`)

    def __post_init__(self) -> None:
        """A manifest may come from another member: a network far larger than any Apprentice builds is refused
        before its layers take the memory."""
        sizes = (self.width, self.mid_width, self.deep_width)
        if not all(1 <= size <= 512 for size in sizes) or not 0 <= self.blocks <= 32:
            raise BadInput(f"The network {self.to_dict()} is not one Apprentice builds; fetch or train it again.")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def margin(self) -> int:
        """Context each output pixel sees on each side (the 1/16 convs dominate), in multiples of 16."""
        radius = 16 * (2 * self.blocks + 3) + 8 * 3 + 4 * 3 + 2 * 5
        return -(-radius // 16) * 16


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `image` (N×C×H×W) at each pixel plus `flow` (N×2×H×W, in pixels, x then y); edges repeat."""
    n, _, h, w = image.shape
    ys = torch.arange(h, dtype=image.dtype, device=image.device).view(1, h, 1).expand(n, h, w)
    xs = torch.arange(w, dtype=image.dtype, device=image.device).view(1, 1, w).expand(n, h, w)
    gx = (xs + flow[:, 0]) * (2.0 / max(w - 1, 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def down_conv(width_in: int, width_out: int) -> nn.Conv2d:
    return nn.Conv2d(width_in, width_out, 3, stride=2, padding=1)


class InbetweenNet(nn.Module):
    """Maps N×16×H×W (premultiplied RGBA: the two keys, then the key before the first and the one after the last,
    each repeating its neighbour where the shot has none; H and W multiples of 16) to the N×4×H×W middle frame.
    Without `context` only the two keys are read."""

    align = 16
    takes_bf16 = True  # features follow the weights' dtype (kinds.precision)

    def __init__(self, config: InbetweenConfig) -> None:
        super().__init__()
        w, m, d = config.width, config.mid_width, config.deep_width
        self.config = config
        frames = 7 if config.context else 3  # the keys and their difference; the outer keys and how far each moved
        self.stem = nn.Conv2d(4 * 4 * frames, w, 3, padding=1)  # pixel-unshuffled
        self.to_quarter = nn.Conv2d(4 * w, m, 3, padding=1)
        self.to_eighth = down_conv(m, d)
        self.to_sixteenth = down_conv(d, d)
        self.blocks = nn.Sequential(*[ResidualBlock(d) for _ in range(config.blocks)])
        self.up_eighth = nn.Conv2d(2 * d, d, 3, padding=1)
        self.up_quarter = nn.Conv2d(d + m, m, 3, padding=1)
        self.motion = nn.Conv2d(m, 5, 3, padding=1)  # two flows (x, y each) and a blend weight, at 1/4
        self.refine = nn.Sequential(  # at 1/2: both frames warped by the coarse flows, the flows, the features
            nn.Conv2d(8 + 5 + w, w, 3, padding=1), nn.LeakyReLU(0.1), nn.Conv2d(w, w, 3, padding=1),
            nn.LeakyReLU(0.1), nn.Conv2d(w, 5, 3, padding=1),
        )  # fmt: skip
        self.up_half = nn.Conv2d(m + w + 8 * 4, w, 3, padding=1)
        self.head = nn.Conv2d(w, 4 * 4, 3, padding=1)
        nn.init.zeros_(self.motion.weight)  # start as a plain cross-fade: no motion, equal blend
        nn.init.zeros_(self.motion.bias)
        nn.init.zeros_(self.refine[-1].weight)  # and no correction of it
        nn.init.zeros_(self.refine[-1].bias)
        self.extras: dict[str, torch.Tensor] = {}

    @property
    def margin(self) -> int:
        return self.config.margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features in the weights' dtype (float32, or bfloat16 for a faster apply); flows, warps and the blend in
        x's: a bfloat16 sampling grid would be off by pixels on a large tile."""
        dtype = self.head.weight.dtype
        first, last = x[:, :4], x[:, 4:8]
        seen = [first, last, last - first]
        if self.config.context:
            before, after = x[:, 8:12], x[:, 12:16]
            seen += [before, after, first - before, after - last]
        centred = (torch.cat(seen, dim=1) * 2.0 - 1.0).to(dtype)
        half = act(self.stem(F.pixel_unshuffle(centred, 2)))
        quarter = act(self.to_quarter(F.pixel_unshuffle(half, 2)))
        eighth = act(self.to_eighth(quarter))
        deep = self.blocks(act(self.to_sixteenth(eighth)))
        up = act(self.up_eighth(torch.cat([upsample(deep), eighth], dim=1)))
        up = act(self.up_quarter(torch.cat([upsample(up), quarter], dim=1)))
        motion = upsample(self.motion(up).to(x.dtype), "bilinear") * PIXELS  # flows now in 1/2-resolution pixels
        if self.config.flow:
            if self.config.prior:  # the classical motion, at 1/2 resolution in its pixels (PIXELS), and its blend
                start = prior_flows(first.detach(), last.detach(), self.config.parts).to(x.dtype)
                motion = motion + F.avg_pool2d(start, 2) / PIXELS
            coarse = motion
            small_first, small_last = F.avg_pool2d(first, 2), F.avg_pool2d(last, 2)
            warped = torch.cat([warp(small_first, motion[:, :2]), warp(small_last, motion[:, 2:4])], dim=1)
            motion = motion + self.refine(torch.cat([warped, motion, half.to(x.dtype)], dim=1).to(dtype)).to(x.dtype)
            self.extras = {"flows": (coarse[:, :4], motion[:, :4])} if self.training else {}
        motion = upsample(motion, "bilinear") * PIXELS  # full resolution
        if self.config.flow:
            from_first, from_last = warp(first, motion[:, :2]), warp(last, motion[:, 2:4])
        else:
            from_first, from_last = first, last
        weight = torch.sigmoid(motion[:, 4:])
        blended = weight * from_first + (1.0 - weight) * from_last
        guide = F.pixel_unshuffle(torch.cat([from_first, from_last], dim=1), 2).to(dtype)
        refined = act(self.up_half(torch.cat([upsample(up), half, guide], dim=1)))
        return blended + F.pixel_shuffle(self.head(refined), 2).to(x.dtype)


PIXELS = torch.tensor([2.0, 2.0, 2.0, 2.0, 1.0]).view(1, 5, 1, 1)  # doubling the resolution doubles a flow


def upsample(x: torch.Tensor, mode: str = "nearest") -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))


def motion_loss(net: InbetweenNet, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """How well the flows alone move blurred keys onto the blurred middle: the coarse flows at 1/4 to 1/16,
    the corrected ones at 1/2 and 1/4.

    Thin lines give a warp almost no gradient at full resolution once motion exceeds a pixel or two;
    at coarse scales a line is a soft blob several pixels wide, so large motions can be learned.
    """
    if "flows" not in net.extras:
        return inputs.new_zeros(())
    coarse, refined = net.extras["flows"]  # at 1/2 resolution, in its pixels
    terms = [(coarse, scale) for scale in (4, 8, 16)] + [(refined, scale) for scale in (2, 4)]
    total = inputs.new_zeros(())
    for flows, scale in terms:
        factor = scale // 2
        scaled = flows if factor == 1 else F.avg_pool2d(flows, factor) / factor
        first, last = F.avg_pool2d(inputs[:, :4], scale), F.avg_pool2d(inputs[:, 4:8], scale)
        truth = F.avg_pool2d(targets, scale)
        total = total + F.l1_loss(warp(first, scaled[:, :2]), truth) + F.l1_loss(warp(last, scaled[:, 2:]), truth)
    return total / (2 * len(terms))
