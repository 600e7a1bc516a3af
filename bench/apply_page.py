"""Benchmark of applying an apprentice to one large page: wall time, Mpx/s and peak memory (RSS).

Run: python bench/apply_page.py [--side 8000] [--tile 1024]. The apprentice is trained for a few steps
only: speed and memory do not depend on what it learned.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.demo.sketches import cleanup_set
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, train
from apprentice.train.process import ready_for_applying, ready_for_training

ready_for_training()  # as the CLI does for a process that trains


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument("--tile", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for sub in ("before", "after"):
            (root / "pairs" / sub).mkdir(parents=True)
        for number, (before, after) in enumerate(cleanup_set(3, seed=1, size=(128, 128))):
            before.save(root / "pairs" / "before" / f"{number}.png")
            after.save(root / "pairs" / "after" / f"{number}.png")
        shop = Workshop.init(root / "workshop", "bench")
        shop.new_task("cleanup", "paired", get_kind("paired").default_config())
        add_examples(shop, "cleanup", [root / "pairs"])
        train(shop, "cleanup", Budget(steps=2))
        page = np.random.default_rng(0).integers(0, 256, (args.side, args.side, 3), dtype=np.uint8)
        Image.fromarray(page).save(root / "page.png", compress_level=1)
        del page
        ready_for_applying()  # as `apprentice apply` does
        before = peak_rss_mib()
        started = time.perf_counter()
        apply_files(shop, "cleanup", [root / "page.png"], root / "out", tile=args.tile)
        seconds = time.perf_counter() - started
        speed = args.side**2 / seconds / 1e6
        print(f"page {args.side}×{args.side}, tile {args.tile}: {seconds:.1f} s with decoding and encoding")
        print(f"{speed:.2f} Mpx/s end to end; peak RSS {peak_rss_mib():.0f} MiB (before applying: {before:.0f} MiB)")


if __name__ == "__main__":
    main()
