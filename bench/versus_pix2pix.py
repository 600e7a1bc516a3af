"""Benchmark of the paired kind against pix2pix at equal wall-clock time on three paired tasks (issue #6).

Both train alternately, so machine noise hits both: apprentice to mark 1, pix2pix to mark 1, apprentice to
mark 2, … and each is scored on unseen pairs at every mark; pix2pix then goes on to --baseline-factor × the
last mark. Run: python bench/versus_pix2pix.py [--tasks cleanup flats glyphs] [--marks 2 5 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from apprentice.formats.images import pixels
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import Apprentice, load_network
from apprentice.store.workshop import Workshop
from apprentice.train.checkpoint import load_checkpoint
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.metrics import image_scores
from apprentice.train.process import ready_for_training

from paired import parse, unseen_scores
from paired_tasks import FONT_NOTE, TASKS, Identity, Pair, morphological_baseline, task_pairs
from pix2pix import ADAPTATIONS, Pix2Pix, apply_pix2pix

ready_for_training()  # as the CLI does for a process that trains

# glyphs: mirrored only; turned text would teach thick horizontals, and bold thickens the upright stems
AUGMENT = {"cleanup": "mirror+rotate", "flats": "mirror", "glyphs": "mirror"}
UNSEEN = 6  # pairs from seed 2, never trained on
UNSEEN_SIZE = (384, 288)  # px, as bench/paired.py: not the training size, and not a multiple of 256
Row = tuple[str, str, str, dict[str, float]]  # method, minutes, steps, scores


def scores(method: Callable[[Image.Image], Image.Image], pairs: list[Pair]) -> dict[str, float]:
    """Mean PSNR and SSIM over the pairs of method(before) against after, as the app scores them."""
    found = [image_scores(pixels(method(before)), pixels(after)) for before, after in pairs]
    return {key: float(np.mean([s[key] for s in found])) for key in ("psnr", "ssim")}


def workshop_for(root: Path, task: str, pairs: list[Pair], net: dict | None = None) -> Workshop:
    """A fresh workshop under root whose paired task `task` holds the pairs, imported as an artist would."""
    for sub in ("before", "after"):
        (root / "pairs" / sub).mkdir(parents=True)
    for number, (before, after) in enumerate(pairs):
        before.save(root / "pairs" / "before" / f"{number}.png")
        after.save(root / "pairs" / "after" / f"{number}.png")
    shop = Workshop.init(root / "workshop", "bench")
    config = get_kind("paired").default_config() | {"augment": AUGMENT[task]}
    config["net"] = config["net"] | (net or {})
    shop.new_task(task, "paired", config)
    add_examples(shop, task, [root / "pairs"])
    return shop


def bench_task(
    task: str,
    marks: list[float],
    factor: float,
    count: int,
    seed: int,
    look: Path | None,
    candidate: dict,
    net_settings: dict,
) -> list[str]:
    """The task's markdown table: baselines, then the apprentice(s) and pix2pix at each mark (and at factor×)."""
    training, unseen = task_pairs(task, count, seed=1), task_pairs(task, UNSEEN, seed=2, size=UNSEEN_SIZE)
    morphology = morphological_baseline(task, training)
    rows: list[Row] = [
        ("identity", "–", "–", scores(Identity(), unseen)),
        (f"morphological: {morphology.describe()}", "–", "–", scores(morphology, unseen)),
    ]
    ours, others, theirs = [], [], []
    rival = Pix2Pix(training, seed) if factor >= 0 else None
    train_config = TrainConfig(seed=seed).for_kind(get_kind("paired"))
    with tempfile.TemporaryDirectory() as folder:
        shop, previous = workshop_for(Path(folder) / "default", task, training, net_settings), 0.0
        ours_name = "apprentice" + "".join(f", {k}={v}" for k, v in net_settings.items())
        other = workshop_for(Path(folder) / "candidate", task, training, candidate) if candidate else None
        for mark in marks:
            made = train(shop, task, Budget(minutes=mark - previous), train_config)
            net = load_network(made)
            ours.append(apprentice_row(shop, made, net, unseen, ours_name))
            if other is not None:
                tried = train(other, task, Budget(minutes=mark - previous), train_config)
                name = "apprentice, net " + ",".join(f"{k}={v}" for k, v in candidate.items())
                others.append(apprentice_row(other, tried, load_network(tried), unseen, name))
                save_looks(look, task, mark, unseen[0], load_network(tried), None, "candidate")
            if rival is not None:
                theirs.append(pix2pix_row(rival.train_for(mark * 60 - rival.seconds), unseen, "pix2pix"))
            previous = mark
            save_looks(look, task, mark, unseen[0], net, rival)
    if rival is not None and factor > 1:
        rival.train_for(factor * marks[-1] * 60 - rival.seconds)
        theirs.append(pix2pix_row(rival, unseen, f"pix2pix ({factor:g}× the last mark)"))
        save_looks(look, task, factor * marks[-1], unseen[0], None, rival)
    return table(task, len(training), rows + ours + others + theirs)


