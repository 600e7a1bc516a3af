"""Which 8-bit activation ranges lose the least: each activation's [min, max] against ranges that leave out the
rarest share of its values, and the app's choice among `kinds.quantized.TAILS` (the one whose 8-bit drawing of the
training patches is closest to float32's), on apprentices and their students trained through the app.

Each task of `paired_tasks.py` is trained per seed (8 pairs of 256², data seed 1 + 10·seed, the run's seed), then
its student learns the app's lesson. The ranges of every tail are measured on the very training patches the app
measured its own on (recorded as the guard was measured), and scored against the network's own fp32 drawing, finished
as apply finishes it: the dB lost on the workshop's held-out examples (what the guard decides on), on 12 unseen pairs
of 384×288 (seed 2), and how close the 8-bit drawing is to the fp32 one on those (PSNR between the two; higher is
closer). Run: python bench/int8_ranges.py [--tasks flats] [--seeds 3] [--minutes 2] [--tails 0 1e-5 1e-4 5e-4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from apply_runtimes import paired_task
from apprentice.calibration import cpu_model, read_cpuinfo
from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds.finish import Finish, finish
from apprentice.kinds.precision import FP32, INT8, cpu_flags, runner
from apprentice.kinds.quantized import TAILS, measure_ranges
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import Apprentice, find, load_network
from apprentice.store.workshop import Workshop
from apprentice.train import distil, loop
from apprentice.train.distil import student_budget, train_and_distil
from apprentice.train.loop import Budget, TrainConfig
from apprentice.train.metrics import image_scores
from apprentice.train.process import ready_for_training

from paired_tasks import task_pairs

Pair = tuple[np.ndarray, np.ndarray]  # premultiplied (input, target)


def recording_guards(seen: list[dict]) -> None:
    """Make training keep, for each guard it measures, the weights, held-out pairs and calibration patches."""
    measure = loop.measure_guards

    def recorded(net, validation, how, patches):  # noqa: ANN001, ANN202 -- the wrapped function's own signature
        patches = [patch.clone() for patch in patches]
        seen.append({"weights": {k: v.clone() for k, v in net.state_dict().items()}, "validation": validation,
                     "patches": patches})  # fmt: skip
        return measure(net, validation, how, patches)

    loop.measure_guards = recorded


def measured_on(seen: list[dict], net: torch.nn.Module) -> dict:
    """The recorded guard whose weights are this published network's."""
    weights = net.state_dict()
    for record in seen:
        kept = record["weights"]
        if kept.keys() == weights.keys() and all(torch.equal(kept[k], weights[k]) for k in weights):
            return record
    raise AssertionError("every published network's guard was measured on its own weights")


def drawings(net: torch.nn.Module, pairs: list[Pair], how: Finish) -> list[np.ndarray]:
    """The finished straight-RGBA drawings of the pairs' inputs, through the tiled path apply takes."""
    made = []
    for source, _ in pairs:
        straight = unpremultiply(source)
        made.append(finish(transform(net, straight, net.margin), [straight], how))
    return made


def psnr(drawn: list[np.ndarray], pairs: list[Pair]) -> float:
    return float(np.mean([image_scores(premultiply(d), t)["psnr"] for d, (_, t) in zip(drawn, pairs, strict=True)]))


def closeness(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """PSNR between two sets of drawings, over all their pixels."""
    mse = np.mean([np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b, strict=True)])
    return float(10 * np.log10(255.0**2 / max(mse, 1e-9)))


def trained(root: Path, task: str, seed: int, minutes: float) -> tuple[Apprentice, Apprentice]:
    """(the apprentice, its student), trained through the app in a workshop of their own."""
    shop = Workshop.init(root / "workshop", "bench")
    paired_task(shop, root, task, 1 + 10 * seed)
    distil.MAX_LOSS_DB = float("inf")  # keep every student, to measure it
    lesson = student_budget(minutes, None, None)
    student = train_and_distil(shop, task, Budget(minutes=minutes), lesson, TrainConfig(seed=seed))
    return find(shop, task, student.manifest["lineage"]["successor_of"]), student


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["flats"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=2.0, help="training per apprentice")
    parser.add_argument("--tails", type=float, nargs="+", default=[0.0, 1e-5, 1e-4, 5e-4])
    args = parser.parse_args()
    ready_for_training()
    cpuinfo = read_cpuinfo()
    flags = " ".join(sorted(cpu_flags(cpuinfo) & {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile"}))
    print(f"{cpu_model(cpuinfo) or '?'}; flags {flags}; {torch.get_num_threads()} threads")
    print("dB lost to 8 bits against the network's own fp32, held-out / unseen (negative: 8 bits scored higher),")
    print("and how close the 8-bit drawings are to the fp32 ones on the unseen pairs (dB)\n")
    shares: list[tuple[float, ...]] = [(tail,) for tail in args.tails] + [TAILS]
    names = [f"tail {tail:g}" for tail in args.tails] + ["the app's choice"]
    print("| task | seed | apprentice | fp32 unseen dB | " + " | ".join(names) + " |")
    print("|---|---|---|---|" + "---|" * len(names))
    seen: list[dict] = []
    recording_guards(seen)
    totals: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for task in args.tasks:
        unseen = [(premultiply(np.asarray(b.convert("RGBA"))), premultiply(np.asarray(a.convert("RGBA"))))
                  for b, a in task_pairs(task, 12, 2, (384, 288))]  # fmt: skip
        for seed in range(args.seeds):
            seen.clear()
            with tempfile.TemporaryDirectory() as folder:
                made = trained(Path(folder), task, seed, args.minutes)
                for label, apprentice in zip(("teacher", "student"), made, strict=True):
                    net = load_network(apprentice)
                    record = measured_on(seen, net)
                    how = Finish.from_dict(apprentice.manifest["output"]["finish"])
                    held = record["validation"]
                    fp32 = runner(net, FP32)
                    base_unseen, base_held = drawings(fp32, unseen, how), drawings(fp32, held, how)
                    cells = []
                    for name, tails in zip(names, shares, strict=True):
                        fast = runner(net, INT8, measure_ranges(net, record["patches"], tails))
                        on_unseen, on_held = drawings(fast, unseen, how), drawings(fast, held, how)
                        scores = (
                            psnr(base_held, held) - psnr(on_held, held),
                            psnr(base_unseen, unseen) - psnr(on_unseen, unseen),
                            closeness(on_unseen, base_unseen),
                        )
                        totals.setdefault((task, name), []).append(scores)
                        cells.append("{:+.3f} / {:+.3f} / {:.1f}".format(*scores))
                    row = f"| {task} | {seed} | {label} | {psnr(base_unseen, unseen):.2f} | " + " | ".join(cells) + " |"
                    print(row, flush=True)
    print("\nMeans over every apprentice (held-out loss / unseen loss / closeness):")
    for (task, name), scores in totals.items():
        held, unseen_loss, close = np.mean(scores, axis=0)
        print(f"  {task}, {name}: {held:+.3f} / {unseen_loss:+.3f} / {close:.1f} dB ({len(scores)} apprentices)")


if __name__ == "__main__":
    main()
