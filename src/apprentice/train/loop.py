"""The training loop: reads top to bottom, from consented examples to a published apprentice.

Checkpoints every few seconds; `train` again after a kill resumes where the last checkpoint left off.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from apprentice.errors import BadInput, Conflict, Withdrawn
from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds import Kind, get_kind
from apprentice.kinds.tiling import transform
from apprentice.provenance.consent import withdrawn_among
from apprentice.provenance.manifest import Apprentice, publish
from apprentice.store.workshop import Workshop, now
from apprentice.train.checkpoint import FILE as CHECKPOINT
from apprentice.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from apprentice.train.examples import Decoded, ExampleRecord, Subset, gather, target_is_gray
from apprentice.train.heap import return_large_blocks
from apprentice.train.metrics import image_scores
from apprentice.train.sampler import PatchSampler
from apprentice.train.split import Pair, cut_regions, held_out_crops, split_indices, validation_crops


@dataclass(frozen=True)
class TrainConfig:
    """How a run trains; stored in the checkpoint and the manifest."""

    seed: int = 0
    patch: int = 0  # px; 0: the kind's (64 for paired steps, 96 for in-betweens)
    batch: int = 0  # patches per step; 0: the kind's (16, or 8 for in-betweens)
    lr: float = 1e-3
    warmup: int = 50  # steps of linear warm-up, then lr / sqrt(step / 500)
    validate_every: int = 50
    checkpoint_seconds: float = 20.0
    patience: int = 40  # validations without improvement before stopping early
    holdout: float = 0.2
    focus: float = 0.5  # share of patches centred where the step changes the picture

    @classmethod
    def default_config(cls) -> TrainConfig:
        return cls()

    def for_kind(self, kind: Kind) -> TrainConfig:
        """These settings with the ones left at 0 filled in from the kind's defaults."""
        defaults = {"patch": 64, "batch": 16} | kind.train_defaults
        return replace(self, **{name: value for name, value in defaults.items() if not getattr(self, name)})

    def learning_rate(self, step: int) -> float:
        return self.lr * min(step / self.warmup, 1.0) / math.sqrt(max(1.0, step / 500))


@dataclass(frozen=True)
class Budget:
    """How long to train: up to a total step count, or for some minutes from now (or both)."""

    steps: int | None = None
    minutes: float | None = None


@dataclass
class Progress:
    """One progress event, for the CLI bar and the web UI."""

    step: int
    target_steps: int | None
    elapsed: float
    remaining: float | None
    loss: float
    val_psnr: float | None = None
    best_psnr: float | None = None
    identity_psnr: float | None = None
    note: str = ""
    previews: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None  # held-out (before, made, after), uint8


@dataclass
class Run:
    """Everything the loop holds while training one task."""

    workshop: Workshop
    task: str
    kind: Kind
    config: TrainConfig
    records: list[ExampleRecord]
    validation: list[tuple[np.ndarray, np.ndarray]]
    validation_how: str
    sampler: PatchSampler
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    margin: int
    meta: dict = field(default_factory=dict)
    best: dict[str, torch.Tensor] = field(default_factory=dict)
    previews: list | None = None  # the latest validation's pictures, handed to the next progress event


def train(
    workshop: Workshop,
    task_name: str,
    budget: Budget,
    config: TrainConfig | None = None,
    fresh: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lineage: dict | None = None,
    for_guild: bool = False,
) -> Apprentice:
    """Train the task's apprentice within the budget and publish the best one by held-out validation.

    A guild's task trains only `for_guild`, when a proposal its members passed pledged this machine.
    """
    if workshop.task(task_name).config.get("guild") and not for_guild:
        raise Conflict(
            f"'{task_name}' is a guild's shared task: it trains when the members pass a proposal for it; "
            "see `apprentice guild show`."
        )
    torch.set_flush_denormal(True)  # tiny gradients otherwise slow every step several-fold on CPUs
    return_large_blocks()  # streamed examples' buffers are given back, not kept by the C heap
    run = prepare(workshop, task_name, config or TrainConfig.default_config(), fresh)
    target_steps, deadline = limits(run, budget)
    report = on_progress or (lambda progress: None)
    started, last_saved, since_best = time.monotonic(), time.monotonic(), 0
    base_seconds = run.meta["seconds"]
    report(Progress(run.meta["step"], target_steps, base_seconds, None, float("nan"), note=run.meta["note"]))
    try:
        while not done(run, target_steps, deadline, since_best) and not should_stop():
            loss = step(run)
            run.meta["seconds"] = base_seconds + time.monotonic() - started
            if run.meta["step"] % run.config.validate_every == 0:
                check_consent(run)
                since_best = 0 if validate(run) else since_best + 1
            if time.monotonic() - last_saved >= run.config.checkpoint_seconds:
                save(run)
                last_saved = time.monotonic()
            report(progress(run, loss, target_steps, deadline))
    except KeyboardInterrupt:
        save(run)  # Ctrl-C keeps every step so far; `train` again resumes here
        raise
    if run.meta.get("val_step") != run.meta["step"]:
        validate(run)
        report(progress(run, float("nan"), target_steps, deadline))  # the last scores and previews
    run.meta["finished"] = True
    save(run)
    check_consent(run)
    return kept_or_new(publish_run(run, lineage or {}), run.meta["step"])


