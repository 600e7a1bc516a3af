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
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import torch

from apprentice.errors import BadInput, Conflict, Withdrawn
from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds import Kind, get_kind
from apprentice.kinds.finish import Finish, candidates, finish, kept, settings
from apprentice.kinds.network import add_picker, drop_picker, without_picker
from apprentice.kinds.tiling import transform
from apprentice.provenance.consent import withdrawn_among
from apprentice.provenance.manifest import Apprentice, Trained, publish
from apprentice.store.examples import ExampleRecord
from apprentice.store.workshop import Task, Workshop, now
from apprentice.train.checkpoint import FILE as CHECKPOINT
from apprentice.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from apprentice.train.examples import Decoded, Subset, gather, judged_finish, target_is_gray
from apprentice.train.metrics import image_scores
from apprentice.train.precision import measure_guards
from apprentice.train.process import flush_denormals
from apprentice.train.sampler import PatchSampler
from apprentice.train.split import (
    HOLDOUT,
    HeldOut,
    Pair,
    cut_regions,
    held_as_chosen,
    held_out_crops,
    split_indices,
    validation_crops,
)

CALIBRATION = 8  # batches of training patches (another seed's draw) that 8-bit integers' ranges are measured on


@dataclass(frozen=True)
class TrainConfig:
    """How a run trains; stored in the checkpoint and the manifest."""

    seed: int = 0
    patch: int = 0  # px; 0: the kind's (64 for paired steps, 96 for in-betweens)
    batch: int = 0  # patches per step; 0: the kind's (16, or 8 for in-betweens)
    lr: float = 1e-3
    clip: float = 0.0  # largest gradient norm a step may take (0: unclipped; the kind's own, else none)
    warmup: int = 50  # steps of linear warm-up, then lr / sqrt(step / 500)
    validate_every: int = 50
    checkpoint_seconds: float = 20.0
    patience: int = 40  # validations without improvement before stopping early
    holdout: float = HOLDOUT
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
class Session:
    """A timed `train --minutes M`: resumed after a kill, it trains only the minutes it had left."""

    minutes: float
    started_at_seconds: float  # the run's total seconds when this session began


@dataclass
class RunState:
    """What a run knows of itself besides its tensors. `saved()` is the part a checkpoint keeps."""

    fingerprint: str  # of the task's settings, the run's settings and its examples: a checkpoint resumes only these
    held_out: list[str]  # fingerprints of the examples never trained on
    gathered_at: str  # when consent was read from the catalog
    gray_output: bool  # every target is grayscale, so outputs of grayscale inputs stay grayscale
    finishes: list[Finish]  # the judged finish (picked by the network, then snapped), then without its palette, …
    identity: dict[str, float] = field(default_factory=dict)  # the baseline's held-out scores
    step: int = 0
    seconds: float = 0.0  # training time over every session of this run
    best_psnr: float | None = None
    best_val: dict = field(default_factory=dict)  # the best held-out scores and their step
    val: dict = field(default_factory=dict)  # the latest held-out scores
    val_step: int = -1
    session: Session | None = None
    resumed_session: bool = False  # a timed session was interrupted and this run continues it
    finished: bool = False
    note: str = "starting"

    SAVED = ("fingerprint", "step", "seconds", "best_psnr", "best_val", "session", "finished")

    def saved(self) -> dict:
        return {name: asdict(self)[name] for name in self.SAVED}

    def resume(self, saved: dict) -> None:
        """Continue from a checkpoint's facts (an unfinished timed session keeps its minutes)."""
        self.step, self.seconds = int(saved.get("step", 0)), float(saved.get("seconds", 0.0))
        self.best_psnr, self.best_val = saved.get("best_psnr"), saved.get("best_val") or {}
        known = {f.name for f in fields(Session)}
        session = saved.get("session") or {}
        self.session = Session(**{k: v for k, v in session.items() if k in known}) if session else None
        self.resumed_session = not saved.get("finished", False)
        self.note = f"resuming at step {self.step}"


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
    state: RunState
    best: dict[str, torch.Tensor] = field(default_factory=dict)
    previews: list | None = None  # the latest validation's pictures, handed to the next progress event


