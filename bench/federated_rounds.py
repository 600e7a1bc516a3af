"""How a federated node's rounds should train, measured in one process without Flower (issue 15).

Each task's training pairs are split across three members as in `bench/federated.py`. Pooled: one workshop trains
N steps on all of them. Federated: every round, each member trains the aggregate k steps on its own pairs
(`train.rounds.local_round`'s loop: the same network, batches, schedule, and the examples pooled would hold out,
as `guild.federation.held_out` chooses them, and each member's own picking head, never averaged), and the aggregate is
their FedAvg, weighted by examples. Each member trains N steps in all, as on its own laptop in the pooled run's time.
Compared: restarting Adam every round against keeping each member's moments between rounds, at R rounds. Scored on
the same unseen pairs as `bench/federated.py`.
Run: python bench/federated_rounds.py [--tasks flats cleanup] [--steps 900] [--rounds 4 12] [--palette off]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from apprentice.calibration import describe_cpu, read_cpuinfo
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.network import PICKER_WEIGHTS, without_picker
from apprentice.provenance.manifest import find, load_network
from apprentice.store.examples import example_records
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, TrainConfig, step, train
from apprentice.train.rounds import moments_of, restore_moments, started
from apprentice.train.split import held_out_among
from federated import AUGMENT, MEMBERS, UNSEEN, write_pairs

from paired import unseen_scores
from paired_tasks import TASKS, task_pairs


def workshop(root: Path, name: str, task: str, pairs: list, palette: str = "auto") -> Workshop:
    shop = Workshop.init(root / name, name)
    config = {"augment": AUGMENT[task], "finish": {"palette": palette}}
    shop.new_task(task, "paired", get_kind("paired").default_config() | config)
    add_examples(shop, task, [write_pairs(root / f"pairs-{name}", pairs)])
    return shop


def pooled(root: Path, task: str, pairs: list, steps: int, unseen: list, palette: str) -> dict:
    """One workshop, every pair, `steps` steps; its network's own drawing scored (its picks unused: the nodes have
    no picking head; with `palette` off it trains none either)."""
    shop = workshop(root, "pooled", task, pairs, palette)
    train(shop, task, Budget(steps=steps), TrainConfig(seed=0))
    net = load_network(find(shop, task))
    net.picking = False
    return unseen_scores(net, unseen)


def federated(shops: list[Workshop], task: str, rounds: int, steps: int, keep: bool, unseen: list) -> dict:
    """`rounds` rounds in which each member trains steps / rounds steps, then FedAvg weighted by examples."""
    torch.manual_seed(0)
    net = get_kind("paired").network(get_kind("paired").default_config())
    weights = {name: value.clone() for name, value in net.state_dict().items()}
    moments: list[dict] = [{} for _ in shops]
    heads: list[dict] = [{} for _ in shops]  # each member's own picking head, kept at home and never averaged
    holdout = held_out_among([r.fingerprint for shop in shops for r in example_records(shop.catalog, task)])
    per_round, done = steps // rounds, 0
    for _ in range(rounds):
        made, counts = [], []
        for number, shop in enumerate(shops):
            records = example_records(shop.catalog, task)
            if {r.fingerprint for r in records} <= set(holdout.fingerprints):
                continue  # this member only scores
            run = started(shop, task, records, weights, 0, holdout, heads[number])
            run.state.step = done
            restore_moments(run.optimizer, moments[number] if keep else {})
            for _ in range(per_round):
                step(run)
            moments[number] = moments_of(run.optimizer)
            drawn = {name: value.detach().clone() for name, value in run.net.state_dict().items()}
            heads[number] = {name: value for name, value in drawn.items() if name in PICKER_WEIGHTS}
            made.append(without_picker(drawn))
            counts.append(len(run.records) - len(run.state.held_out))
        done += per_round
        weights = {name: sum(w[name] * n for w, n in zip(made, counts, strict=True)) / sum(counts) for name in weights}
    net.load_state_dict(weights)
    return unseen_scores(net.eval(), unseen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["flats", "cleanup"], choices=TASKS)
    parser.add_argument("--steps", type=int, default=900, help="training steps: pooled, and each member's in all")
    parser.add_argument("--rounds", type=int, nargs="+", default=[4, 12])
    parser.add_argument(
        "--palette",
        choices=["auto", "off"],
        default="auto",
        help="pooled run's palette: off trains no picking head, as the nodes have none",
    )
    args = parser.parse_args()
    print(f"python {shlex.join(sys.argv)}\nCPU: {describe_cpu(read_cpuinfo())}\n")
    print("| task | way | unseen PSNR (dB) | SSIM | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for task in args.tasks:
        pairs, unseen = task_pairs(task, 12, 0, (128, 128)), task_pairs(task, UNSEEN, 2, (128, 128))
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            started_at = time.monotonic()
            scores = pooled(root, task, pairs, args.steps, unseen, args.palette)
            row = f"{scores['psnr']:.2f} | {scores['ssim']:.3f} | {time.monotonic() - started_at:.0f}"
            print(f"| {task} | pooled, {args.steps} steps, palette {args.palette} | {row} |", flush=True)
            shops = [workshop(root, name, task, pairs[n :: len(MEMBERS)]) for n, name in enumerate(MEMBERS)]
            for rounds in args.rounds:
                for keep in (False, True):
                    started_at = time.monotonic()
                    scores = federated(shops, task, rounds, args.steps, keep, unseen)
                    way = f"federated, {rounds} rounds, Adam {'kept' if keep else 'restarted'} between rounds"
                    row = f"{scores['psnr']:.2f} | {scores['ssim']:.3f} | {time.monotonic() - started_at:.0f}"
                    print(f"| {task} | {way} | {row} |", flush=True)


if __name__ == "__main__":
    main()