def kept_or_new(made: Apprentice, step: int) -> Apprentice:
    """The published apprentice, saying so when the steps trained since it found nothing better."""
    trained = made.manifest["training"]["steps"]
    if trained >= step:
        return made
    best = made.manifest["metrics"]["best"].get("step", trained)
    note = (
        f"Steps {trained + 1}–{step} scored no better on the held-out examples than step {best}, "
        f"so {made.label()} stays the best."
    )
    return replace(made, note=note)


def prepare(workshop: Workshop, task_name: str, config: TrainConfig, fresh: bool) -> Run:
    task = workshop.task(task_name)
    kind = get_kind(task.kind)
    config = config.for_kind(kind)
    records = gather(workshop, task_name)
    if not records:
        raise BadInput(
            f"The task '{task_name}' has no examples yet; add some with `apprentice add {task_name} FOLDER`."
        )
    training, areas, validation, how, held_out = divide(Decoded(workshop, kind, records), records, config.holdout)
    torch.manual_seed(config.seed)
    net = kind.network(task.config).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    augment = task.config.get("augment", "none")
    sampler = PatchSampler(training, config.patch, config.batch, augment, config.focus, kind.reverse, areas)
    run = Run(workshop, task_name, kind, config, records, validation, how, sampler, net, optimizer, net.margin)
    run.meta = {"fingerprint": run_fingerprint(task.config, config, records), "step": 0, "seconds": 0.0}
    run.meta |= {
        "held_out": held_out,
        "gathered_at": now(),
        "gray_output": target_is_gray(workshop, records, kind.target),
    }
    resume(run, fresh)
    return run


def divide(
    examples: Decoded, records: list[ExampleRecord], holdout: float
) -> tuple[Sequence[Pair], list[int] | None, list[Pair], str, list[str]]:
    """(training examples, their areas, validation pairs, how they were held out, fingerprints not trained on)."""
    split = split_indices(
        [r.fingerprint for r in records], holdout, [r.group for r in records], [r.position for r in records]
    )
    if split is None:  # one or two examples: train on the start of each, score on its end
        training, validation, how = cut_regions(list(examples))
        return training, None, validation, how, []
    areas = [records[i].width * records[i].height for i in split.validation]
    side, count = validation_crops(areas)
    chosen = split.validation[:count]
    validation = [examples[i] for i in chosen] if side is None else held_out_crops(examples, chosen, side)
    how = split.how + crops_note(side, count, len(split.validation))
    training = Subset(examples, split.training)
    return training, [records[i].width * records[i].height for i in split.training], validation, how, split.not_trained


def crops_note(side: int | None, count: int, held: int) -> str:
    if side is None:
        return ""
    some = f"{count} of them" if count < held else "each"
    return f", scored on {some} as a {side}-px crop where the step changes the picture"


def run_fingerprint(task_config: dict, config: TrainConfig, records: list[ExampleRecord]) -> str:
    facts = {"task": task_config, "train": asdict(config), "examples": [r.fingerprint for r in records]}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def resume(run: Run, fresh: bool) -> None:
    """Continue from the task's checkpoint when it was made from the same examples and settings."""
    checkpoint = None if fresh else load_checkpoint(run.workshop.run_folder(run.task))
    run.meta |= {"best_psnr": None, "identity": identity_scores(run), "finished": False, "note": "starting"}
    if checkpoint is None or checkpoint.meta.get("fingerprint") != run.meta["fingerprint"]:
        run.meta["note"] = "starting afresh" if checkpoint is None else "examples or settings changed: starting afresh"
        run.best = copy.deepcopy(run.net.state_dict())
        return
    run.net.load_state_dict(checkpoint.model)
    run.optimizer.load_state_dict(checkpoint.optimizer)
    run.best = checkpoint.best
    run.meta |= {
        k: v for k, v in checkpoint.meta.items() if k in ("step", "seconds", "best_psnr", "best_val", "session")
    }
    run.meta["note"] = f"resuming at step {run.meta['step']}"
    run.meta["resumed_session"] = not checkpoint.meta.get("finished", False)