def own_tasks_only(task: Task) -> None:
    """The policy of a member's own training: a guild's shared task trains only when a passed proposal pledges this
    machine (guild.releases passes its own policy), never on a member's say alone."""
    if task.config.get("guild"):
        raise Conflict(
            f"'{task.name}' is a guild's shared task: it trains when the members pass a proposal for it; "
            "see `apprentice guild show`."
        )


def train(
    workshop: Workshop,
    task_name: str,
    budget: Budget,
    config: TrainConfig | None = None,
    fresh: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lineage: dict | None = None,
    policy: Callable[[Task], None] = own_tasks_only,
    then: Callable[[Run, Apprentice], Apprentice] | None = None,
) -> Apprentice:
    """Train the task's apprentice within the budget and publish the best one by held-out validation.

    `policy` says whether this caller may train the task (it raises when not); `then` takes the finished run and its
    published apprentice to the apprentice the caller gets (train.distil teaches a student there).
    """
    policy(workshop.task(task_name))
    flush_denormals()  # this thread's float mode; the process-wide heap setting is the edge's (ready_for_training)
    run = prepare(workshop, task_name, config or TrainConfig.default_config(), fresh)
    target_steps, deadline = limits(run, budget)
    report = on_progress or (lambda progress: None)
    started, last_saved, since_best = time.monotonic(), time.monotonic(), 0
    state, base_seconds = run.state, run.state.seconds
    report(Progress(state.step, target_steps, base_seconds, None, float("nan"), note=state.note))
    try:
        while not done(run, target_steps, deadline, since_best) and not should_stop():
            loss = step(run)
            state.seconds = base_seconds + time.monotonic() - started
            if state.step % run.config.validate_every == 0:
                check_consent(run)
                since_best = 0 if validate(run) else since_best + 1
            if time.monotonic() - last_saved >= run.config.checkpoint_seconds:
                save(run)
                last_saved = time.monotonic()
            report(progress(run, loss, target_steps, deadline))
    except KeyboardInterrupt:
        save(run)  # Ctrl-C keeps every step so far; `train` again resumes here
        raise
    if state.val_step != state.step:
        validate(run)
        report(progress(run, float("nan"), target_steps, deadline))  # the last scores and previews
    state.finished = True
    save(run)
    check_consent(run)
    made = kept_or_new(publish(workshop, trained(run, lineage or {})), state.step)
    return made if then is None else then(run, made)


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


def prepare(
    workshop: Workshop,
    task_name: str,
    config: TrainConfig,
    fresh: bool,
    records: list[ExampleRecord] | None = None,
    picking: bool = True,
    holdout: HeldOut | None = None,
) -> Run:
    """The run of a task, on its consented examples (or on `records`, already chosen by the caller's consent rule).
    Without `picking` the network has no head over the palette judged here (federated nodes share one network);
    with `holdout` the caller chose the held-out examples (a guild's, across its contributors)."""
    task = workshop.task(task_name)
    kind = get_kind(task.kind)
    config = config.for_kind(kind)
    records = gather(workshop, task_name) if records is None else records
    if not records:
        raise BadInput(
            f"The task '{task_name}' has no examples yet; add some with `apprentice add {task_name} FOLDER`."
        )
    examples = Decoded(workshop, kind, records)
    training, areas, validation, how, held_out = divide(examples, records, config.holdout, holdout)
    never_trained, chosen = set(held_out), settings(task.config)
    judged = judged_finish(workshop, [r for r in records if r.fingerprint not in never_trained], kind, chosen)
    torch.manual_seed(config.seed)
    net = kind.network(task.config)
    can_pick = picking and add_picker(net, judged.palette)
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    augment = task.config.get("augment", "none")
    sampler = PatchSampler(training, config.patch, config.batch, augment, config.focus, kind.reverse, areas)
    state = RunState(
        run_fingerprint(task.config, config, records),
        held_out,
        now(),
        target_is_gray(workshop, records, kind.target),
        candidates(judged, can_pick),
    )
    run = Run(workshop, task_name, kind, config, records, validation, how, sampler, net, optimizer, net.margin, state)
    resume(run, fresh)
    return run


