"""Benchmark of the inbetween kind against cross-fade and optical-flow in-betweens, on animation it never saw.

Trains through the app's own path (workshop, import, train) and scores the published apprentice after each
time mark on held-out triplets of unseen sequences. Run: python bench/inbetween.py [--data synthetic supertux wesnoth]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from apprentice.demo.cartoons import animation_set
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.inbetween import halfway
from apprentice.provenance.manifest import load_network
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.process import ready_for_training

from inbetween_baselines import crossfade, flow_warp, line_chamfer, lines_found, psnr_ssim
from paired import parse
from sprites import LICENCE_NOTE, WESNOTH_LICENCE_NOTE, supertux_sequences, wesnoth_sequences, wesnoth_unit

ready_for_training()  # as the CLI does for a process that trains

Sequences = dict[str, list[np.ndarray]]
Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]
Around = tuple[np.ndarray | None, np.ndarray | None]  # the keys before and after a triplet's keys, where drawn
Maker = Callable[[np.ndarray, np.ndarray, Around], np.ndarray]


def synthetic(_: Path) -> tuple[Sequences, Sequences]:
    """The demo's generated cartoons: 16 training sequences, 6 unseen ones from other seeds."""
    train_set = {f"seq{i:02d}": [np.asarray(f) for f in s] for i, s in enumerate(animation_set(16, seed=1))}
    unseen = {f"new{i:02d}": [np.asarray(f) for f in s] for i, s in enumerate(animation_set(6, seed=2))}
    return train_set, unseen


def supertux(cache: Path) -> tuple[Sequences, Sequences]:
    """SuperTux's sprite animations, split by creature: every fourth creature's sequences are unseen."""
    sequences = supertux_sequences(cache)
    creatures = sorted({name.split("/")[0] for name in sequences})
    unseen_creatures = set(creatures[3::4])
    train_set = {k: v for k, v in sequences.items() if k.split("/")[0] not in unseen_creatures}
    unseen = {k: v for k, v in sequences.items() if k.split("/")[0] in unseen_creatures}
    return train_set, unseen


def wesnoth(cache: Path) -> tuple[Sequences, Sequences]:
    """Wesnoth's unit animations, split by unit (variants together): every fourth unit's sequences are unseen."""
    sequences = wesnoth_sequences(cache)
    units = sorted({wesnoth_unit(name) for name in sequences})
    unseen_units = set(units[3::4])
    train_set = {k: v for k, v in sequences.items() if wesnoth_unit(k) not in unseen_units}
    unseen = {k: v for k, v in sequences.items() if wesnoth_unit(k) in unseen_units}
    return train_set, unseen


DATA: dict[str, Callable[[Path], tuple[Sequences, Sequences]]] = {
    "synthetic": synthetic,
    "supertux": supertux,
    "wesnoth": wesnoth,
}


def drawings(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Holds collapsed, as the importer does: a drawing exposed for several frames counts once."""
    kept = [frames[0]]
    for frame in frames[1:]:
        if not np.array_equal(frame, kept[-1]):
            kept.append(frame)
    return kept


def held_out_triplets(unseen: Sequences) -> list[tuple[Triplet, Around]]:
    """Each middle drawing with its two neighbours, and the drawings three before and after it (the keys around its
    keys when every other drawing is a key), as the app's examples are cut."""
    found = []
    for frames in unseen.values():
        kept = drawings(frames)
        for i in range(1, len(kept) - 1):
            around = (kept[i - 3] if i >= 3 else None, kept[i + 3] if i + 3 < len(kept) else None)
            found.append(((kept[i - 1], kept[i], kept[i + 1]), around))
    return found


def scores(make: Maker, triplets: list[tuple[Triplet, Around]]) -> dict[str, float]:
    rows = []
    for (first, middle, last), around in triplets:
        made = make(first, last, around)
        psnr, ssim = psnr_ssim(made, middle)
        found = lines_found(made, middle)
        rows.append((min(psnr, 60.0), ssim, line_chamfer(made, middle), found))  # identical frames: cap at 60 dB
    psnrs, ssims, chamfers, founds = zip(*rows, strict=True)
    return {
        "psnr": float(np.mean(psnrs)),
        "median_psnr": statistics.median(psnrs),
        "ssim": float(np.mean(ssims)),
        "chamfer": float(np.mean(chamfers)),
        "median_chamfer": statistics.median(chamfers),  # the mean is ruled by frames whose lines all faded
        "found": float(np.mean(founds)),
    }


def apprentice_maker(net: torch.nn.Module) -> Maker:
    """The apprentice as apply runs it, reading the keys around the two where the shot has them."""
    return lambda first, last, around: halfway(net, first, last, 1024, around)


def write_sequences(sequences: Sequences, folder: Path) -> None:
    for name, frames in sequences.items():
        target = folder / name.replace("/", "__")
        target.mkdir(parents=True)
        for number, frame in enumerate(frames):
            Image.fromarray(frame, "RGBA").save(target / f"{number:03d}.png")


def bench(data: str, marks: list[float], cache: Path, net_overrides: dict, train_config: TrainConfig) -> list[str]:
    train_set, unseen = DATA[data](cache)
    triplets = held_out_triplets(unseen)
    lines = [
        f"### {data}: {len(train_set)} training sequences, {len(triplets)} held-out triplets from "
        f"{len(unseen)} unseen sequences",
        "",
        "| method | minutes | steps | PSNR | median PSNR | SSIM | line chamfer (px) | median chamfer | "
        "true line px found within 1 px |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def row(method: str, minutes: str, steps: str, s: dict) -> str:
        return (
            f"| {method} | {minutes} | {steps} | {s['psnr']:.2f} | {s['median_psnr']:.2f} | {s['ssim']:.3f} | "
            f"{s['chamfer']:.2f} | {s['median_chamfer']:.2f} | {s['found']:.1%} |"
        )

    lines.append(row("cross-fade", "–", "–", scores(lambda a, b, _: crossfade(a, b), triplets)))
    for method in ("dis", "farneback"):
        lines.append(
            row(f"optical flow ({method})", "–", "–", scores(lambda a, b, _, m=method: flow_warp(a, b, m), triplets))
        )
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
            steps = made.manifest["training"]["steps"]
            result = scores(apprentice_maker(load_network(made)), triplets)
            label = "apprentice" + ("" if config["net"]["flow"] else " (direct synthesis)")
            lines.append(row(label, f"{mark:g}", str(steps), result))
            print(f"  {data} {mark:g} min done in {time.monotonic() - started:.0f} s", flush=True)
    lines.append("")
    lines.append(f"net {config['net']}; {train_config}; steps are the published (best held-out) apprentice's")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", nargs="+", default=["synthetic", "supertux"], choices=list(DATA))
    parser.add_argument("--marks", type=float, nargs="+", default=[2, 5, 10], help="minutes at which to score")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "apprentice-bench")
    parser.add_argument("--net", default="", help="network overrides, e.g. flow=0 or deep_width=96")
    parser.add_argument("--train", default="", help="training overrides, e.g. lr=0.002,patch=96")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    overrides = {k: bool(v) if k == "flow" else v for k, v in parse(args.net).items()}
    lines = []
    for data in args.data:
        train_config = replace(TrainConfig(seed=args.seed), **parse(args.train))
        lines += bench(data, args.marks, args.cache, overrides, train_config) + [""]
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
