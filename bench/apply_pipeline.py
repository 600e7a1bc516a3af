"""What the apply pipeline and the PNG setting each bring, end to end on pages of drawings, in one process.

Three ways through the same steps (decode, network, finish, credentials, encode, write) for a briefly trained
default cleanup apprentice: one page after another at Pillow's default PNG level 6 (apply before issue 18), the
pipeline at level 6, and the pipeline at level 1 (apply now). Run: python bench/apply_pipeline.py [--pages 8]
[--side 1024] [--precision fp32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.drawings import draw_each, read_drawing, sources, target_of, write_drawing
from apprentice.formats import images
from apprentice.imports import add_examples
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.precision import runner
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, train
from apprentice.train.process import ready_for_applying, ready_for_training

from paired_tasks import task_pairs

ready_for_training()


def one_after_another(shop, made, kind, net, pages: Path, out: Path, options: ApplyOptions) -> None:
    """Apply as it was before the pipeline: each page read, drawn and written before the next is read."""
    out.mkdir(parents=True, exist_ok=True)
    for source in sources([pages]):
        image, before = read_drawing(source)
        [drawn] = kind.apply(net, [before], options)
        write_drawing(shop, made, drawn.pixels, before, image, target_of(source, out))


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for number, (before, after) in enumerate(task_pairs("cleanup", 4, 1, (192, 192))):
            for role, picture in (("before", before), ("after", after)):
                (root / "pairs" / role).mkdir(parents=True, exist_ok=True)
                picture.save(root / "pairs" / role / f"{number}.png")
        shop = Workshop.init(root / "workshop", "bench")
        shop.new_task("cleanup", "paired", get_kind("paired").default_config())
        add_examples(shop, "cleanup", [root / "pairs"])
        made = train(shop, "cleanup", Budget(steps=30))
        ready_for_applying()  # as `apprentice apply` does
        (root / "pages").mkdir()
        for page, (before, _) in enumerate(task_pairs("cleanup", args.pages, 5, (args.side, args.side))):
            before.save(root / "pages" / f"page{page:02d}.png")
        kind, options = get_kind("paired"), ApplyOptions(precision=args.precision)
        net = runner(load_network(made), args.precision)
        ways = {
            "one page after another, PNG level 6": (one_after_another, 6),
            "pipeline, PNG level 6": (None, 6),
            "pipeline, PNG level 1": (None, 1),
        }
        mpx = args.pages * args.side**2 / 1e6
        print(f"{args.pages} pages of {args.side}², {args.precision}")
        print("| way | Mpx/s end to end | CPU-s per Mpx |")
        print("|---|---|---|")
        for number, (label, (way, level)) in enumerate(ways.items()):
            images.PNG_SETTINGS["compress_level"] = level
            out = root / f"out{number}"
            if way is None:
                seconds, cpu = timed(lambda o=out: list(draw_each(shop, made, kind, net, [root / "pages"], o, options)))
            else:
                seconds, cpu = timed(lambda o=out, w=way: w(shop, made, kind, net, root / "pages", o, options))
            print(f"| {label} | {mpx / seconds:.2f} | {cpu / mpx:.2f} |", flush=True)
        sizes = [sum(f.stat().st_size for f in (root / f"out{n}").iterdir()) for n in (1, 2)]
        print(f"outputs: {sizes[0] / 2**20:.1f} MiB at level 6, {sizes[1] / 2**20:.1f} MiB at level 1")
        assert np.array_equal(*(np.asarray(Image.open(root / f"out{n}" / "page00.png")) for n in (0, 2)))


if __name__ == "__main__":
    main()
