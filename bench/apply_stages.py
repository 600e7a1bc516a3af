"""Where the time of applying one page goes, stage by stage: decode, network (fp32, int8), finish, credentials, PNG
encode.

A cleanup apprentice and its student (trained a few steps: speed does not depend on the weights) draw one 2048²
page of unseen cleanup befores; each stage is timed alone, best of three, in this one process. The stages overlap
in `apply` (decode and write on their own threads), so their sum is CPU time, not wall time.
Run: python bench/apply_stages.py [--side 2048] [--tile 1024]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from apply_runtimes import paired_pages, paired_task
from apprentice.calibration import describe_cpu, int8_ranges, read_cpuinfo
from apprentice.drawings import finish_of, finished_image, read_drawing
from apprentice.formats.images import write_image
from apprentice.formats.pairs import Source
from apprentice.kinds.finish import finish
from apprentice.kinds.precision import FP32, INT8, runner
from apprentice.kinds.tiling import transform
from apprentice.provenance.credentials import credentials
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train import distil
from apprentice.train.distil import train_and_distil
from apprentice.train.loop import Budget
from apprentice.train.process import ready_for_applying, ready_for_training


def best_of(work: Callable[[], object], runs: int = 3) -> tuple[object, float]:
    """(the result, the shortest wall time in seconds) of `runs` calls."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return result, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--tile", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ready_for_training()
        shop = Workshop.init(root / "workshop", "bench")
        paired_task(shop, root / "pairs", "cleanup")
        distil.MAX_LOSS_DB = float("inf")  # keep the student whatever it scores: only its speed is measured here
        student = train_and_distil(shop, "cleanup", Budget(steps=20), Budget(steps=20))
        page = paired_pages(root / "pages", args.side, 1) / "page00.png"
        ready_for_applying()
        print(
            f"{describe_cpu(read_cpuinfo())}; {torch.get_num_threads()} threads; "
            f"one {args.side}² page; tiles of {args.tile}; ms, best of 3"
        )
        print("| stage | ms | Mpx/s |")
        print("|---|---|---|")
        megapixels = args.side * args.side / 1e6
        loaded = load_network(student)
        shape = f"{loaded.multiply_adds:,} multiply-adds a pixel"
        (image, before), spent = best_of(lambda: read_drawing(Source(page)))
        stages = [("decode (PNG, to straight RGBA)", spent)]
        for precision in (FP32, INT8):
            net = runner(loaded, precision, int8_ranges(student.manifest))
            made, spent = best_of(lambda net=net: transform(net, before, net.margin, args.tile))
            stages.append((f"network in {precision} (the student, {shape}, as applied)", spent))
        finished, spent = best_of(lambda: finish(made, [before], finish_of(student)))
        stages.append(("finish (paper, palette)", spent))
        result, spent = best_of(lambda: finished_image(finished, image, student))
        stages.append(("to the input's mode", spent))
        signed, spent = best_of(lambda: credentials(shop, student, result, ".png"))
        stages.append(("credentials (pixel digest, signature)", spent))
        _, spent = best_of(lambda: write_image(result, root / "out.png", signed))
        stages.append(("PNG encode and write (level 1)", spent))
        for name, spent in stages:
            print(f"| {name} | {spent * 1000:.0f} | {megapixels / spent:.1f} |")


if __name__ == "__main__":
    main()
