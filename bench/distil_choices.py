"""How a distilled student's choices change what it loses against its teacher: which check keeps it, how deep
it is, and whether unpaired befores (drawn by the teacher, without afters) join its lessons.

Each task of `paired_tasks.py` (8 pairs of 256², seed 1, as `apply_runtimes.py` trains them) gets one teacher,
trained once through the app (`train`, --teacher minutes); then every student of --blocks learns from that same
teacher for --steps steps, built exactly as `train.distil` builds it (`pupil_run`: the teacher's whole drawings,
the same sampler and split), checked every 50 steps on the app's held-out pairs. The weights each rule keeps are
scored on the held-out pairs and on 6 unseen pairs (seed 2); loss is the teacher's dB minus the student's
(negative: the student scores higher). Rules: `truth`, the best check against the true afters (the app's);
`teacher`, the check closest to the teacher's own finished drawings of the held-out befores (the truth unused);
`last`, the last step. --befores N adds N befores of the task (seed 3, never in another set) to the lessons.
--shapes replaces --blocks with whole student shapes, WIDTHxDEEPxBLOCKS (features at half resolution, at quarter
resolution, residual blocks; link 1 as the app's student), e.g. 16x32x8 (the app's) 8x24x8.
Run: python bench/distil_choices.py [--teacher 5] [--steps 5000] [--seed 1] [--blocks 6 8 | --shapes 16x32x8 8x24x8]
[--befores 0 24] [--rules truth teacher last]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from apply_runtimes import paired_task, paired_unseen
from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds import get_kind
from apprentice.kinds.finish import Finish, finish
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import Apprentice, load_network
from apprentice.store.workshop import Workshop
from apprentice.train import distil
from apprentice.train.loop import Budget, Run, TrainConfig, prepare, step, train
from apprentice.train.metrics import image_scores
from apprentice.train.process import ready_for_training
from apprentice.train.sampler import PatchSampler

from paired_tasks import TASKS, task_pairs

Pair = tuple[np.ndarray, np.ndarray]


class Joined(Sequence):
    """Two example lists as one."""

    def __init__(self, first: Sequence, second: Sequence) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    def __getitem__(self, index: int):  # type: ignore[override]
        return self.first[index] if index < len(self.first) else self.second[index - len(self.first)]


def finished(net: torch.nn.Module, pairs: list[Pair], how: Finish) -> list[np.ndarray]:
    """The network's finished drawings of the pairs' befores, premultiplied, through apply's tiled path."""
    made = []
    for source, _ in pairs:
        straight = unpremultiply(source)
        made.append(premultiply(finish(transform(net, straight, net.margin), [straight], how)))
    return made


def psnr(made: list[np.ndarray], wanted: list[np.ndarray]) -> float:
    return float(np.mean([image_scores(m, w)["psnr"] for m, w in zip(made, wanted, strict=True)]))


def teacher_of(shop: Workshop, root: Path, task: str, minutes: float) -> Apprentice:
    paired_task(shop, root, task)
    return train(shop, task, Budget(minutes=minutes))


def shape_of(name: str) -> dict:
    """The student's network shape: "8" (the app's student with 8 blocks) or "8x24x8" (width x deep width x blocks)."""
    sizes = [int(size) for size in name.split("x")]
    if len(sizes) == 1:
        return dict(get_kind("paired").student or {}) | {"blocks": sizes[0]}
    return dict(get_kind("paired").student or {}) | dict(zip(("width", "deep_width", "blocks"), sizes, strict=True))


def student(run: Run, teacher: Apprentice, shape: dict, befores: int) -> Run:
    """The run `distil` would make for a student of this shape, with `befores` unpaired befores added."""
    pupil = distil.pupil_run(run, teacher, load_network(teacher).eval(), distil.student_config(run) | {"net": shape})
    if befores:
        extra = [(premultiply(np.asarray(b.convert("RGBA"))), None) for b, _ in task_pairs(run.task, befores, 3)]
        old = pupil.sampler
        lessons = distil.TeacherDrawings(Joined(old.examples.examples, extra), old.examples.teacher)
        areas = list(old.areas) + [256 * 256] * befores
        sampler = PatchSampler(lessons, old.patch, old.batch, old.how, old.focus, old.reverse, areas)
        pupil = replace(pupil, sampler=sampler)
    return pupil


def kept_weights(
    pupil: Run, steps: int, teacher_drawn: list[np.ndarray], how: Finish, rules: Sequence[str]
) -> dict[str, dict]:
    """The weights each of `rules` keeps over `steps` steps."""
    truths = [target for _, target in pupil.validation]
    best = {"truth": (-np.inf, None), "teacher": (-np.inf, None)}
    while pupil.state.step < steps:
        step(pupil)
        if pupil.state.step % pupil.config.validate_every == 0:
            made = finished(pupil.net.eval(), pupil.validation, how)
            for rule in set(rules) & set(best):
                score = psnr(made, truths if rule == "truth" else teacher_drawn)
                if score > best[rule][0]:
                    best[rule] = (score, copy.deepcopy(pupil.net.state_dict()))
    kept = {rule: weights for rule, (_, weights) in best.items()} | {"last": copy.deepcopy(pupil.net.state_dict())}
    return {rule: kept[rule] for rule in rules}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--teacher", type=float, default=5.0, help="minutes of training per teacher")
    parser.add_argument("--steps", type=int, default=5000, help="steps per student")
    parser.add_argument("--seed", type=int, default=1, help="the students' seed")
    parser.add_argument("--blocks", nargs="+", default=["6", "8"])
    parser.add_argument("--shapes", nargs="+", help="student shapes WIDTHxDEEPxBLOCKS, instead of --blocks")
    parser.add_argument(
        "--rules", nargs="+", default=["truth", "teacher", "last"], choices=("truth", "teacher", "last")
    )
    parser.add_argument("--befores", type=int, nargs="+", default=[0, 24])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    args = parser.parse_args()
    ready_for_training()
    print(f"{args.teacher} min per teacher; {args.steps} steps per student; seed {args.seed}")
    print("| task | student | unpaired befores | rule | loss held-out / unseen (dB) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        shop = Workshop.init(Path(folder) / "workshop", "bench")
        for task in args.tasks:
            teacher = teacher_of(shop, Path(folder) / "pairs", task, args.teacher)
            run = prepare(shop, task, replace(TrainConfig.default_config(), seed=args.seed), fresh=False)
            how = Finish.from_dict(teacher.manifest["output"]["finish"])
            tnet, unseen = load_network(teacher).eval(), paired_unseen(task)
            teacher_drawn = finished(tnet, run.validation, how)
            held = psnr(teacher_drawn, [y for _, y in run.validation])
            seen = psnr(finished(tnet, unseen, how), [y for _, y in unseen])
            plain = replace(how, picks=False, sure=0.0)  # the student draws its teacher's picks; the finish snaps
            for name in args.shapes or args.blocks:
                for befores in args.befores:
                    pupil = student(run, teacher, shape_of(name), befores)
                    for rule, weights in kept_weights(pupil, args.steps, teacher_drawn, plain, args.rules).items():
                        net = copy.deepcopy(pupil.net)
                        net.load_state_dict(weights)
                        net.eval()
                        held_loss = held - psnr(finished(net, run.validation, plain), [y for _, y in run.validation])
                        seen_loss = seen - psnr(finished(net, unseen, plain), [y for _, y in unseen])
                        print(
                            f"| {task} | {name} | {befores} | {rule} | {held_loss:+.2f} / {seen_loss:+.2f} |",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
