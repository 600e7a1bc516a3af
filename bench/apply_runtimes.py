"""Apply speed of the default paired and in-between apprentices per runtime and precision (fp32, bf16, int8 for the
paired network; ONNX Runtime fp32), and the held-out dB each runtime loses against PyTorch fp32.

Each apprentice is trained briefly through the app's path (workshop → add → train): a paired one per task of
`paired_tasks.py` (8 pairs of 256², seed 1), which then teaches its distilled student (`train.distil`, the app's
lesson unless --student gives minutes; the bench keeps every student to measure it, and says which ones the app's
0.2 dB rule would publish), and an in-betweener on the demo's cartoons (8 sequences, seed 1).
Speed: the network alone on a 2048² page (tiles of 1024 with the network's margin, as `apply` cuts them), and
end to end through `jobs.apply` (decode, network, finish, credentials, PNG encode, write) on --pages pages of
2048² in one process (in-betweens: --pages frames drawn between --pages + 1 keys). Quality: PSNR over white of
the finished output on unseen examples (paired: 6 pairs of 384×288, seed 2; in-betweens: the triplets of 3
unseen cartoons), and each runtime's loss against fp32; beside it, the guard the manifest recorded at training.
Run: python bench/apply_runtimes.py [--minutes 1] [--student MINUTES] [--pages 16] [--side 2048] (ONNX Runtime rows need
`pip install -e '.[onnx]'`; they are left out without it, and their end to end is not measured: apply runs PyTorch).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from apprentice.calibration import cpu_model, int8_ranges, measure, precision_for, read_cpuinfo
from apprentice.demo.cartoons import animation_set
from apprentice.export import export_onnx
from apprentice.formats.images import premultiply
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.finish import Finish
from apprentice.kinds.precision import BF16, FP32, INT8, MAX_LOSS_DB, Guard, cpu_flags, native_bf16, runner
from apprentice.kinds.quantized import takes_int8
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import Apprentice, find, load_network
from apprentice.store.workshop import Workshop
from apprentice.train import distil
from apprentice.train.distil import student_budget, train_and_distil
from apprentice.train.loop import Budget, train
from apprentice.train.precision import held_out_psnr
from apprentice.train.process import ready_for_applying, ready_for_training

from paired_tasks import TASKS, task_pairs

ready_for_training()  # as the CLI does for a process that trains

Pair = tuple[np.ndarray, np.ndarray]  # premultiplied (input, target)


class OnnxNet:
    """An exported apprentice run by ONNX Runtime, callable like the PyTorch network inside `transform`."""

    def __init__(self, path: Path, net: torch.nn.Module) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name, self.margin, self.align = self.session.get_inputs()[0].name, net.margin, getattr(net, "align", 4)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {self.name: x.contiguous().numpy()})[0])


def runtimes(shop: Workshop, task: str, made: Apprentice, folder: Path) -> dict[str, object]:
    """Each way this machine can run the apprentice, by name."""
    net = load_network(made)
    found = {"PyTorch fp32": runner(net, FP32), "PyTorch bf16": runner(net, BF16)}
    if takes_int8(net):
        found["PyTorch int8"] = runner(net, INT8, int8_ranges(made.manifest))
    try:
        found["ONNX Runtime fp32"] = OnnxNet(export_onnx(shop, task, folder / f"{made.id}.onnx", made.id), net)
    except Exception as error:  # noqa: BLE001 -- optional: any failure leaves the row out, said once
        print(f"  ONNX Runtime left out: {str(error)[:120]}")
    return found


def timed(work: Callable[[], object], pixels: int) -> tuple[float, float]:
    """(Mpx/s by the wall clock, CPU-seconds of this process per Mpx) of one call of `work`."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return pixels / wall / 1e6, cpu / (pixels / 1e6)


def network_speed(net: object, channels: int, side: int) -> tuple[float, float]:
    """Mpx/s and CPU-s/Mpx of the network alone on a side² page, the best of two after a warm-up."""
    page = np.random.default_rng(0).integers(0, 256, (side, side, channels), dtype=np.uint8)
    transform(net, page[:256, :256], net.margin)
    runs = [timed(lambda: transform(net, page, net.margin), side * side) for _ in range(2)]
    return max(speed for speed, _ in runs), min(cpu for _, cpu in runs)


def end_to_end(
    shop: Workshop, made: Apprentice, inputs: Path, out: Path, precision: str, drawn: int
) -> tuple[float, float]:
    """Mpx/s drawn and CPU-s/Mpx of `jobs.apply` with this apprentice on the input folder, in one process."""
    options = ApplyOptions(precision=precision, apprentice=made.id)
    return timed(lambda: apply(shop, made.task, [inputs], out, options), drawn)