def divide(
    examples: Decoded, records: list[ExampleRecord], holdout: float, chosen: HeldOut | None = None
) -> tuple[Sequence[Pair], list[int] | None, list[Pair], str, list[str]]:
    """(training examples, their areas, validation pairs, how they were held out, fingerprints not trained on)."""
    fingerprints = [r.fingerprint for r in records]
    if chosen is not None:
        split = held_as_chosen(fingerprints, set(chosen.fingerprints), chosen.among)
    else:
        split = split_indices(fingerprints, holdout, [r.group for r in records], [r.position for r in records])
    if split is None:  # one or two examples: train on the start of each, score on its end
        training, validation, how = cut_regions(list(examples))
        return training, None, validation, how, []
    examples.keep_apart(split.training, split.validation)
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
    run.state.identity = identity_scores(run)
    if checkpoint is None or checkpoint.meta.get("fingerprint") != run.state.fingerprint:
        run.state.note = "starting afresh" if checkpoint is None else "examples or settings changed: starting afresh"
        run.best = copy.deepcopy(run.net.state_dict())
        return
    run.net.load_state_dict(checkpoint.model)
    run.optimizer.load_state_dict(checkpoint.optimizer)
    run.best = checkpoint.best
    run.state.resume(checkpoint.meta)


def limits(run: Run, budget: Budget) -> tuple[int | None, float | None]:
    """(total step to stop at, monotonic deadline); an unfinished timed session resumes its remaining time."""
    if budget.steps is None and budget.minutes is None:
        budget = Budget(minutes=5.0)
    deadline, state = None, run.state
    if budget.minutes is not None:
        seconds = budget.minutes * 60.0
        if state.resumed_session and state.session and state.session.minutes == budget.minutes:
            seconds -= state.seconds - state.session.started_at_seconds
        else:
            state.session = Session(budget.minutes, state.seconds)
        deadline = time.monotonic() + max(0.0, seconds)
    return budget.steps, deadline


def done(run: Run, target_steps: int | None, deadline: float | None, since_best: int) -> bool:
    if target_steps is not None and run.state.step >= target_steps:
        return True
    if deadline is not None and time.monotonic() >= deadline:
        return True
    return since_best >= run.config.patience


def step(run: Run) -> float:
    """One optimiser step on the batch that (seed, step) names."""
    run.state.step += 1
    inputs, targets = run.sampler.draw(run.config.seed, run.state.step)
    for group in run.optimizer.param_groups:
        group["lr"] = run.config.learning_rate(run.state.step)
    run.net.train()
    loss = run.kind.loss(run.net, inputs, targets)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if run.config.clip:  # one freak batch must not throw away what was learned
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), run.config.clip)
    run.optimizer.step()
    return float(loss.detach())


