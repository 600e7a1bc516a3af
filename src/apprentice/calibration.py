"""Which precision apply runs an apprentice in on this machine: from the CPU's flags, the apprentice's quality guards
and, on first apply, a short timing of float32 against the faster precisions, kept per machine and network.
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
from apprentice.kinds.precision import BF16, FP32, INT8, choose, cpu_flags, guards, native_bf16, runner, takes
from apprentice.kinds.tiling import run
from apprentice.provenance.manifest import Apprentice
from apprentice.store.workshop import Workshop, now

FILE = "calibration.json"  # in the workshop: {machine and network key: {"fp32": Mpx/s, "int8": Mpx/s, ...}}
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


def measure(net: nn.Module, channels: int, precisions: tuple[str, ...] = (FP32, BF16), ranges: object = None) -> dict:
    """Mpx/s of the network in each precision on a SIDE² square, each the best of REPEATS alternating runs."""
    align = getattr(net, "align", 4)
    side = -(-(SIDE + 2 * net.margin) // align) * align
    square = np.random.default_rng(0).integers(0, 256, (side, side, channels), dtype=np.uint8)
    runners = {precision: runner(net, precision, ranges) for precision in precisions}
    best = dict.fromkeys(runners, float("inf"))
    for candidate in runners.values():
        run(candidate, square[: 2 * align * 4, : 2 * align * 4])  # warm up: first calls pick their kernels
    for _ in range(REPEATS):
        for precision, candidate in runners.items():
            started = time.perf_counter()
            run(candidate, square)
            best[precision] = min(best[precision], time.perf_counter() - started)
    return {precision: side * side / seconds / 1e6 for precision, seconds in best.items()}


def calibrated(
    workshop: Workshop, key: str, net: nn.Module, channels: int, precisions: tuple[str, ...], ranges: object = None
) -> dict[str, float]:
    """The timing this machine made of this network in these precisions before, or a new one, kept in the workshop."""
    path = workshop.root / FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    entry = known.get(key) if isinstance(known.get(key), dict) else {}
    if all(isinstance(entry.get(p), int | float) and not isinstance(entry.get(p), bool) for p in precisions):
        return {p: float(entry[p]) for p in precisions}
    speeds = measure(net, channels, precisions, ranges)
    known[key] = entry | speeds | {"measured_at": now()}
    write_atomically(path, json.dumps(known, indent=2).encode())
    return speeds


def precision_for(workshop: Workshop, apprentice: Apprentice, net: nn.Module, asked: str = "auto") -> str:
    """The precision to apply this apprentice in here: float32, or a faster one (bf16 only where the CPU has it
    natively) that the apprentice's guard allows and that, unless asked for by name, measured faster here."""
    cpuinfo = read_cpuinfo()
    recorded = {p: guard for p, guard in guards(apprentice.manifest["metrics"]).items() if takes(net, p)}
    native = native_bf16(cpu_flags(cpuinfo))
    candidates = tuple(p for p, guard in recorded.items() if guard.allowed and (native or p != BF16))
    speeds = None
    if asked == "auto" and candidates:
        channels = get_kind(apprentice.manifest["kind"]).input_channels
        key = machine_key(cpuinfo, net)
        speeds = calibrated(workshop, key, net, channels, (FP32, *candidates), int8_ranges(apprentice.manifest))
    return choose(asked, native, recorded, speeds)


def int8_ranges(manifest: dict) -> object:
    """The activation ranges 8-bit integers run at, as the manifest records them (checked where they are used)."""
    recorded = manifest["metrics"].get(INT8)
    return recorded.get("ranges") if isinstance(recorded, dict) else None
