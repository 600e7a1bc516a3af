"""Which precision apply runs an apprentice in on this machine: from the CPU's flags, the apprentice's quality guard
and, on first apply, a short timing of float32 against bfloat16, kept per machine and network in the workshop.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from apprentice.files import write_atomically
from apprentice.kinds import get_kind
from apprentice.kinds.precision import BF16, FP32, Bf16Guard, choose, cpu_flags, native_bf16, runner, takes_bf16
from apprentice.kinds.tiling import run
from apprentice.provenance.manifest import Apprentice
from apprentice.store.workshop import Workshop, now

FILE = "calibration.json"  # in the workshop: {machine and network key: {"fp32": Mpx/s, "bf16": Mpx/s, ...}}
SIDE = 256  # the square timed; small enough to take about a second, large enough for the convolutions to dominate
REPEATS = 5  # each precision is timed this often, alternating, and its best kept (the CPU may be shared)


def read_cpuinfo() -> str:
    """/proc/cpuinfo's text, or "" where there is none (macOS, Windows: no native bfloat16 is assumed)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str) -> str:
    """The first processor's model name in /proc/cpuinfo's text ("" where it names none)."""
    return next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")


VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16")  # what PyTorch's speed follows


def describe_cpu(cpuinfo: str) -> str:
    """One line for a benchmark's result: the model, the cores this process may use, and the vector flags."""
    flags = cpu_flags(cpuinfo)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    vector = " ".join(flag for flag in VECTOR_FLAGS if flag in flags) or "none of " + "/".join(VECTOR_FLAGS)
    return f"{cpu_model(cpuinfo) or '?'}, {cores} cores, flags: {vector}"


def machine_key(cpuinfo: str, net: nn.Module) -> str:
    """What a timing depends on: the processor, its flags, PyTorch, the thread count and the network's shape."""
    model = cpu_model(cpuinfo)
    config = getattr(net, "config", None)
    facts = [model, sorted(cpu_flags(cpuinfo)), torch.__version__, torch.get_num_threads(), type(net).__name__]
    facts.append(repr(config))
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]


def measure(net: nn.Module, channels: int) -> dict[str, float]:
    """Mpx/s of the network in float32 and in bfloat16 on a SIDE² square, each the best of REPEATS alternating runs."""
    align = getattr(net, "align", 4)
    side = -(-(SIDE + 2 * net.margin) // align) * align
    square = np.random.default_rng(0).integers(0, 256, (side, side, channels), dtype=np.uint8)
    runners = {precision: runner(net, precision) for precision in (FP32, BF16)}
    best = dict.fromkeys(runners, float("inf"))
    for candidate in runners.values():
        run(candidate, square[: 2 * align * 4, : 2 * align * 4])  # warm up: first calls pick their kernels
    for _ in range(REPEATS):
        for precision, candidate in runners.items():
            started = time.perf_counter()
            run(candidate, square)
            best[precision] = min(best[precision], time.perf_counter() - started)
    return {precision: side * side / seconds / 1e6 for precision, seconds in best.items()}


def calibrated(workshop: Workshop, key: str, net: nn.Module, channels: int) -> dict[str, float]:
    """The timing this machine made of this network before, or a new one, kept in the workshop."""
    path = workshop.root / FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    entry = known.get(key)
    if isinstance(entry, dict) and all(isinstance(entry.get(p), int | float) for p in (FP32, BF16)):
        return {p: float(entry[p]) for p in (FP32, BF16)}
    speeds = measure(net, channels)
    known[key] = speeds | {"measured_at": now()}
    write_atomically(path, json.dumps(known, indent=2).encode())
    return speeds


def precision_for(workshop: Workshop, apprentice: Apprentice, net: nn.Module, asked: str = "auto") -> str:
    """fp32 or bf16 for applying this apprentice here: bf16 only where the CPU has it natively, the apprentice's
    guard allows it, and (unless asked for by name) it measured faster on this machine."""
    cpuinfo = read_cpuinfo()
    guard = Bf16Guard.from_dict(apprentice.manifest["metrics"].get("bf16"))
    native = native_bf16(cpu_flags(cpuinfo))
    speeds = None
    if asked == "auto" and native and guard is not None and guard.allowed and takes_bf16(net):
        channels = get_kind(apprentice.manifest["kind"]).input_channels
        speeds = calibrated(workshop, machine_key(cpuinfo, net), net, channels)
    return choose(asked, native, guard, speeds) if takes_bf16(net) else FP32
