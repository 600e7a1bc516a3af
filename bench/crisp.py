"""Benchmark of the finish (issue 17): does the apprentice hand back the artist's palette, hard alpha, clean paper?

Trains each task twice for the same steps and seed: with every part of the finish off (the network's drawing as it
is, as before this issue) and judged from the afters (palette picked by the network or snapped, hard alpha, white
paper, as held-out validation keeps them); scores both on unseen pairs: PSNR, SSIM, the share of pixels outside
the artist's palette, and the share of partly transparent pixels where the artist's alpha is hard. The finished
apprentice's raw network output is scored too. Run: python bench/crisp.py [--steps 300]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.formats.images import premultiply
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.finish import Finish, count_colours, finish, judge
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.metrics import image_scores
from apprentice.train.process import ready_for_training
from apprentice.train.settings import new_task_config
from pixel_art import LICENCE_NOTE, pixel_art_pairs
from versus_pix2pix import AUGMENT, machine

from paired_tasks import task_pairs

ready_for_training()

AUGMENT = AUGMENT | {"outline": "mirror+rotate", "recolour": "mirror+rotate"}
PIXEL_ART = ("outline", "recolour")
TASKS = ("cleanup", "flats", "glyphs", *PIXEL_ART)
ZOOM = 4  # contact sheets: nearest-neighbour zoom
OFF = {"palette": "off", "alpha": "off", "paper": "off"}  # the apprentice as it was before issue 17


def pairs_of(task: str, cache: Path) -> tuple[list, list]:
    """(training, unseen) (before, after) pairs of a task: made by code, or cut from Debian's sprites."""
    if task in PIXEL_ART:
        return pixel_art_pairs(cache, task)
    return task_pairs(task, 8, seed=1, size=(128, 128)), task_pairs(task, 4, seed=2, size=(128, 128))


def workshop_for(root: Path, task: str, pairs: list, chosen: dict[str, str]) -> Workshop:
    """A fresh workshop under root whose paired task holds the pairs, imported as an artist would."""
    for number, (before, after) in enumerate(pairs):
        for role, image in (("before", before), ("after", after)):
            (root / "pairs" / role).mkdir(parents=True, exist_ok=True)
            image.save(root / "pairs" / role / f"{number}.png")
    shop = Workshop.init(root / "workshop", "bench")
    shop.new_task(task, "paired", new_task_config(get_kind("paired").default_config(), AUGMENT[task], chosen))
    add_examples(shop, task, [root / "pairs"])
    return shop


def rgba(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def scores(made: list[np.ndarray], unseen: list, palette: set[int], hard: bool) -> dict[str, float]:
    """PSNR and SSIM as the app scores them, and the off-palette and partly transparent shares, in %."""
    found = []
    for output, (_, after) in zip(made, unseen, strict=True):
        allowed = palette | set(count_colours(rgba(after)))
        outside = sum(n for colour, n in count_colours(output).items() if colour not in allowed)
        alpha = output[..., 3]
        partial = np.count_nonzero((alpha > 0) & (alpha < 255)) / alpha.size if hard else float("nan")
        quality = image_scores(premultiply(output), premultiply(rgba(after)))
        found.append(quality | {"off_palette": 100 * outside / alpha.size, "partial_alpha": 100 * partial})
    return {key: float(np.mean([f[key] for f in found])) for key in found[0]}


def bench_task(task: str, steps: int, cache: Path, out: Path) -> list[str]:
    training, unseen = pairs_of(task, cache)
    palette = set().union(*(count_colours(rgba(after)) for _, after in training))
    hard = judge([(rgba(after), []) for _, after in training]).alpha
    before, _, _ = trained_outputs(task, training, unseen, steps, OFF)
    raw, done, how = trained_outputs(task, training, unseen, steps, {})
    rows = [
        ("copying the before", scores([rgba(b) for b, _ in unseen], unseen, palette, hard)),
        ("apprentice with the finish off", scores(before, unseen, palette, hard)),
        ("apprentice finished: its network output before the finish", scores(raw, unseen, palette, hard)),
        ("apprentice finished", scores(done, unseen, palette, hard)),
    ]
    if task in PIXEL_ART:
        contact_sheet(unseen, before, done, out / f"crisp_{task}.png")
    return table(task, len(training), len(unseen), steps, how, rows)


def trained_outputs(
    task: str, training: list, unseen: list, steps: int, chosen: dict[str, str]
) -> tuple[list[np.ndarray], list[np.ndarray], Finish]:
    """Train the task with the finish settings `chosen`; (raw outputs, finished outputs, the finish) on unseen."""
    with tempfile.TemporaryDirectory() as folder:
        shop = workshop_for(Path(folder), task, training, chosen)
        made = train(shop, task, Budget(steps=steps), TrainConfig(seed=0))
        net, how = load_network(made), Finish.from_dict(made.manifest["output"]["finish"])
        shop.close()
    raw = [transform(net, rgba(before), net.margin) for before, _ in unseen]
    return raw, [finish(output, [rgba(b)], how) for output, (b, _) in zip(raw, unseen, strict=True)], how


def contact_sheet(unseen: list, raw: list[np.ndarray], done: list[np.ndarray], path: Path) -> None:
    """Rows of before | finish off | finished | artist's after at ZOOM× nearest neighbour, over a grey
    checkerboard."""
    rows = [np.concatenate([rgba(b), r, d, rgba(a)], axis=1) for (b, a), r, d in zip(unseen, raw, done, strict=True)]
    picture = np.concatenate(rows, axis=0)
    height, width = picture.shape[:2]
    checks = ((np.indices((height, width)) // 4).sum(axis=0) % 2) * 40 + 150
    ground = Image.fromarray(np.repeat(checks[..., None], 3, axis=2).astype(np.uint8), "RGB").convert("RGBA")
    sheet = Image.alpha_composite(ground, Image.fromarray(picture, "RGBA"))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.resize((width * ZOOM, height * ZOOM), Image.Resampling.NEAREST).save(path)


def table(task: str, count: int, unseen: int, steps: int, how: Finish, rows: list) -> list[str]:
    lines = [f"### {task}: {count} training pairs, {unseen} unseen; {steps} steps; finish kept: {how.describe()}"]
    if how.keeps_input:
        lines[0] += " (and each input's own colours)"
    lines += ["", "| method | PSNR | SSIM | off-palette % | partial alpha % |", "|---|---|---|---|---|"]
    for name, s in rows:
        partial = "–" if np.isnan(s["partial_alpha"]) else f"{s['partial_alpha']:.2f}"
        lines.append(f"| {name} | {s['psnr']:.2f} | {s['ssim']:.3f} | {s['off_palette']:.2f} | {partial} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--steps", type=int, default=300, help="training steps of each apprentice")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "apprentice-bench")
    parser.add_argument("--out", type=Path, default=Path("artifacts") / "crisp", help="where contact sheets go")
    args = parser.parse_args()
    print(f"Command: `python {shlex.join(sys.argv)}`  ")
    print(f"Machine: {machine()}\n")
    for task in args.tasks:
        print("\n".join(bench_task(task, args.steps, args.cache, args.out)), flush=True)
    if set(args.tasks) & set(PIXEL_ART):
        columns = "before | finish off | finished | artist's after"
        print(f"Contact sheets ({columns}, {ZOOM}× nearest neighbour): {args.out}/crisp_*.png\n")
        print(LICENCE_NOTE)


if __name__ == "__main__":
    main()
