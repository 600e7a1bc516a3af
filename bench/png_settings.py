"""PNG encoding speed against file size for zlib levels and strategies, on drawings like the apprentice's outputs.

The afters of the three paired bench tasks at 2048² (cleanup, flats, glyphs), with a light speckle where 5% of
pixels are off by one level as a network leaves them, and a page of noise as the worst case. Each setting is the
best of --repeats encodes. Run: python bench/png_settings.py [--side 2048] [--repeats 5]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image

from paired_tasks import TASKS, task_pairs

SETTINGS = {
    "level 6 (Pillow's default)": {"compress_level": 6},
    "level 1": {"compress_level": 1},
    "level 3": {"compress_level": 3},
    "level 9": {"compress_level": 9},
    "level 1, Z_RLE": {"compress_level": 1, "compress_type": 3},
    "level 6, Z_RLE": {"compress_level": 6, "compress_type": 3},
}


def pages(side: int) -> dict[str, Image.Image]:
    """The afters of each task with a network's speckle, and noise."""
    rng = np.random.default_rng(0)
    made = {}
    for task in TASKS:
        _, after = task_pairs(task, 1, 3, (side, side))[0]
        array = np.asarray(after.convert("RGB")).astype(np.int16)
        speckle = rng.integers(-1, 2, array.shape) * (rng.random((side, side, 1)) < 0.05)
        made[task] = Image.fromarray(np.clip(array + speckle, 0, 255).astype(np.uint8))
    made["noise"] = Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
    return made


def encode(image: Image.Image, settings: dict, repeats: int) -> tuple[float, int]:
    """(best seconds, bytes) of encoding `image` as PNG with `settings`."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        buffer = io.BytesIO()
        started = time.perf_counter()
        image.save(buffer, "PNG", **settings)
        best, size = min(best, time.perf_counter() - started), buffer.tell()
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    made = pages(args.side)
    mpx = args.side**2 / 1e6
    print("| setting | " + " | ".join(f"{name}: Mpx/s, KiB" for name in made) + " |")
    print("|---|" + "---|" * len(made))
    for label, settings in SETTINGS.items():
        cells = []
        for image in made.values():
            seconds, size = encode(image, settings, args.repeats)
            cells.append(f"{mpx / seconds:.1f}, {size / 1024:,.0f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
