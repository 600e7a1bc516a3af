"""Pooled against federated guild training at equal total minutes, on the paired bench tasks (issue 15).

Each task's training pairs are split across three members (each holds different works). Pooled: one workshop
trains on all of them for M minutes. Federated: the three members' nodes (`apprentice serve`, `apprentice guild
work`, as real processes on 127.0.0.1) train the same M minutes in R rounds on Flower, Ada hosting. Both are
scored on the same unseen pairs. With --laptops, the federated run gets M × 3 minutes of this machine: its three nodes
share this machine's cores (a third of its threads each), so that is about the time each would have on a laptop of its
own in M minutes.
Run: python bench/federated.py [--tasks cleanup flats glyphs] [--minutes 2] [--rounds 12] [--laptops]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from apprentice.calibration import describe_cpu, read_cpuinfo
from apprentice.guild.records import record_hash
from apprentice.provenance.manifest import find, load_network
from apprentice.store.workshop import Workshop

from paired import unseen_scores
from paired_tasks import TASKS, Pair, task_pairs

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from guild_nodes import Node  # noqa: E402  the member nodes the guild tests run, as real processes
from servers import free_port  # noqa: E402

MEMBERS = ("Ada", "Ben", "Cleo")
AUGMENT = {"cleanup": "mirror+rotate", "flats": "mirror", "glyphs": "mirror"}
UNSEEN = 6  # pairs from seed 2, never trained on


def write_pairs(folder: Path, pairs: list[Pair]) -> Path:
    for role in ("before", "after"):
        (folder / role).mkdir(parents=True, exist_ok=True)
    for number, (before, after) in enumerate(pairs):
        before.save(folder / "before" / f"p{number:02}.png")
        after.save(folder / "after" / f"p{number:02}.png")
    return folder


def pooled(root: Path, task: str, pairs: list[Pair], minutes: float, unseen: list[Pair]) -> dict:
    """One workshop, every pair, M minutes."""
    node = Node(root, "Pooled")
    node.run("init", "--name", "Pooled")
    node.run("task", "new", task, "--augment", AUGMENT[task])
    node.run("add", task, write_pairs(root / "pooled-pairs", pairs))
    started = time.monotonic()
    node.run("train", task, "--minutes", str(minutes), "--student-minutes", "0")  # a federated release has none
    wall = time.monotonic() - started
    shop = Workshop.open(node.home)
    scores = unseen_scores(load_network(find(shop, task)), unseen)
    return {"psnr": scores["psnr"], "ssim": scores["ssim"], "wall": wall, "bytes_per_round": 0}


def federated(root: Path, task: str, pairs: list[Pair], minutes: float, rounds: int, unseen: list[Pair]) -> dict:
    """Three members, each with a third of the pairs, M minutes in R rounds on Flower; Ada hosts and contributes."""
    nodes = [Node(root, name) for name in MEMBERS]
    try:
        for number, node in enumerate(nodes):
            node.run("init", "--name", node.name)
            node.run("task", "new", task, "--augment", AUGMENT[task])
            node.run("add", task, write_pairs(root / f"pairs-{node.name}", pairs[number :: len(nodes)]))
            node.start()
        ada, ben, cleo = nodes
        ada.run("guild", "create", "Bench", "--address", ada.address)
        for node in (ben, cleo):
            node.run("guild", "join", ada.run("guild", "invite").strip(), "--address", node.address)
        for node in nodes:
            node.run("guild", "offer", task)
        args = ["guild", "propose", task, "--compute", "Ada", "--federated", "--rounds", str(rounds)]
        digest = record_hash(ada.json(*args, "--minutes", str(minutes)))
        for node in nodes[:2]:
            node.run("guild", "vote", digest[:12], "yes")
        started = time.monotonic()
        workers = [work(node) for node in nodes]
        for process in workers:
            process.wait(timeout=minutes * 60 * 3 + 600)
        wall = time.monotonic() - started
    finally:
        for node in nodes:
            node.stop()
    shop = Workshop.open(ada.home)
    made = find(shop, f"Bench-{task}")
    facts = made.manifest["training"]["round_facts"]
    per_round = sum(r["bytes_up"] + r["bytes_down"] for r in facts) / len(facts)
    scores = unseen_scores(load_network(made), unseen)
    return {"psnr": scores["psnr"], "ssim": scores["ssim"], "wall": wall, "bytes_per_round": per_round}


def work(node: Node) -> subprocess.Popen:
    # the three nodes share this machine's cores: more threads than cores spin in OpenMP and slow every node (2
    # threads each on 2 cores: flats 4.4 dB behind pooled on a Zen 3; bench/RESULTS.md)
    threads = str(max(1, (os.cpu_count() or 1) // len(MEMBERS)))
    env = os.environ | {"APPRENTICE_HOME": str(node.home), "APPRENTICE_SYNC_SECONDS": "0", "OMP_NUM_THREADS": threads}
    log = (node.home.parent / f"{node.name}-work.log").open("ab")
    port = str(free_port())
    command = [sys.executable, "-m", "apprentice.cli", "guild", "work", "--flower-port", port]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--minutes", type=float, default=2.0, help="total training minutes, for both ways")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=12, help="training pairs, split across the three members")
    parser.add_argument("--size", type=int, default=128, help="px, the side of every picture")
    parser.add_argument(
        "--laptops",
        action="store_true",
        help="give the federated run minutes × 3 here: about M minutes on each member's own machine",
    )
    args = parser.parse_args()
    shared = len(MEMBERS) if args.laptops else 1
    os.environ["APPRENTICE_SYNC_SECONDS"] = "0"  # the nodes sync when `guild work` says so
    print(f"python {shlex.join(sys.argv)}\nCPU: {describe_cpu(read_cpuinfo())}\n")
    print("| task | way | held-out PSNR (dB) | SSIM | bytes sent per round | wall time (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for task in args.tasks:
        size = (args.size, args.size)
        pairs, unseen = task_pairs(task, args.pairs, 0, size), task_pairs(task, UNSEEN, 2, size)
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            results = {
                "pooled": pooled(root / "pooled", task, pairs, args.minutes, unseen),
                f"federated, {args.rounds} rounds{', as on 3 laptops' if args.laptops else ''}": federated(
                    root / "federated", task, pairs, args.minutes * shared, args.rounds, unseen
                ),
            }
        for way, r in results.items():
            sent = f"{r['bytes_per_round'] / 1e6:.2f} MB" if r["bytes_per_round"] else "— (nothing leaves)"
            print(f"| {task} | {way} | {r['psnr']:.2f} | {r['ssim']:.3f} | {sent} | {r['wall']:.0f} |", flush=True)
        print(json.dumps({task: results}), file=sys.stderr)


if __name__ == "__main__":
    Image.MAX_IMAGE_PIXELS = None
    main()
