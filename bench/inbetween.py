"""Benchmark of the inbetween kind against cross-fade and optical-flow in-betweens, on animation it never saw.

Trains through the app's own path (workshop, import, train) and scores the published apprentice after each
time mark on held-out triplets of unseen sequences, then again on those of sequences that are motion, not effects
(by the sequence's own name: burning, melting, dying, …), which no in-between of two keys can foresee.
Run: python bench/inbetween.py [--data synthetic supertux wesnoth]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from apprentice.formats.images import premultiplied_tensor
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.inbetween import halfway
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.process import ready_for_training

from inbetween_baselines import crossfade, flow_warp
from inbetween_sets import (
    DATA,
    EFFECTS,
    Maker,
    Scores,
    Sequences,
    around_of,
    drawings,
    held_out_triplets,
    is_motion,
    scores,
    split,
)
from paired import parse
from sprites import LICENCE_NOTE, WESNOTH_LICENCE_NOTE

ready_for_training()  # as the CLI does for a process that trains


def adapted_scores(net: torch.nn.Module, unseen: Sequences, steps: int, lr: float) -> Scores:
    """The apprentice fine-tuned on each unseen shot's own keys before drawing its in-betweens (issue 19, "adapting
    to the shot"): with every other drawing a key, it learns to draw each key from the keys either side of it (twice
    the spacing of the in-betweens it then draws), for `steps` steps at `lr`; then it draws the drawings between the
    keys. Both choices of which drawings are the keys are scored, so every held-out triplet is drawn once, by an
    apprentice that never saw its middle."""
    drawn = []
    for name, frames in unseen.items():
        kept = drawings(frames)
        for parity in (0, 1):
            shot = adapted(net, kept[parity::2], steps, lr)
            for i in range(1 + parity, len(kept) - 1, 2):
                made = halfway(shot, kept[i - 1], kept[i + 1], 1024, around_of(kept, i))
                drawn.append((made, kept[i], is_motion(name)))
    return split(drawn)


def adapted(net: torch.nn.Module, keys: list[np.ndarray], steps: int, lr: float) -> torch.nn.Module:
    """A copy of the network fine-tuned on the keys: each key from the two beside it and the keys around those (both
    ways in time, mirrored at random), whole frames cut to at most 128² at random; the network itself where the shot
    has fewer than three keys."""
    examples = []
    for j in range(1, len(keys) - 1):
        first, middle, last = keys[j - 1], keys[j], keys[j + 1]
        before, after = keys[j - 3] if j >= 3 else first, keys[j + 3] if j + 3 < len(keys) else last
        if not np.array_equal(first, last):
            examples += [(frames_tensor([first, last, before, after]), frames_tensor([middle]))]
            examples += [(frames_tensor([last, first, after, before]), frames_tensor([middle]))]
    if not examples or not steps:
        return net
    made, rng, kind = copy.deepcopy(net).train(), np.random.default_rng(0), get_kind("inbetween")
    optimizer = torch.optim.Adam(made.parameters(), lr=lr)
    for _ in range(steps):
        for whole_inputs, whole_target in examples:
            height, width = whole_inputs.shape[-2:]
            y = int(rng.integers(0, (height - min(height, 128)) // 16 + 1)) * 16
            x = int(rng.integers(0, (width - min(width, 128)) // 16 + 1)) * 16
            window = (..., slice(y, y + 128), slice(x, x + 128))
            inputs, target = whole_inputs[window], whole_target[window]
            if rng.random() < 0.5:
                inputs, target = inputs.flip(-1), target.flip(-1)
            loss = kind.loss(made, inputs, target)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(made.parameters(), 1.0)
            optimizer.step()
    return made.eval()


def frames_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """Straight uint8 RGBA frames → 1×(4·n)×H×W premultiplied, sides padded to multiples of 16 (edges repeat)."""
    tensor = premultiplied_tensor(np.concatenate(frames, axis=-1)).permute(2, 0, 1)[None]
    height, width = tensor.shape[-2:]
    return F.pad(tensor, (0, -width % 16, 0, -height % 16), mode="replicate")


def apprentice_maker(net: torch.nn.Module) -> Maker:
    """The apprentice as apply runs it, reading the keys around the two where the shot has them."""
    return lambda first, last, around: halfway(net, first, last, 1024, around)


def write_sequences(sequences: Sequences, folder: Path) -> None:
    for name, frames in sequences.items():
        target = folder / name.replace("/", "__")
        target.mkdir(parents=True)
        for number, frame in enumerate(frames):
            Image.fromarray(frame, "RGBA").save(target / f"{number:03d}.png")


def bench(
    data: str, marks: list[float], cache: Path, net_overrides: dict, train_config: TrainConfig, adapt: tuple[int, float]
) -> list[str]:
    train_set, unseen = DATA[data](cache)
    triplets = held_out_triplets(unseen)
    moving = [name for name in unseen if is_motion(name)]
    header = [
        "| method | minutes | steps | PSNR | median PSNR | SSIM | line chamfer (px) | median chamfer | "
        "true line px found within 1 px |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"### {data}: {len(train_set)} training sequences, {len(triplets)} held-out triplets from "
        f"{len(unseen)} unseen sequences",
        "",
        *header,
    ]
    motion = [
        "",
        f"Motion alone: {sum(t[2] for t in triplets)} of those triplets, from {len(moving)} sequences (effects left "
        f"out: {len(unseen) - len(moving)} sequences whose names say {', '.join(sorted(EFFECTS))})",
        "",
        *header,
    ]

    def add(method: str, minutes: str, steps: str, both: Scores) -> None:
        for table, s in zip((lines, motion), both, strict=True):
            table.append(
                f"| {method} | {minutes} | {steps} | {s['psnr']:.2f} | {s['median_psnr']:.2f} | {s['ssim']:.3f} | "
                f"{s['chamfer']:.2f} | {s['median_chamfer']:.2f} | {s['found']:.1%} |"
            )

    add("cross-fade", "–", "–", scores(lambda a, b, _: crossfade(a, b), triplets))
    for method in ("dis", "farneback"):
        add(f"optical flow ({method})", "–", "–", scores(lambda a, b, _, m=method: flow_warp(a, b, m), triplets))
    moved_whole = scores(lambda a, b, _: flow_warp(a, b, parts=True), triplets)
    add("DIS, shapes moved whole (`kinds.parts`)", "–", "–", moved_whole)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_sequences(train_set, root / "frames")
        shop = Workshop.init(root / "workshop", "bench")
        config = get_kind("inbetween").default_config()
        config["net"] |= net_overrides
        shop.new_task("tween", "inbetween", config)
        add_examples(shop, "tween", [root / "frames"])
        previous = 0.0
        for mark in marks:
            started = time.monotonic()
            made = train(shop, "tween", Budget(minutes=mark - previous), train_config)
            previous = mark
            trained = made.manifest["training"]["steps"]
            steps = f"{made.manifest['metrics']['best'].get('step', trained)} of {trained}"
            net = load_network(made)
            label = "apprentice" + ("" if config["net"]["flow"] else " (direct synthesis)")
            add(label, f"{mark:g}", steps, scores(apprentice_maker(net), triplets))
            if adapt[0]:
                add(
                    f"{label}, adapted to each shot's keys",
                    f"{mark:g}",
                    f"{steps}, +{adapt[0]}",
                    adapted_scores(net, unseen, *adapt),
                )
            print(f"  {data} {mark:g} min done in {time.monotonic() - started:.0f} s", flush=True)
    if len(moving) < len(unseen):  # every generated cartoon moves: its second table would repeat the first
        lines += motion
    lines.append("")
    lines.append(f"net {config['net']}; {train_config}; steps: the published (best held-out) one's, of all")
    return lines


SWITCHES = ("flow", "context", "prior", "parts")  # the network's on/off settings, given as 0 or 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", nargs="+", default=["synthetic", "supertux"], choices=list(DATA))
    parser.add_argument("--marks", type=float, nargs="+", default=[2, 5, 10], help="minutes at which to score")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "apprentice-bench")
    parser.add_argument("--net", default="", help="network overrides, e.g. flow=0 or deep_width=96")
    parser.add_argument("--train", default="", help="training overrides, e.g. lr=0.002,patch=96")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapt", type=int, default=0, help="also score it fine-tuned this many steps on each shot")
    parser.add_argument("--adapt-lr", type=float, default=1e-5, help="the learning rate of that fine-tune")
    args = parser.parse_args()
    overrides = {k: bool(v) if k in SWITCHES else v for k, v in parse(args.net).items()}
    lines = []
    for data in args.data:
        train_config = replace(TrainConfig(seed=args.seed), **parse(args.train))
        lines += bench(data, args.marks, args.cache, overrides, train_config, (args.adapt, args.adapt_lr)) + [""]
    print(
        f"{torch.get_num_threads()} threads; PSNR capped at 60 dB per triplet; line chamfer: lower is better; "
        "line pixels found: higher is better"
    )
    print("\n".join(lines))
    if "supertux" in args.data:
        print(LICENCE_NOTE)
    if "wesnoth" in args.data:
        print(WESNOTH_LICENCE_NOTE)


if __name__ == "__main__":
    main()
