"""Peak memory (RSS) of training on a large set: 500 pairs of 1024² pages, the issue's yardstick.

Run: python bench/train_memory.py [--pairs 500] [--side 1024] [--steps 300]. Pages are mosaics of the
demo's sketches (distinct per pair); training runs in a child process whose peak RSS is read back.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.demo.sketches import cleanup_set
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop

TRAIN = """
import sys, time
from pathlib import Path
from apprentice.store.workshop import Workshop
from apprentice.train.process import ready_for_training
from apprentice.train.loop import Budget, train

ready_for_training()  # as the CLI does for a process that trains
started = time.perf_counter()
made = train(Workshop.open(Path(sys.argv[1])), "cleanup", Budget(steps=int(sys.argv[2])))
print(made.manifest["metrics"]["validation"])
print(f"{made.manifest['training']['steps']} steps in {time.perf_counter() - started:.0f} s")
"""


def write_pages(folder: Path, count: int, side: int) -> None:
    """`count` distinct before/after pages, each a 2×2 mosaic of turned and mirrored demo drawings."""
    tiles = [(np.asarray(b.convert("RGB")), np.asarray(a.convert("RGB"))) for b, a in cleanup_set(16, 1, (256, 256))]
    rng = np.random.default_rng(0)
    quarter = side // 2
    for sub in ("before", "after"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number in range(count):
        pages = [np.zeros((side, side, 3), np.uint8) for _ in range(2)]
        for y in range(0, side, quarter):
            for x in range(0, side, quarter):
                pick, turns, flip = rng.integers(16), rng.integers(4), rng.random() < 0.5
                for page, tile in zip(pages, tiles[pick], strict=True):
                    tile = np.rot90(tile[:, ::-1] if flip else tile, turns)
                    page[y : y + quarter, x : x + quarter] = np.asarray(
                        Image.fromarray(np.ascontiguousarray(tile)).resize((quarter, quarter))
                    )
        for sub, page in zip(("before", "after"), pages, strict=True):
            Image.fromarray(page).save(folder / sub / f"page{number:04}.png", compress_level=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        write_pages(root / "pairs", args.pairs, args.side)
        shop = Workshop.init(root / "workshop", "bench")
        shop.new_task("cleanup", "paired", get_kind("paired").default_config())
        add_examples(shop, "cleanup", [root / "pairs"])
        print(f"{args.pairs} pairs of {args.side}² made and added in {time.perf_counter() - started:.0f} s")
        child = subprocess.run(
            [sys.executable, "-c", TRAIN, str(root / "workshop"), str(args.steps)], capture_output=True, text=True
        )
        print(child.stdout.strip() or child.stderr[-2000:])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"training peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
