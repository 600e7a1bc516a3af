"""The number format apply runs a network in: bfloat16 (where the CPU does it natively) or 8-bit integers where it
measures faster and loses at most 0.2 dB on the held-out examples; float32 everywhere else. Decisions and runners.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from apprentice.kinds.quantized import FORM, in_int8, takes_int8

FP32, BF16, INT8 = "fp32", "bf16", "int8"
FASTER = (BF16, INT8)  # the precisions apply may choose over float32, each only within its guard
PRECISIONS = ("auto", FP32, *FASTER)  # what a user may ask for; auto: the measured choice
NAMES = {FP32: "float32", BF16: "bfloat16", INT8: "8-bit integers"}
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # x86 flags of CPUs that multiply bfloat16 in hardware
MAX_LOSS_DB = 0.2  # the most held-out PSNR a faster precision may cost against float32
FASTER_BY = 1.1  # and it must be at least this much faster to be worth its rounding


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags of /proc/cpuinfo's first processor (x86 `flags`, Arm `Features`); empty when none."""
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def native_bf16(flags: Iterable[str]) -> bool:
    """Whether the CPU computes in bfloat16 itself; elsewhere PyTorch emulates it, several times slower."""
    return any(flag in NATIVE_BF16 for flag in flags)


@dataclass(frozen=True)
class Guard:
    """What a faster precision (bf16, int8) cost an apprentice on its held-out examples, measured at training."""

    precision: str
    fp32_psnr: float
    psnr: float

    @property
    def loss_db(self) -> float:
        return max(0.0, self.fp32_psnr - self.psnr)

    @property
    def allowed(self) -> bool:
        return self.loss_db <= MAX_LOSS_DB

    def to_dict(self) -> dict:
        p = self.precision
        made = {
            "fp32_psnr": self.fp32_psnr,
            f"{p}_psnr": self.psnr,
            "loss_db": self.loss_db,
            f"{p}_allowed": self.allowed,
        }
        return made | ({"form": FORM} if p == INT8 else {})

    @classmethod
    def from_dict(cls, data: object, precision: str) -> Guard | None:
        """The guard a manifest records; None for apprentices trained before it was measured (float32 only), and for
        an 8-bit guard measured on another layout of the 8-bit network than this version runs."""
        data = data if isinstance(data, dict) else {}
        if precision == INT8 and data.get("form") != FORM:
            return None
        values = [data.get(name) for name in ("fp32_psnr", f"{precision}_psnr")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            return None
        return cls(precision, float(values[0]), float(values[1]))

    def describe(self) -> str:
        """The decision in the artist's words, for the apprentice's card."""
        name, cost = NAMES[self.precision], f"{self.loss_db:.2f} dB on the held-out examples"
        if self.allowed:
            where = " on CPUs that have it" if self.precision == BF16 else ""
            return f"may apply in {name}{where} where it measures faster (costs {cost})"
        return f"never applies in {name} (it would cost {cost}, more than {MAX_LOSS_DB} dB)"


def guards(metrics: dict) -> dict[str, Guard]:
    """The faster precisions a manifest's metrics record a guard for, by name."""
    found = {p: Guard.from_dict(metrics.get(p), p) for p in FASTER}
    return {p: guard for p, guard in found.items() if guard is not None}


def choose(asked: str, native: bool, recorded: dict[str, Guard], speeds: dict[str, float] | None) -> str:
    """The precision of one apply: what the user asked for, else the fastest the calibration (Mpx/s per precision)
    measured at least FASTER_BY faster than fp32, among those the apprentice's guards allow (bf16 only where the CPU
    has it natively). Asking for one by name still respects its guard: a precision that loses quality is never used."""
    allowed = [p for p in FASTER if p in recorded and recorded[p].allowed and (native or p != BF16 or asked == BF16)]
    if asked in FASTER:
        return asked if asked in allowed else FP32
    if asked == FP32 or not speeds or not allowed:
        return FP32
    best = max(allowed, key=lambda p: speeds.get(p, 0.0))
    return best if speeds.get(best, 0.0) >= FASTER_BY * speeds.get(FP32, float("inf")) else FP32


def takes_bf16(net: nn.Module) -> bool:
    """Whether the network runs with bfloat16 weights on float32 inputs (it says so with `takes_bf16 = True`)."""
    return bool(getattr(net, "takes_bf16", False))


def in_bf16(net: nn.Module) -> nn.Module:
    """A copy of `net` with bfloat16 weights, channels-last, that takes and returns float32 like the original."""
    return copy.deepcopy(net).to(dtype=torch.bfloat16, memory_format=torch.channels_last).eval()


def takes(net: nn.Module, precision: str) -> bool:
    """Whether the network can run in `precision` (any network in fp32)."""
    return {BF16: takes_bf16, INT8: takes_int8}.get(precision, lambda _: True)(net)


def runner(net: nn.Module, precision: str, ranges: object = None) -> nn.Module:
    """The network to apply in `precision`, in the form that applies fastest where it has one (`for_applying`: the
    same function); in float32 where it cannot take that precision (int8: or where `ranges`, the activation ranges
    its manifest records, do not fit it)."""
    fastest = net.for_applying() if hasattr(net, "for_applying") else net
    if precision == BF16 and takes(fastest, BF16):
        return in_bf16(fastest)
    if precision == INT8 and takes(net, INT8):
        return in_int8(net, ranges) or fastest
    return fastest