def paired_unseen(task: str) -> list[Pair]:
    return [(premultiply(np.asarray(b.convert("RGBA"))), premultiply(np.asarray(a.convert("RGBA"))))
            for b, a in task_pairs(task, 6, 2, (384, 288))]  # fmt: skip


def inbetween_unseen() -> list[Pair]:
    found = []
    for frames in animation_set(3, seed=2, frames=7):
        arrays = [np.asarray(frame.convert("RGBA")) for frame in frames]
        for i in range(1, len(arrays) - 1):  # the two keys, then the keys around them (repeated at the ends)
            around = [
                arrays[i - 3] if i >= 3 else arrays[i - 1],
                arrays[i + 3] if i + 3 < len(arrays) else arrays[i + 1],
            ]
            found.append(
                (premultiply(np.concatenate([arrays[i - 1], arrays[i + 1], *around], axis=-1)), premultiply(arrays[i]))
            )
    return found


def paired_task(shop: Workshop, root: Path, task: str, seed: int = 1) -> None:
    """The task in the workshop with its 8 training pairs of 256² (of `seed`), written under root/task and added."""
    for number, (before, after) in enumerate(task_pairs(task, 8, seed, (256, 256))):
        for role, image in (("before", before), ("after", after)):
            (root / task / role).mkdir(parents=True, exist_ok=True)
            image.save(root / task / role / f"{number}.png")
    augment = "mirror" if task == "glyphs" else "mirror+rotate"
    shop.new_task(task, "paired", get_kind("paired").default_config() | {"augment": augment})
    add_examples(shop, task, [root / task])


def train_paired(
    shop: Workshop, root: Path, task: str, minutes: float, student: float | None
) -> tuple[Apprentice, Apprentice]:
    """(the apprentice, its student), both through the app's own training."""
    paired_task(shop, root, task)
    distil.MAX_LOSS_DB = float("inf")  # keep every student, to measure it; `published` below applies the app's rule
    made = train_and_distil(shop, task, Budget(minutes=minutes), student_budget(minutes, None, student))
    return find(shop, task, made.manifest["lineage"]["successor_of"]), made


def published(student: Apprentice) -> str:
    """Whether the app would publish this student: within 0.2 dB of its teacher on the held-out examples."""
    facts, lesson = student.manifest["metrics"]["distilled"], student.manifest["training"]
    verdict = "published" if facts["loss_db"] <= MAX_LOSS_DB else "refused"
    return (
        f"{student.task}: {verdict} ({facts['loss_db']:+.2f} dB held-out, {facts['saving']:.1f}× fewer multiply-adds; "
        f"{lesson['steps']:,} steps in {lesson['seconds'] / 60:.1f} min)"
    )


def train_inbetween(shop: Workshop, root: Path, minutes: float) -> Apprentice:
    for number, frames in enumerate(animation_set(8, seed=1)):
        (root / "tween" / f"s{number}").mkdir(parents=True)
        for index, frame in enumerate(frames):
            frame.save(root / "tween" / f"s{number}" / f"{index:03d}.png")
    shop.new_task("tween", "inbetween", get_kind("inbetween").default_config())
    add_examples(shop, "tween", [root / "tween"])
    return train(shop, "tween", Budget(minutes=minutes))


