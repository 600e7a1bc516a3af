"""Network-only apply speed of the paired teacher and of candidate student shapes, untrained, on a 2048² page.

Speed barely depends on the weights, so this answers in a minute what `apply_runtimes.py` answers in half an hour:
whether a student shape can reach the issue's 4 Mpx/s end to end before any training is spent on it. The teacher
row has no picking head (a trained one over a palette costs a little more). Each shape is timed as trained
(pixel-unshuffles, then convolutions) and in the form apply runs (`for_applying`: the unshuffles folded into strided
convolutions, the same function).
Run: python bench/student_speed.py [--side 2048]
"""

from __future__ import annotations

import argparse

import torch

from apply_runtimes import network_speed
from apprentice.calibration import describe_cpu, read_cpuinfo
from apprentice.kinds import get_kind
from apprentice.kinds.network import NetConfig
from apprentice.train.process import ready_for_applying

SHAPES = {
    "teacher (default)": NetConfig(),
    "6 blocks": NetConfig(width=16, deep_width=32, blocks=6, link=1),
    "7 blocks": NetConfig(width=16, deep_width=32, blocks=7, link=1),
    "8 blocks (the app's student)": NetConfig(width=16, deep_width=32, blocks=8, link=1),
    "6 blocks, 40 deep": NetConfig(width=16, deep_width=40, blocks=6, link=1),
    "8 blocks, 8 wide, 32 deep": NetConfig(width=8, deep_width=32, blocks=8, link=1),
    "8 blocks, 8 wide, 24 deep": NetConfig(width=8, deep_width=24, blocks=8, link=1),
    "10 blocks, 8 wide, 24 deep": NetConfig(width=8, deep_width=24, blocks=10, link=1),
    "8 blocks, no half resolution": NetConfig(width=0, deep_width=32, blocks=8, link=1),
    "6 blocks, no half resolution": NetConfig(width=0, deep_width=32, blocks=6, link=1),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=2048)
    args = parser.parse_args()
    ready_for_applying()
    print(
        f"{describe_cpu(read_cpuinfo())}; {torch.get_num_threads()} threads; "
        f"{args.side}² page; best of two runs, each measured twice"
    )
    print("| network | multiply-adds per pixel | as trained: Mpx/s (CPU-s/Mpx) | as applied: Mpx/s (CPU-s/Mpx) |")
    print("|---|---|---|---|")
    kind = get_kind("paired")
    for name, shape in SHAPES.items():
        net = kind.network(kind.default_config() | {"net": shape.to_dict()}).eval()
        net = net.to(memory_format=torch.channels_last)
        cells = []
        for form in (net, net.for_applying()):
            speed, cpu = max(network_speed(form, 4, args.side) for _ in range(2))
            cells.append(f"{speed:.2f} ({cpu:.2f})")
        print(f"| {name} | {shape.multiply_adds:,} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