def apprentice_row(shop: Workshop, made: Apprentice, net: torch.nn.Module, unseen: list[Pair], name: str) -> Row:
    """The run's minutes and steps so far (from its checkpoint: a run that found nothing better republishes)."""
    run = load_checkpoint(shop.run_folder(made.task)).meta
    best = made.manifest["metrics"]["best"].get("step")
    row = (name, f"{run['seconds'] / 60:.2f}", f"{run['step']} (best {best})", unseen_scores(net, unseen))
    progress(row)
    return row


def pix2pix_row(rival: Pix2Pix, unseen: list[Pair], method: str) -> Row:
    found = scores(lambda image: apply_pix2pix(rival, image), unseen)
    row = (method, f"{rival.seconds / 60:.2f}", str(rival.steps), found)
    progress(row, ", last losses " + ", ".join(f"{k} {v:.3f}" for k, v in rival.losses.items()))
    return row


def progress(row: Row, more: str = "") -> None:
    """One line on stderr per scored run, so a long benchmark shows where it is."""
    line = f"  {row[0]}: {row[1]} min, {row[2]} steps: PSNR {row[3]['psnr']:.2f}, SSIM {row[3]['ssim']:.3f}{more}"
    print(line, file=sys.stderr, flush=True)


def save_looks(
    look: Path | None,
    task: str,
    mark: float,
    pair: Pair,
    net: torch.nn.Module | None,
    rival: Pix2Pix | None,
    name: str = "apprentice",
) -> None:
    """With --look: the first unseen pair and both methods' results on it, as PNGs to inspect."""
    if look is None:
        return
    look.mkdir(parents=True, exist_ok=True)
    pair[0].save(look / f"{task}_before.png")
    pair[1].save(look / f"{task}_after.png")
    if rival is not None:
        apply_pix2pix(rival, pair[0]).save(look / f"{task}_pix2pix_{mark:g}min.png")
    if net is not None:
        made = transform(net, np.asarray(pair[0].convert("RGBA")), net.margin)
        Image.fromarray(made, "RGBA").save(look / f"{task}_{name}_{mark:g}min.png")


def table(task: str, count: int, rows: list[Row]) -> list[str]:
    width, height = UNSEEN_SIZE
    lines = [f"### {task}: {count} training pairs (seed 1), {UNSEEN} unseen pairs (seed 2, {width}×{height})"]
    lines += ["", "| method | minutes | steps | PSNR | SSIM |", "|---|---|---|---|---|"]
    lines += [f"| {m} | {minutes} | {steps} | {s['psnr']:.2f} | {s['ssim']:.3f} |" for m, minutes, steps, s in rows]
    return lines + [""]


def machine() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores; PyTorch {torch.__version__}, {torch.get_num_threads()} threads, fp32"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--marks", type=float, nargs="+", default=[2, 5, 10], help="minutes at which to score")
    parser.add_argument(
        "--baseline-factor", type=float, default=10, help="pix2pix also at this × the last mark; -1: no pix2pix"
    )
    parser.add_argument("--pairs", type=int, default=8, help="training pairs per task")
    parser.add_argument("--seed", type=int, default=0, help="seed of both trainings")
    parser.add_argument("--look", type=Path, help="save the first unseen pair and the results on it here")
    parser.add_argument("--candidate", default="", help="also train a second apprentice with these net settings")
    parser.add_argument("--net", default="", help="train the apprentice with these net settings instead of the default")
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the app's training does; applies to pix2pix too
    total = len(args.tasks) * args.marks[-1] * (1 + max(1.0, args.baseline_factor))
    print(f"Command: `python {shlex.join(sys.argv)}`  ")
    print(f"Machine: {machine()}  ")
    print(f"Training time: about {total:g} minutes, plus scoring.\n")
    print("pix2pix adaptations (bench/pix2pix.py):\n" + "\n".join(f"- {a}" for a in ADAPTATIONS) + "\n", flush=True)
    for task in args.tasks:
        candidate = parse(args.candidate)
        net = parse(args.net)
        lines = bench_task(task, args.marks, args.baseline_factor, args.pairs, args.seed, args.look, candidate, net)
        print("\n".join(lines), flush=True)
    print(
        "minutes: training time actually spent (the apprentice's includes its validation); apprentice steps are "
        "all steps trained, its published weights being those of the best step on its held-out pairs; pix2pix "
        "is scored as it stands. The apprentice holds out a fifth of the training pairs to pick its best step; "
        "pix2pix trains on all of them. Scores: PSNR (dB) and SSIM over white, mean over the unseen pairs."
    )
    if "glyphs" in args.tasks:
        print(FONT_NOTE)


if __name__ == "__main__":
    main()
