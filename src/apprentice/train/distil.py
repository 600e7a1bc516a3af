"""Distillation: right after training, the apprentice teaches a cheaper student that applies several times faster.

The student learns to draw what its teacher draws, on the teacher's own training examples; it is published only
when it scores within `MAX_LOSS_DB` of its teacher on the same held-out examples, so apply never trades quality away.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from apprentice.formats.images import premultiply, unpremultiply
from apprentice.kinds.finish import Finish
from apprentice.kinds.precision import MAX_LOSS_DB
from apprentice.kinds.tiling import transform
from apprentice.provenance.manifest import Apprentice, find, load_network, publish
from apprentice.store.apprentices import apprentice_rows
from apprentice.store.workshop import Workshop
from apprentice.train.loop import (
    Budget,
    Progress,
    Run,
    RunState,
    TrainConfig,
    check_consent,
    done,
    progress,
    step,
    train,
    trained,
    validate,
)
from apprentice.train.sampler import PatchSampler
from apprentice.train.split import Pair

DISTILLED = "distilled"  # how a student's lineage begins its "because"
TEACHING = "teaching a faster student"  # the progress note while a student learns
# A student's lesson, in steps so that a slower CPU teaches the same one: 5,000 steps kept all three bench tasks'
# students within 0.2 dB of their teachers on a 2-core Zen 3, where 2.5 minutes (half as many steps) left flats' and
# glyphs' 0.3–0.5 dB below (bench/RESULTS.md, issue 18, fifth round).
STUDENT_STEPS = 5_000
MIN_SAVING = 2.0  # a student must need at most half its teacher's multiply-adds per pixel to be worth teaching


def cost_of(net: torch.nn.Module) -> int:
    """Multiply-adds per output pixel of a network that says (0 for one that does not: never worth replacing)."""
    return int(getattr(net, "multiply_adds", 0))


@dataclass(frozen=True)
class Lesson:
    """What one distillation decided: the apprentice `apply` uses from now on, and why, in the user's words."""

    chosen: Apprentice
    why: str