def limits(run: Run, budget: Budget) -> tuple[int | None, float | None]:
    """(total step to stop at, monotonic deadline); an unfinished timed session resumes its remaining time."""
    if budget.steps is None and budget.minutes is None:
        budget = Budget(minutes=5.0)
    deadline = None
    if budget.minutes is not None:
        session = run.meta.get("session") or {}
        seconds = budget.minutes * 60.0
        if run.meta.get("resumed_session") and session.get("minutes") == budget.minutes:
            seconds -= run.meta["seconds"] - session["started_at_seconds"]
        else:
            run.meta["session"] = {"minutes": budget.minutes, "started_at_seconds": run.meta["seconds"]}
        deadline = time.monotonic() + max(0.0, seconds)
    return budget.steps, deadline


def done(run: Run, target_steps: int | None, deadline: float | None, since_best: int) -> bool:
    if target_steps is not None and run.meta["step"] >= target_steps:
        return True
    if deadline is not None and time.monotonic() >= deadline:
        return True
    return since_best >= run.config.patience


def step(run: Run) -> float:
    """One optimiser step on the batch that (seed, step) names."""
    run.meta["step"] += 1
    inputs, targets = run.sampler.draw(run.config.seed, run.meta["step"])
    for group in run.optimizer.param_groups:
        group["lr"] = run.config.learning_rate(run.meta["step"])
    run.net.train()
    loss = run.kind.loss(run.net, inputs, targets)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    return float(loss.detach())


def predict(run: Run, source: np.ndarray) -> np.ndarray:
    """The network's output for a premultiplied array, through the same tiled path `apply` uses."""
    run.net.eval()
    return premultiply(transform(run.net, unpremultiply(source), run.margin))


def scores(run: Run, predictions: list[np.ndarray]) -> dict[str, float]:
    per_image = [image_scores(p, y) for p, (_, y) in zip(predictions, run.validation, strict=True)]
    return {name: float(np.mean([s[name] for s in per_image])) for name in ("psnr", "ssim")}


def identity_scores(run: Run) -> dict[str, float]:
    """The baseline to beat: what the kind does without learning (the before as it is, the keys cross-faded)."""
    return scores(run, [premultiply(unpremultiply(run.kind.baseline(x))) for x, _ in run.validation])


def validate(run: Run) -> bool:
    """Score the held-out data; keep the weights when they are the best so far. True when improved."""
    predictions = [predict(run, x) for x, _ in run.validation]
    result = scores(run, predictions)
    run.meta["val"], run.meta["val_step"] = result, run.meta["step"]
    pictures = zip(run.validation, predictions, strict=True)
    run.previews = [
        (unpremultiply(run.kind.baseline(x)), unpremultiply(made), unpremultiply(y)) for (x, y), made in pictures
    ]
    if run.meta["best_psnr"] is None or result["psnr"] > run.meta["best_psnr"]:
        run.meta["best_psnr"] = result["psnr"]
        run.meta["best_val"] = result | {"step": run.meta["step"]}
        run.best = copy.deepcopy(run.net.state_dict())
        return True
    return False


def save(run: Run) -> None:
    checkpoint = Checkpoint(run.net.state_dict(), run.best, run.optimizer.state_dict(), run.meta)
    save_checkpoint(run.workshop.run_folder(run.task), checkpoint)


def progress(run: Run, loss: float, target_steps: int | None, deadline: float | None) -> Progress:
    elapsed_here = run.meta["seconds"]
    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
    if target_steps:
        per_step = elapsed_here / max(1, run.meta["step"])
        by_steps = per_step * (target_steps - run.meta["step"])
        remaining = by_steps if remaining is None else min(remaining, by_steps)
    val = run.meta.get("val", {}).get("psnr")
    previews, run.previews = run.previews, None
    return Progress(
        run.meta["step"],
        target_steps,
        elapsed_here,
        remaining,
        loss,
        val,
        run.meta["best_psnr"],
        run.meta["identity"]["psnr"],
        previews=previews,
    )


def check_consent(run: Run) -> None:
    """Stop, forgetting the run, when an owner withdrew a work it learns from (read from the catalog now)."""
    works = {part.work for record in run.records for part in record.parts.values()}
    withdrawn = withdrawn_among(run.workshop, works)
    if withdrawn:
        (run.workshop.run_folder(run.task) / CHECKPOINT).unlink(missing_ok=True)
        raise Withdrawn(
            f"Work {withdrawn[0][:12]} was withdrawn while '{run.task}' was training on it, so nothing was kept; "
            f"run `apprentice train {run.task}` to train without it."
        )


def publish_run(run: Run, lineage: dict) -> Apprentice:
    metrics = {"validation": run.validation_how, "best": run.meta.get("best_val", {}), "identity": run.meta["identity"]}
    metrics["baseline"] = run.kind.baseline_name
    return publish(run.workshop, run.task, run.best, metrics, run.records, asdict(run.config), run.meta, lineage)
