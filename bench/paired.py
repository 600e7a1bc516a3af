"""Benchmark of the paired kind on the demo's rough-sketch → clean-ink data.

Prints training throughput (Mpx/s of patches), PSNR/SSIM on unseen pairs after each time mark against
the identity baseline, and apply speed on a 2048² page. Run: python bench/paired.py [--marks 2 5 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from apprentice.demo.sketches import cleanup_set
from apprentice.formats.images import pixels
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.metrics import image_scores
from apprentice.train.process import ready_for_training

ready_for_training()  # as the CLI does for a process that trains


def unseen_scores(net: torch.nn.Module, pairs: list[tuple[Image.Image, Image.Image]]) -> dict[str, float]:
    scores = []
    for before, after in pairs:
        made = transform(net, np.asarray(before.convert("RGBA")), net.margin)
        scores.append(image_scores(pixels(Image.fromarray(made, "RGBA")), pixels(after)))
    return {k: float(np.mean([s[k] for s in scores])) for k in ("psnr", "ssim")}


def apply_speed(net: torch.nn.Module, side: int = 2048) -> float:
    page = np.random.default_rng(0).integers(0, 256, (side, side, 4), dtype=np.uint8)
    transform(net, page[:256, :256], net.margin)
    started = time.perf_counter()
    transform(net, page, net.margin)
    return side * side / (time.perf_counter() - started) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--marks", type=float, nargs="+", default=[2, 5, 10], help="minutes at which to score")
    parser.add_argument("--pairs", type=int, default=8, help="training pairs (the demo uses 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--net", default="", help="network overrides, e.g. width=24,deep_width=48,blocks=3")
    parser.add_argument("--train", default="", help="training overrides, e.g. lr=0.002,patch=48")
    args = parser.parse_args()
    unseen = cleanup_set(6, seed=2, size=(384, 288))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for sub in ("before", "after"):
            (root / "pairs" / sub).mkdir(parents=True)
        for number, (before, after) in enumerate(cleanup_set(args.pairs, seed=1)):
            before.save(root / "pairs" / "before" / f"{number}.png")
            after.save(root / "pairs" / "after" / f"{number}.png")
        shop = Workshop.init(root / "workshop", "bench")
        config = get_kind("paired").default_config() | {"augment": "mirror+rotate"}
        config["net"] |= parse(args.net)
        shop.new_task("cleanup", "paired", config)
        add_examples(shop, "cleanup", [root / "pairs"])
        train_config = replace(TrainConfig(seed=args.seed).for_kind(get_kind("paired")), **parse(args.train))
        rows, previous = [], 0.0
        for mark in args.marks:
            made = train(shop, "cleanup", Budget(minutes=mark - previous), train_config)
            previous = mark
            training = made.manifest["training"]
            mpx = training["steps"] * train_config.batch * train_config.patch**2 / training["seconds"] / 1e6
            net = load_network(made)
            rows.append((mark, training["steps"], mpx, unseen_scores(net, unseen), made.manifest["metrics"]))
        print(f"net {config['net']}  train {train_config}")
        copy = {k: float(np.mean([image_scores(pixels(b), pixels(a))[k] for b, a in unseen])) for k in ("psnr", "ssim")}
        header = ["minutes", "steps", "best at step", "train Mpx/s", "unseen PSNR", "unseen SSIM", "val PSNR"]
        print("| " + " | ".join(header + ["copy PSNR", "copy SSIM"]) + " |")
        print("|---" * (len(header) + 2) + "|")
        for mark, steps, mpx, score, metrics in rows:
            best = metrics["best"]
            print(
                f"| {mark:g} | {steps} | {best.get('step')} | {mpx:.3f} | {score['psnr']:.2f} | {score['ssim']:.3f} | "
                f"{best.get('psnr', float('nan')):.2f} | {copy['psnr']:.2f} | {copy['ssim']:.3f} |"
            )
        print("(steps and throughput are those of the published apprentice: the best on held-out data so far)")
        print(f"apply 2048²: {apply_speed(net):.2f} Mpx/s on {torch.get_num_threads()} threads")


def parse(text: str) -> dict:
    pairs = [item.split("=") for item in text.split(",") if item]
    return {key: number(value) for key, value in pairs}


def number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    main()
