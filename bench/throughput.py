"""Training throughput of the default paired apprentice as achieved FLOP/s and as a share of this CPU's peak.

Counts the convolutions' multiply-adds of one forward pass with hooks, takes a training step as three
forward passes' worth (backward costs about twice the forward), and times real steps on the demo's pairs.
Run: python bench/throughput.py [--steps 40]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from apprentice.demo.sketches import cleanup_set
from apprentice.formats.images import pixels
from apprentice.kinds import get_kind
from apprentice.train.loop import TrainConfig
from apprentice.train.sampler import PatchSampler


def conv_flops(net: torch.nn.Module, x: torch.Tensor) -> int:
    """FLOPs (2 per multiply-add) of every convolution in one forward pass of `net` on `x`."""
    total = 0

    def count(module: torch.nn.Conv2d, _: tuple, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += 2 * out.numel() * (module.in_channels // module.groups) * kh * kw

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()
    return total


def cpu_peak() -> tuple[float, str]:
    """Peak fp32 FLOP/s assumed for this CPU: cores × clock × FLOPs per cycle from its vector units."""
    info = Path("/proc/cpuinfo").read_text()
    flags = next(line for line in info.splitlines() if line.startswith("flags")).split()
    mhz = float(next(line for line in info.splitlines() if line.startswith("cpu MHz")).split(":")[1])
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4  # fp32 per vector register
    per_cycle = lanes * 2 * (2 if "fma" in flags else 1)  # two vector units; an FMA is two FLOPs
    cores = len(os.sched_getaffinity(0))
    peak = cores * mhz * 1e6 * per_cycle
    how = f"{cores} cores × {mhz / 1000:.2f} GHz × {per_cycle} FLOP/cycle ({lanes}-lane fp32, 2 FMA units)"
    return peak, how


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    kind = get_kind("paired")
    config = TrainConfig().for_kind(kind)
    net = kind.network(kind.default_config()).to(memory_format=torch.channels_last)
    pairs = [(pixels(b), pixels(a)) for b, a in cleanup_set(8, seed=1)]
    sampler = PatchSampler(pairs, config.patch, config.batch, "mirror+rotate", config.focus)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    inputs, _ = sampler.draw(0, 0)
    per_step = 3 * conv_flops(net, inputs)

    def step(number: int) -> None:
        x, y = sampler.draw(0, number)
        loss = F.l1_loss(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for number in range(5):
        step(number)  # warm up
    started = time.perf_counter()
    for number in range(5, 5 + args.steps):
        step(number)
    seconds = (time.perf_counter() - started) / args.steps
    peak, how = cpu_peak()
    achieved = per_step / seconds
    print(f"batch {config.batch} × {config.patch}² patches; {per_step / 1e9:.2f} GFLOP per step (3 × forward convs)")
    print("| s/step | achieved GFLOP/s | peak GFLOP/s | share of peak |")
    print("|---|---|---|---|")
    print(f"| {seconds:.3f} | {achieved / 1e9:.1f} | {peak / 1e9:.1f} | {achieved / peak:.1%} |")
    print(f"peak assumed: {how}; {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