def train_and_distil(
    workshop: Workshop,
    task_name: str,
    budget: Budget,
    student: Budget | None,
    config: TrainConfig | None = None,
    fresh: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Apprentice:
    """`train`; then, within the `student` budget (None: not at all), the published apprentice teaches its kind's
    cheaper student. The apprentice apply uses from now on, its note saying why."""
    report = on_progress or (lambda progress: None)

    def teach(run: Run, made: Apprentice) -> Apprentice:
        if student is None or should_stop():  # a run stopped by its user teaches no student either
            return made
        earlier = student_of(workshop, made)
        lesson = distil(run, made, student, report, should_stop) if earlier is None else Lesson(earlier, "")
        return replace(lesson.chosen, note=f"{made.note} {lesson.why}".strip())

    return train(workshop, task_name, budget, config, fresh, on_progress, should_stop, then=teach)


def student_budget(minutes: float | None, steps: int | None, student_minutes: float | None) -> Budget | None:
    """How long a student learns: for the minutes asked (0: not at all), else STUDENT_STEPS, the same lesson on every
    CPU, within as many minutes as its teacher trained (the default five when neither minutes nor steps are given),
    at least one and at most ten; a run counted in steps teaches none unless asked."""
    if student_minutes is not None:
        return Budget(minutes=student_minutes) if student_minutes > 0 else None
    if steps is not None and minutes is None:
        return None
    return Budget(steps=STUDENT_STEPS, minutes=min(10.0, max(1.0, minutes or 5.0)))


def student_of(workshop: Workshop, teacher: Apprentice) -> Apprentice | None:
    """The student this apprentice already taught (a later run found nothing better than it), or None."""
    for row in apprentice_rows(workshop.catalog, teacher.task):
        if row["successor_of"] == teacher.id and (row["because"] or "").startswith(DISTILLED):
            return find(workshop, teacher.task, row["id"])
    return None


class TeacherLabels:
    """A patch sampler whose targets are what the teacher draws from the same patches (its picks included): for a set
    too large to hold, where drawing whole examples again each time one streams in would cost more."""

    def __init__(self, sampler: PatchSampler, teacher: torch.nn.Module) -> None:
        self.sampler, self.teacher = sampler, teacher

    def draw(self, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, _ = self.sampler.draw(seed, step)
        with torch.inference_mode():
            drawn = self.teacher(inputs)
        return inputs, drawn.clone().contiguous(memory_format=torch.channels_last)


class TeacherDrawings(Sequence):
    """The training examples, each with the teacher's drawing of its whole input as the target (its picks included):
    what apply would draw, with the same tiles and context, drawn once when the sampler first decodes the example."""

    def __init__(self, examples: Sequence[Pair], teacher: torch.nn.Module) -> None:
        self.examples, self.teacher = examples, teacher

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        inputs, _ = self.examples[index]
        return inputs, premultiply(transform(self.teacher, unpremultiply(inputs), self.teacher.margin))


def labelled(sampler: PatchSampler, teacher: torch.nn.Module) -> PatchSampler | TeacherLabels:
    """The student's sampler: the same patches, augmentations and order, with the teacher's drawings as targets."""
    if sampler.streaming:
        return TeacherLabels(sampler, teacher)
    sampler.pool.clear()  # the teacher's run is over: hold each example once, with the teacher's drawing
    drawings = TeacherDrawings(sampler.examples, teacher)
    return PatchSampler(
        drawings, sampler.patch, sampler.batch, sampler.how, sampler.focus, sampler.reverse, list(sampler.areas)
    )


def closeness(cost: float) -> str:
    """How a published student scores beside its teacher on the held-out examples, from the dB it loses."""
    if cost <= 0:
        return f"{-cost:.2f} dB above its teacher"
    return f"{cost:.2f} dB below its teacher, within {MAX_LOSS_DB} dB"


def student_config(run: Run) -> dict | None:
    """The task's settings with the kind's cheaper network, or None when the kind names no student."""
    student = run.kind.student
    if student is None:
        return None
    return run.workshop.task(run.task).config | {"net": student}


def distil(
    run: Run,
    teacher: Apprentice,
    budget: Budget,
    report: Callable[[Progress], None] = lambda progress: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Lesson:
    """Teach the kind's student what the run's published `teacher` draws, within the budget, and publish it when it
    loses at most MAX_LOSS_DB on the held-out examples. Consent is checked as in training; nothing is checkpointed:
    a killed distillation leaves the teacher in use."""
    config = student_config(run)
    if config is None:
        return Lesson(teacher, "")  # the kind names no student: nothing to say
    teacher_net = load_network(teacher)
    pupil = pupil_run(run, teacher, teacher_net, config)
    saving = cost_of(teacher_net) / max(1, cost_of(pupil.net))
    if saving < MIN_SAVING:
        return Lesson(teacher, f"{teacher.label()} is already about as cheap to apply as a student would be.")
    target_steps, deadline = budget.steps, None if budget.minutes is None else time.monotonic() + budget.minutes * 60
    started, since_best, state = time.monotonic(), 0, pupil.state
    while not done(pupil, target_steps, deadline, since_best) and not should_stop():
        loss = step(pupil)
        state.seconds = time.monotonic() - started
        if state.step % pupil.config.validate_every == 0:
            check_consent(run)
            since_best = 0 if validate(pupil) else since_best + 1
        report(replace(progress(pupil, loss, target_steps, deadline), note=TEACHING))
    if state.val_step != state.step:
        validate(pupil)
    check_consent(run)
    return judged(run, pupil, teacher, config["net"], saving)


def pupil_run(run: Run, teacher: Apprentice, teacher_net: torch.nn.Module, config: dict) -> Run:
    """A run of the student's network on the teacher run's examples, split, validation and finishes."""
    torch.manual_seed(run.config.seed)
    net = run.kind.network(config).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=run.config.lr)
    teacher_state = run.state
    how = Finish.from_dict(teacher.manifest["output"]["finish"])
    finishes = [replace(how, picks=False, sure=0.0)]  # it draws its teacher's picks, and the finish snaps them
    state = RunState(
        teacher_state.fingerprint,
        teacher_state.held_out,
        teacher_state.gathered_at,
        teacher_state.gray_output,
        finishes,
        dict(teacher_state.identity),
    )
    pupil = replace(
        run, sampler=labelled(run.sampler, teacher_net), net=net, optimizer=optimizer, margin=net.margin, state=state
    )
    pupil.best = copy.deepcopy(net.state_dict())
    return pupil


def judged(run: Run, pupil: Run, teacher: Apprentice, student: dict, saving: float) -> Lesson:
    """Publish the student when it is close enough to its teacher on the held-out examples; say which is used."""
    teacher_psnr = float(teacher.manifest["metrics"]["best"]["psnr"])
    student_psnr = float(pupil.state.best_psnr or float("-inf"))
    cost = teacher_psnr - student_psnr
    facts = {"teacher": teacher.id, "teacher_psnr": teacher_psnr, "student_psnr": student_psnr, "loss_db": cost}
    facts["saving"] = round(saving, 2)
    if cost > MAX_LOSS_DB:
        why = (
            f"A cheaper student scored {student_psnr:.2f} dB on the held-out examples, {cost:.2f} dB below "
            f"{teacher.label()}, more than {MAX_LOSS_DB} dB, so apply keeps using {teacher.label()}."
        )
        return Lesson(teacher, why)
    because = f"{DISTILLED}: {saving:.1f}× fewer multiply-adds per pixel, {-cost:+.2f} dB on the held-out examples"
    lineage = {"successor_of": teacher.id, "because": because}
    made = trained(pupil, lineage)
    made = replace(made, network=student, metrics=made.metrics | {"distilled": facts})
    student_made = publish(run.workshop, made)
    why = (
        f"{student_made.label()} learned from {teacher.label()} and scores {student_psnr:.2f} dB on the held-out "
        f"examples ({closeness(cost)}) with {saving:.1f}× fewer multiply-adds per pixel, so apply uses it."
    )
    return Lesson(student_made, why)
