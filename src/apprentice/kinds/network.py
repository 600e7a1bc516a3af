"""The image-to-image network shared by the paired kinds: small, fully convolutional, residual.

Pixel-unshuffle stems move work to quarter resolution, where most of the layers run; a skip at half
resolution and the input itself keep thin lines sharp. Every weight is learned from the workshop.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from apprentice.errors import BadInput


@dataclass(frozen=True)
class NetConfig:
    """Shape of the network; stored in every checkpoint and manifest."""

    channels: int = 4  # premultiplied RGBA in and out
    width: int = 32  # features at half resolution; 0: none (the stem goes straight to quarter resolution)
    deep_width: int = 64  # features at quarter resolution
    blocks: int = 4  # residual blocks at quarter resolution
    link: int = 3  # kernel of the convolutions between half and quarter resolution (1: cheaper)

    def __post_init__(self) -> None:
        """A manifest may come from another member: a network far larger than any Apprentice builds is refused
        before its layers take the memory."""
        within = 0 <= self.width <= 256 and 1 <= self.deep_width <= 512 and 0 <= self.blocks <= 32
        if self.channels != 4 or self.link not in (1, 3) or not within:
            raise BadInput(f"The network {self.to_dict()} is not one Apprentice builds; fetch or train it again.")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds per output pixel of the drawing (the picking head aside): what apply's time follows."""
        c, w, d, k = self.channels, self.width, self.deep_width, self.link * self.link
        blocks = 2 * self.blocks * d * d * 9 // 16  # at quarter resolution: 16 pixels per feature
        if not w:
            return blocks + 2 * 16 * c * d * 9 // 16
        half = (4 * c * w * 9 + 2 * w * w * 9 + w * 4 * c * 9) // 4  # stem, fuse and head at half resolution
        return half + blocks + 2 * 4 * w * d * k // 16

    @property
    def margin(self) -> int:
        """Pixels of context each output pixel sees on each side, rounded up to the stem's stride."""
        half_res = 2 * 2 if self.width else 0  # two 3×3 convs at half resolution, 2 px each
        links = 2 if self.link == 3 or not self.width else 0  # without half resolution: 3×3 stem and head
        quarter_res = 4 * (2 * self.blocks + links)  # 3×3 convs at quarter resolution, 4 px each
        radius = half_res + quarter_res + 4
        return -(-radius // 4) * 4


IGNORED = -100  # cross-entropy's ignore index: pixels whose colour is not among the choices


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


class Fuse(nn.Conv2d):
    """The 3×3 convolution that joins the half-resolution features with those brought up from quarter resolution:
    one convolution over both, side by side (`kinds.quantized` splits it in two, one for each, and adds them)."""

    def forward(self, half: torch.Tensor, up: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(torch.cat([half, up], dim=1))


class PairedNet(nn.Module):
    """Maps a premultiplied RGBA image (N×4×H×W, H and W multiples of 4) to one of the same shape.

    Given the task's palette (`pick_from`), a second head scores, for each pixel, keeping the input's colour or
    taking each palette colour; while `picking`, the network in eval mode draws the best-scored choice (where its
    share of the scores, softmax, is at least `sure`; elsewhere the drawing, which the finish then snaps).
    """

    takes_bf16 = True  # features follow the weights' dtype (kinds.precision)

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        c, w, d = config.channels, config.width, config.deep_width
        self.config = config
        self.blocks = nn.Sequential(*[ResidualBlock(d) for _ in range(config.blocks)])
        self.picker: nn.Conv2d | None = None
        self.picking = False
        self.sure = 0.0  # while picking, a pixel whose best choice has a smaller share of the scores keeps the drawing
        self.strided = False  # True in `strided`'s copy: stem (and down) read full resolution with a stride
        if not w:  # each quarter-resolution feature reads and writes a 4×4 block of pixels
            self.stem, self.head = nn.Conv2d(16 * c, d, 3, padding=1), nn.Conv2d(d, 16 * c, 3, padding=1)
            return
        self.stem = nn.Conv2d(4 * c, w, 3, padding=1)
        self.down = nn.Conv2d(4 * w, d, config.link, padding=config.link // 2)
        self.up = nn.Conv2d(d, 4 * w, config.link, padding=config.link // 2)
        self.fuse = Fuse(2 * w, w, 3, padding=1)
        self.head = nn.Conv2d(w, 4 * c, 3, padding=1)

    @property
    def margin(self) -> int:
        return self.config.margin

    @property
    def scale(self) -> int:
        """How many pixels a side each of the heads' features draws (its pixel shuffle's factor)."""
        return 2 if self.config.width else 4

    @property
    def multiply_adds(self) -> int:
        return self.config.multiply_adds

    def for_applying(self) -> PairedNet:
        """The same function in the form that applies fastest (`strided`)."""
        return strided(self)

    def pick_from(self, palette: torch.Tensor) -> None:
        """Add the picking head over a K×4 uint8 palette of straight RGBA colours (K+1 choices: the input's first)."""
        scale, source = self.scale, self.head.in_channels
        self.register_buffer("palette", palette.to(torch.uint8).reshape(-1, 4))
        self.picker = nn.Conv2d(source, scale * scale * (len(self.palette) + 1), 3, padding=1)
        self.picking = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.chosen(x, *self.trunk(self.centred(x)))

    def chosen(self, x: torch.Tensor, head: torch.Tensor, picks: torch.Tensor | None) -> torch.Tensor:
        """What the network outputs from `trunk`'s outputs: the drawing, or, while picking in eval mode, the
        best-scored choice where it is sure enough. Each pixel chooses before the pixel shuffle, among its K+1 scores
        there, so only the choice reaches full resolution (all K+1 there took most of an 8-bit student's time)."""
        drawn, _ = self.shuffled(x, head, None)
        if picks is None or self.training or not self.picking:
            return drawn
        scale = self.scale
        scores = picks.to(x.dtype).unflatten(1, (-1, scale * scale))  # N×(K+1)×s²×h×w, in pixel_shuffle's order
        best, choice = scores.max(dim=1)  # (shuffled as floats: ONNX Runtime's pixel shuffle takes no integers)
        picked = self.picked(x, F.pixel_shuffle(choice.to(x.dtype), scale).long())
        if not self.sure:
            return picked
        chance = 1.0 / torch.exp(scores - best.unsqueeze(1)).sum(dim=1)  # the softmax's largest share
        return torch.where(F.pixel_shuffle(chance, scale) >= self.sure, picked, drawn)

    def both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the drawn image, the choices' scores N×(K+1)×H×W, or None without a palette), as training sees them.
        Features in the weights' dtype (float32, or bfloat16 for a faster apply); the input's skip and the outputs
        in x's."""
        return self.shuffled(x, *self.trunk(self.centred(x)))

    def centred(self, x: torch.Tensor) -> torch.Tensor:
        """x·2 − 1 in the weights' dtype: paper is mostly white, and centring keeps units alive."""
        return (x * 2.0 - 1.0).to(self.head.weight.dtype)

    def trunk(self, centred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The head's and the picking head's outputs (None without one), before their pixel shuffle, from the
        centred input (x·2 − 1; x itself in `kinds.quantized.Trunk`'s copy, whose stem absorbs the centring)."""
        if not self.config.width:
            features = self.blocks(act(self.unshuffled(self.stem, centred, 4)))
        else:
            half = act(self.unshuffled(self.stem, centred, 2))
            deep = self.blocks(act(self.unshuffled(self.down, half, 2)))
            up = act(F.pixel_shuffle(self.up(deep), 2))
            features = act(self.fuse(half, up))
        return self.head(features), None if self.picker is None else self.picker(features)

    def shuffled(
        self, x: torch.Tensor, head: torch.Tensor, picks: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`both`'s outputs from `trunk`'s: back to full resolution, the drawing as a change to the input."""
        scale = self.scale
        drawn = x + F.pixel_shuffle(head, scale).to(x.dtype)
        return drawn, None if picks is None else F.pixel_shuffle(picks, scale).to(x.dtype)

    def unshuffled(self, conv: nn.Conv2d, x: torch.Tensor, scale: int) -> torch.Tensor:
        """conv(pixel_unshuffle(x, scale)): one strided convolution in `strided`'s copy."""
        return conv(x) if self.strided else conv(F.pixel_unshuffle(x, scale))

    def picked(self, x: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
        """Each pixel's chosen colour: the input's own (choice 0) or palette colour choice - 1."""
        colours = self.colours()[(choice.squeeze(1) - 1).clamp(min=0)].permute(0, 3, 1, 2)
        return torch.where(choice == 0, x, colours.to(x.dtype))

    def colours(self) -> torch.Tensor:
        """The palette as K×4 premultiplied RGBA in float32 (kept as straight uint8, so no dtype change rounds it)."""
        straight = self.palette.float() / 255.0  # in torch, so an exported graph holds it too
        return torch.cat([straight[:, :3] * straight[:, 3:], straight[:, 3:]], dim=1)

    def choices(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The right choice for each target pixel (N×H×W): its palette colour (the first, if it repeats), else keeping
        the input, else IGNORED (a colour the palette lacks). Colours are matched by key, not compared with each
        palette colour in turn: with 45 colours that took a third of a training step."""
        tolerance = 0.5 / 255
        palette = colour_keys(self.colours()[:, :, None, None]).reshape(-1)
        order = torch.argsort(palette, stable=True)
        ordered = palette[order]
        keys = colour_keys(targets)
        place = torch.searchsorted(ordered, keys).clamp(max=len(ordered) - 1)
        found = ordered[place] == keys
        choice = torch.where(found, order[place] + 1, torch.full_like(keys, IGNORED))
        kept = (targets - inputs[:, : targets.shape[1]]).abs().amax(dim=1) <= tolerance
        return torch.where(~found & kept, torch.zeros_like(choice), choice)


def strided(net: PairedNet) -> PairedNet:
    """A copy of the network whose pixel-unshuffles and the convolutions after them (stem, down) are single strided
    convolutions: the same function with two fewer passes over memory (the app's student on a 1024-px tile of a
    2-core Zen 3: 11 of its 213 ms, timed op by op)."""
    if net.strided:
        return net
    made = copy.deepcopy(net)
    made.stem = strided_conv(net.stem, net.scale)
    if net.config.width:
        made.down = strided_conv(net.down, 2)
    made.strided = True
    return made


def strided_conv(conv: nn.Conv2d, scale: int) -> nn.Conv2d:
    """One convolution of stride `scale` computing conv(pixel_unshuffle(x, scale)) from x: unshuffled channel
    c·s² + i·s + j at (y, x) is x's channel c at (s·y + i, s·x + j), so kernel tap (dy, dx) for that channel becomes
    tap (s·dy + i, s·dx + j) of a kernel s times as wide."""
    out, unshuffled, k, _ = conv.weight.shape
    channels = unshuffled // (scale * scale)
    weight = conv.weight.detach().reshape(out, channels, scale, scale, k, k).permute(0, 1, 4, 2, 5, 3)
    made = nn.Conv2d(channels, out, k * scale, stride=scale, padding=conv.padding[0] * scale)
    made = made.to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        made.weight.copy_(weight.reshape(out, channels, k * scale, k * scale))
        made.bias.copy_(conv.bias)
    return made.to(memory_format=torch.channels_last)


def colour_keys(premultiplied: torch.Tensor) -> torch.Tensor:
    """One integer per pixel of N×4×H×W premultiplied RGBA (a straight uint8 colour c with alpha a is c·a/255² in
    it): each colour channel's c·a, alpha's a, packed into 56 bits. Equal keys, equal colours."""
    scaled = torch.round(premultiplied * 255.0 * 255.0).to(torch.int64)
    alpha = torch.round(premultiplied[:, 3] * 255.0).to(torch.int64)
    steps = 255 * 255 + 1
    return ((scaled[:, 0] * steps + scaled[:, 1]) * steps + scaled[:, 2]) * 256 + alpha


def add_picker(net: nn.Module, palette: list[list[int]]) -> bool:
    """Give a network that can pick (a PairedNet) its head over the palette (straight RGBA); False when it cannot."""
    if not palette or not isinstance(net, PairedNet):
        return False
    net.pick_from(torch.tensor(palette, dtype=torch.uint8))
    return True


PICKER_WEIGHTS = ("picker.weight", "picker.bias", "palette")


def drop_picker(net: nn.Module) -> None:
    """Take away a network's picking head, if it has one: the network as published where its finish snaps."""
    if isinstance(net, PairedNet) and net.picker is not None:
        net.picker, net.picking = None, False
        del net.palette


def without_picker(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights of a network that picks, as those of the same network without its picking head."""
    return {name: value for name, value in weights.items() if name not in PICKER_WEIGHTS}