def draw(run: Run, source: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """(the straight-RGBA images a premultiplied input holds, the network's straight-RGBA output for it), through
    the same tiled path `apply` uses."""
    run.net.eval()
    straight = unpremultiply(source)
    return [straight[..., i : i + 4] for i in range(0, straight.shape[-1], 4)], transform(run.net, straight, run.margin)


def scores(run: Run, predictions: list[np.ndarray]) -> dict[str, float]:
    per_image = [image_scores(p, y) for p, (_, y) in zip(predictions, run.validation, strict=True)]
    if not per_image:  # a guild's node that holds none of the run's held-out examples
        return {"psnr": math.nan, "ssim": math.nan}
    return {name: float(np.mean([s[name] for s in per_image])) for name in ("psnr", "ssim")}


def identity_scores(run: Run) -> dict[str, float]:
    """The baseline to beat: what the kind does without learning (the before as it is, the keys cross-faded)."""
    return scores(run, [premultiply(unpremultiply(run.kind.baseline(x))) for x, _ in run.validation])


def validate(run: Run) -> bool:
    """Score the held-out data, finished the way apply finishes; keep the weights when they are the best so far.

    Where the network can pick the judged palette's colours, picking (everywhere, or where it is sure) is kept only
    while it scores no worse, in PSNR and SSIM, than the snap (`kinds.finish.candidates`, `kept`). True when improved.
    """
    state, drawn = run.state, {}
    tried = []
    for how in state.finishes:
        way = (how.picks, how.sure)  # the network's drawing, or its picks from the palette
        if way not in drawn:
            run.net.picking, run.net.sure = way
            drawn[way] = [draw(run, x) for x, _ in run.validation]
        predictions = [premultiply(finish(made, inputs, how)) for inputs, made in drawn[way]]
        tried.append((scores(run, predictions), predictions))
    chosen = kept([scored for scored, _ in tried])
    result, predictions = tried[chosen]
    state.val, state.val_step = result, state.step
    pictures = zip(run.validation, predictions, strict=True)
    run.previews = [
        (unpremultiply(run.kind.baseline(x)), unpremultiply(made), unpremultiply(y)) for (x, y), made in pictures
    ]
    if state.best_psnr is None or result["psnr"] > state.best_psnr:
        state.best_psnr = result["psnr"]
        state.best_val = result | {"step": state.step} | ({"finish": chosen} if chosen else {})
        run.best = copy.deepcopy(run.net.state_dict())
        return True
    return False


def save(run: Run) -> None:
    checkpoint = Checkpoint(run.net.state_dict(), run.best, run.optimizer.state_dict(), run.state.saved())
    save_checkpoint(run.workshop.run_folder(run.task), checkpoint)


def progress(run: Run, loss: float, target_steps: int | None, deadline: float | None) -> Progress:
    state = run.state
    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
    if target_steps:
        by_steps = state.seconds / max(1, state.step) * (target_steps - state.step)
        remaining = by_steps if remaining is None else min(remaining, by_steps)
    previews, run.previews = run.previews, None
    return Progress(
        state.step,
        target_steps,
        state.seconds,
        remaining,
        loss,
        state.val.get("psnr"),
        state.best_psnr,
        state.identity["psnr"],
        previews=previews,
    )


def check_consent(run: Run) -> None:
    """Stop, forgetting the run, when an owner withdrew a work it learns from (read from the catalog now)."""
    withdrawn = withdrawn_among(run.workshop, {work for record in run.records for work in record.works})
    if withdrawn:
        forget(run)
        raise Withdrawn(
            f"Work {withdrawn[0][:12]} was withdrawn while '{run.task}' was training on it, so nothing was kept; "
            f"run `apprentice train {run.task}` to train without it."
        )


def forget(run: Run) -> None:
    """Delete the run's checkpoint: nothing it learned is kept."""
    (run.workshop.run_folder(run.task) / CHECKPOINT).unlink(missing_ok=True)


def trained(run: Run, lineage: dict) -> Trained:
    """What the run hands to `publish`: its best weights and every fact the manifest records."""
    state = run.state
    how = state.finishes[state.best_val.get("finish", 0)]
    metrics = {"validation": run.validation_how, "best": state.best_val, "identity": state.identity}
    metrics["baseline"] = run.kind.baseline_name
    metrics["bf16"], metrics["int8"] = precision_guards(run, how)
    return Trained(
        run.task,
        run.best if how.picks else without_picker(run.best),
        run.records,
        state.held_out,
        asdict(run.config),
        state.step,
        state.seconds,
        metrics,
        state.gray_output,
        state.gathered_at,
        lineage,
        how.to_dict(),
    )


def precision_guards(run: Run, how: Finish) -> tuple[dict | None, dict | None]:
    """What applying the best weights in bfloat16 and in 8-bit integers costs on the held-out examples (None: it
    cannot run in it); 8-bit's activation ranges are measured on CALIBRATION batches of training patches, in the
    network as `trained` publishes it (without its picking head where the finish snaps)."""
    net = copy.deepcopy(run.net)
    net.load_state_dict(run.best)
    net.picking, net.sure = how.picks, how.sure
    if not how.picks:
        drop_picker(net)
    patches = (run.sampler.draw(run.config.seed + 1, step)[0] for step in range(CALIBRATION))
    return measure_guards(net, run.validation, how, patches)
