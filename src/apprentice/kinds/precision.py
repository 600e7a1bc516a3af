"""The number format apply runs a network in: bfloat16 where the CPU does it natively, it measures faster and it
loses at most 0.2 dB on the held-out examples; float32 everywhere else. Pure decisions, and the bfloat16 runner.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

FP32, BF16 = "fp32", "bf16"
PRECISIONS = ("auto", FP32, BF16)  # what a user may ask for; auto: the measured choice
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")  # x86 flags of CPUs that multiply bfloat16 in hardware
MAX_LOSS_DB = 0.2  # the most held-out PSNR bfloat16 may cost against float32
FASTER_BY = 1.1  # bfloat16 must be at least this much faster to be worth its rounding


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
class Bf16Guard:
    """What bfloat16 cost an apprentice on its held-out examples, measured when it was trained."""

    fp32_psnr: float
    bf16_psnr: float

    @property
    def loss_db(self) -> float:
        return max(0.0, self.fp32_psnr - self.bf16_psnr)

    @property
    def allowed(self) -> bool:
        return self.loss_db <= MAX_LOSS_DB

    def to_dict(self) -> dict:
        return {"fp32_psnr": self.fp32_psnr, "bf16_psnr": self.bf16_psnr, "loss_db": self.loss_db} | {
            "bf16_allowed": self.allowed
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Bf16Guard | None:
        """The guard a manifest records; None for apprentices trained before it was measured (float32 only)."""
        values = [(data or {}).get(name) for name in ("fp32_psnr", "bf16_psnr")]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            return None
        return cls(float(values[0]), float(values[1]))

    def describe(self) -> str:
        """The decision in the artist's words, for the apprentice's card."""
        cost = f"{self.loss_db:.2f} dB on the held-out examples"
        if self.allowed:
            return f"may apply in bfloat16 on CPUs that have it (costs {cost})"
        return f"applies in float32 only (bfloat16 would cost {cost}, more than {MAX_LOSS_DB} dB)"


def choose(asked: str, native: bool, guard: Bf16Guard | None, speeds: dict[str, float] | None) -> str:
    """fp32 or bf16 for one apply: what the user asked for, else bf16 only where the CPU has it, the apprentice's
    guard allows it and the calibration (Mpx/s per precision) measured it faster. Asking for bf16 by name still
    respects the guard: a precision that loses quality is never used."""
    allowed = guard is not None and guard.allowed
    if asked == FP32 or not allowed:
        return FP32
    if asked == BF16:
        return BF16
    if not native or not speeds:
        return FP32
    return BF16 if speeds.get(BF16, 0.0) >= FASTER_BY * speeds.get(FP32, float("inf")) else FP32


def takes_bf16(net: nn.Module) -> bool:
    """Whether the network runs with bfloat16 weights on float32 inputs (it says so with `takes_bf16 = True`)."""
    return bool(getattr(net, "takes_bf16", False))


def in_bf16(net: nn.Module) -> nn.Module:
    """A copy of `net` with bfloat16 weights, channels-last, that takes and returns float32 like the original."""
    return copy.deepcopy(net).to(dtype=torch.bfloat16, memory_format=torch.channels_last).eval()


def runner(net: nn.Module, precision: str) -> nn.Module:
    """The network to apply in `precision` (fp32, or a network that cannot take bf16: in float32), in the form that
    applies fastest where it has one (`for_applying`: the same function)."""
    fastest = net.for_applying() if hasattr(net, "for_applying") else net
    return in_bf16(fastest) if precision == BF16 and takes_bf16(fastest) else fastest
