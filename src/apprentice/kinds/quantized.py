"""The paired network in 8-bit integers for a faster apply (1.8–2.9× float32's speed): PyTorch's FX quantization
on oneDNN, with activation ranges measured on the apprentice's own training patches when it was trained.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Iterable

import torch
from torch import nn
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver, QConfig, QConfigMapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
from torch.nn import functional as F

from apprentice.kinds.network import PairedNet, strided

ENGINE = "onednn"  # on a 2-core Zen 3 1.7× the Mpx/s of "x86" (fbgemm) for the app's student
PAD = 0.5  # the centred network's zero padding, in the input's own units (x·2 − 1 = 0)
FORM = 2  # the layout of the 8-bit trunk (2: `SplitFuse`); ranges and guards measured on another are not used

# Weights in 7 bits (per output channel, symmetric), activations in 8: without VNNI, x86 adds pairs of u8×s8
# products in 16 bits, which 8-bit weights can overflow, so the drawing would depend on the CPU. 7-bit activations
# instead cost the flats bench 0.5 dB; 7-bit weights cost it 0.04 (bench/RESULTS.md, issue 18).
QCONFIG = QConfig(
    activation=MinMaxObserver.with_args(dtype=torch.quint8),
    weight=PerChannelMinMaxObserver.with_args(
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-64, quant_max=63
    ),
)

# Each activation's range may leave out the rarest share of its values at either end: min/max let a few rare values
# widen every other value's 8-bit step. Which share suits is the network's own: `measure_ranges` keeps the one whose
# 8-bit drawing of the training patches is closest to float32's. On 10 flats apprentices (teachers and students) its
# drawings of unseen pairs came closer to float32's in 7 (equal in 2), and the dB lost to 8 bits fell from 0.055 to
# 0.012 on average, within the noise of colour flips; leaving out 5e-4 cost more (bench/RESULTS.md, issue 18).
TAILS = (0.0, 1e-5, 1e-4)
SAMPLE = 100_000  # values each activation keeps of each batch to find its range


class Tails(MinMaxObserver):
    """An activation observer that keeps, beside its min and max, a sample of each batch it sees, so that its range
    (`window`) can leave out the rarest of its values. The sample is drawn from a fixed seed: the same patches, the
    same range."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[torch.Tensor] = []
        self.draws = torch.Generator().manual_seed(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = x.detach().float().flatten()
        if values.numel() > SAMPLE:
            values = values[torch.randint(values.numel(), (SAMPLE,), generator=self.draws)]
        self.kept.append(values)
        return super().forward(x)

    def window(self, tail: float) -> list[float]:
        """[low, high]: the values `tail` from either end of those kept (0: the least and greatest seen)."""
        if not tail:
            return [float(self.min_val), float(self.max_val)]
        low, high = torch.quantile(torch.cat(self.kept), torch.tensor([tail, 1.0 - tail])).tolist()
        return [low, high]


MEASURE = QConfig(activation=Tails.with_args(dtype=torch.quint8), weight=QCONFIG.weight)


def can_int8() -> bool:
    """Whether this PyTorch has the oneDNN engine its 8-bit convolutions run on."""
    return ENGINE in torch.backends.quantized.supported_engines


def takes_int8(net: nn.Module) -> bool:
    """Whether `net` is a network `in_int8` converts (the paired network; not the in-betweener)."""
    return isinstance(net, PairedNet) and can_int8()


class Trunk(nn.Module):
    """The network up to its heads, reading x itself: the stem's weights absorb the centring (x·2 − 1) and its
    padding is done by the caller, with PAD, so the 8-bit input holds each uint8 level exactly."""

    def __init__(self, net: PairedNet) -> None:
        super().__init__()
        self.net = strided(net)
        stem = self.net.stem
        self.pad = stem.padding[0]
        made = nn.Conv2d(stem.in_channels, stem.out_channels, stem.kernel_size, stride=stem.stride, padding=0)
        with torch.no_grad():
            made.weight.copy_(stem.weight * 2.0)
            made.bias.copy_(stem.bias - stem.weight.sum(dim=(1, 2, 3)))
        self.net.stem = made
        if net.config.width:
            self.net.fuse = SplitFuse(self.net.fuse)

    def forward(self, padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net.trunk(padded)


class SplitFuse(nn.Module):
    """`network.Fuse` as two convolutions, one for each side, added: the same function without the concatenation,
    which in 8 bits brings both sides back to float32 (their ranges differ): 30 % of the student's time on a tile."""

    def __init__(self, fuse: nn.Conv2d) -> None:
        super().__init__()
        side = fuse.in_channels // 2
        shape = {"kernel_size": fuse.kernel_size, "padding": fuse.padding}
        self.from_half, self.from_up = (nn.Conv2d(side, fuse.out_channels, **shape) for _ in range(2))
        with torch.no_grad():
            self.from_half.weight.copy_(fuse.weight[:, :side])
            self.from_half.bias.copy_(fuse.bias)
            self.from_up.weight.copy_(fuse.weight[:, side:])
            self.from_up.bias.zero_()

    def forward(self, half: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return self.from_half(half) + self.from_up(up)


class Int8Net(nn.Module):
    """A paired network whose trunk runs in 8-bit integers; takes and returns float32 like the original."""

    def __init__(self, net: PairedNet, core: nn.Module, pad: int) -> None:
        super().__init__()
        self.net, self.core, self.pad = net, core, pad

    @property
    def margin(self) -> int:
        return self.net.margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (self.pad,) * 4, value=PAD)
        head, picks = self.core(padded)
        return self.net.chosen(x, head, picks)


def prepared(net: PairedNet, qconfig: QConfig = QCONFIG) -> tuple[torch.fx.GraphModule, int]:
    """The trunk with an observer on every activation (`qconfig`'s), and the padding its caller does."""
    torch.backends.quantized.engine = ENGINE  # process-wide; nothing else in Apprentice runs quantized
    trunk = Trunk(copy.deepcopy(net).float().eval())
    example = torch.zeros(1, net.config.channels, 16 + 2 * trunk.pad, 16 + 2 * trunk.pad)
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao; it is pinned here
        warnings.simplefilter("ignore")
        made = prepare_fx(trunk, QConfigMapping().set_global(qconfig), (example,))
    return made, trunk.pad


def observers(model: torch.fx.GraphModule) -> dict[str, MinMaxObserver]:
    """The activation observers of a prepared trunk, by name."""
    return {name: module for name, module in model.named_modules() if isinstance(module, MinMaxObserver)}


def input_observer(model: torch.fx.GraphModule) -> str:
    """The name of the observer on the trunk's input."""
    for node in model.graph.nodes:
        if node.op == "call_module" and node.args and getattr(node.args[0], "op", "") == "placeholder":
            return str(node.target)
    raise AssertionError("a prepared trunk observes its input")


def measure_ranges(
    net: PairedNet, batches: Iterable[torch.Tensor], tails: Iterable[float] = TAILS
) -> dict[str, list[float]]:
    """Each activation's range over the batches (N×4×H×W in [0, 1], premultiplied), by observer name: [low, high]
    leaving out one share of its values at either end (`Tails`; 0: [min, max]), of `tails` the one whose 8-bit drawing
    of the batches is closest to float32's (the first, where they tie). The input's is [0, 1] whatever they hold."""
    batches = [batch.float() for batch in batches]
    model, pad = prepared(net, MEASURE)
    with torch.inference_mode():
        for batch in batches:
            model(F.pad(batch, (pad,) * 4, value=PAD))
    found = {name: o for name, o in observers(model).items() if isinstance(o, Tails)}
    made = [{name: o.window(tail) for name, o in found.items()} | {input_observer(model): [0.0, 1.0]} for tail in tails]
    if len(made) == 1:
        return made[0]
    with torch.inference_mode():
        drawn = [net.eval()(batch) for batch in batches]
    return min(made, key=lambda ranges: distance(net, ranges, batches, drawn))


def distance(
    net: PairedNet, ranges: dict[str, list[float]], batches: list[torch.Tensor], drawn: list[torch.Tensor]
) -> float:
    """Mean squared difference between the network's drawing of the batches in 8 bits at `ranges` and `drawn`, its
    drawing of them in float32."""
    fast = in_int8(net, ranges)
    if fast is None:
        return math.inf
    with torch.inference_mode():
        return float(sum(torch.mean((fast(b) - d) ** 2) for b, d in zip(batches, drawn, strict=True))) / len(batches)


def valid_ranges(ranges: object, names: Iterable[str]) -> bool:
    """Whether `ranges` (perhaps from another member's manifest) gives exactly these observers finite [min, max]."""
    if not isinstance(ranges, dict) or set(ranges) != set(names):
        return False
    for value in ranges.values():
        if not isinstance(value, list) or len(value) != 2:
            return False
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            return False
        if not -1e6 <= value[0] <= value[1] <= 1e6:
            return False
    return True


def in_int8(net: PairedNet, ranges: object) -> Int8Net | None:
    """The network with its trunk in 8-bit integers at the recorded ranges; None where they do not fit it."""
    model, pad = prepared(net)
    found = observers(model)
    if not valid_ranges(ranges, found):
        return None
    for name, observer in found.items():
        low, high = ranges[name]
        observer.min_val.fill_(min(float(low), 0.0))
        observer.max_val.fill_(max(float(high), 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        core = convert_fx(model)
    return Int8Net(net.eval(), core, pad).eval()