def paired_pages(folder: Path, side: int, count: int) -> Path:
    """`count` side² pages, each a mosaic of different unseen cleanup befores."""
    folder.mkdir(parents=True)
    tiles = [np.asarray(b.convert("RGB")) for b, _ in task_pairs("cleanup", 16, 5, (side // 4, side // 4))]
    for page in range(count):
        order = np.random.default_rng(page).permutation(16)
        rows = [np.concatenate([tiles[i] for i in order[r * 4 : r * 4 + 4]], axis=1) for r in range(4)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(folder / f"page{page:02d}.png")
    return folder


def inbetween_keys(folder: Path, side: int, count: int) -> Path:
    """`count` + 1 key poses of side², from one cartoon."""
    folder.mkdir(parents=True)
    [frames] = animation_set(1, seed=3, frames=count + 1, size=(side, side))
    for number, frame in enumerate(frames):
        frame.save(folder / f"key{number:03d}.png")
    return folder


def rows_for(
    label: str, shop: Workshop, made: list[Apprentice], unseen: list[list[Pair]], work: dict, reference: list | None
) -> tuple[list[str], list[float]]:
    """One row per runtime: network and end-to-end Mpx/s, held-out dB per task and the loss against `reference` (the
    teachers' fp32 dB; None: this set's own fp32). Also the fp32 dB."""
    first = made[0]
    lines = []
    runs = [runtimes(shop, m.task, m, work["root"]) for m in made]
    for name in runs[0]:
        net = runs[0][name]
        speed, cpu = network_speed(net, work["channels"], work["side"])
        precision = {"PyTorch fp32": FP32, "PyTorch bf16": BF16, "PyTorch int8": INT8}.get(name)
        e2e = "–"
        if precision in (BF16, INT8) and not Guard.from_dict(first.manifest["metrics"][precision], precision).allowed:
            e2e = f"– (its guard refuses {precision})"
        elif precision == BF16 and not native_bf16(cpu_flags(read_cpuinfo())):
            e2e = "– (bf16 is emulated here: apply runs fp32)"
        elif precision:
            out = work["root"] / f"out-{first.id}-{precision}"
            e2e = "{:.2f} ({:.2f})".format(*end_to_end(shop, first, work["inputs"], out, precision, work["drawn"]))
        how = [Finish.from_dict(m.manifest["output"]["finish"]) for m in made]
        dbs = [held_out_psnr(run[name], pairs, h) for run, pairs, h in zip(runs, unseen, how, strict=True)]
        reference = reference or dbs
        losses = " / ".join(f"{r - d:.3f}" for r, d in zip(reference, dbs, strict=True))  # negative: better
        scored = " / ".join(f"{d:.2f}" for d in dbs)
        lines.append(f"| {label} | {name} | {speed:.2f} ({cpu:.2f}) | {e2e} | {scored} | {losses} |")
        print(lines[-1], flush=True)
    chosen = precision_for(shop, first, load_network(first))
    print(f"`apply` on this machine chooses {chosen} for {first.label()} (precision auto)")
    for precision in (BF16, INT8):
        if not first.manifest["metrics"].get(precision):
            continue
        guards = " / ".join(f"{m.manifest['metrics'][precision]['loss_db']:.3f}" for m in made)
        lines.append(f"| {label} | {precision} guard recorded at training (dB lost) | | | | {guards} |")
        print(lines[-1], flush=True)
    return lines, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=1.0, help="training per apprentice")
    parser.add_argument("--student", type=float, help="minutes each paired student learns (default: as the app does)")
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--only", choices=("paired", "inbetween"), help="measure only these apprentices")
    parser.add_argument("--side", type=int, default=2048)
    args = parser.parse_args()
    cpuinfo = read_cpuinfo()
    flags = sorted(cpu_flags(cpuinfo) & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    model = cpu_model(cpuinfo) or "?"
    bf16 = "native" if native_bf16(cpu_flags(cpuinfo)) else "emulated"
    print(f"{model}; flags {' '.join(flags)}; bf16 {bf16}", flush=True)
    print(
        f"{torch.get_num_threads()} threads; {args.pages} pages of {args.side}²; {args.minutes} min of training each, "
    )
    lesson = f"{args.student} min" if args.student is not None else f"{student_budget(args.minutes, None, None)}"
    print(f"then for each paired apprentice's student: {lesson}")
    print("| apprentice | runtime | network Mpx/s (CPU-s/Mpx) | end to end Mpx/s (CPU-s/Mpx) | unseen dB | loss |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shop = Workshop.init(root / "workshop", "bench")
        work = {"root": root, "side": args.side, "drawn": args.pages * args.side**2}
        if args.only != "inbetween":
            paired(shop, work, args)
        if args.only != "paired":
            ready_for_training()
            tween = train_inbetween(shop, root / "frames", args.minutes)
            ready_for_applying()
            keys = inbetween_keys(root / "keys", args.side, args.pages)
            work |= {"channels": get_kind("inbetween").input_channels, "inputs": keys}
            rows_for("in-between (cartoons)", shop, [tween], [inbetween_unseen()], work, None)


def paired(shop: Workshop, work: dict, args: argparse.Namespace) -> None:
    """The paired rows: each task's apprentice and its student, then the first apply's calibration."""
    root = work["root"]
    pairs = [train_paired(shop, root / "pairs", task, args.minutes, args.student) for task in TASKS]
    teachers, students = [teacher for teacher, _ in pairs], [student for _, student in pairs]
    ready_for_applying()  # as `apprentice apply` does
    work |= {"channels": 4, "inputs": paired_pages(root / "pages", args.side, args.pages)}
    unseen, tasks = [paired_unseen(t) for t in TASKS], " / ".join(TASKS)
    _, reference = rows_for(f"paired ({tasks})", shop, teachers, unseen, work, None)
    rows_for(f"student ({tasks})", shop, students, unseen, work, reference)
    print("Students by the app's rule: " + "; ".join(published(student) for student in students))
    calibrated = measure(load_network(teachers[0]), 4, (FP32, BF16, INT8), int8_ranges(teachers[0].manifest))
    print(f"calibration on first apply (Mpx/s of a 256² square): {calibrated}")


if __name__ == "__main__":
    main()
