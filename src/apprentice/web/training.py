"""Training from the page: one background thread per task running the core's `train`, its progress kept here.

The page reads the state by polling or as Server-Sent Events; stopping sets the flag `train` checks each step,
so a stopped run still publishes the best apprentice so far, and training again resumes from its checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from apprentice.errors import ApprenticeError, Conflict
from apprentice.store.workshop import Workshop, now
from apprentice.train.distil import TEACHING, train_and_distil
from apprentice.train.loop import Budget, Progress, TrainConfig
from apprentice.train.process import ready_for_applying, ready_for_training
from apprentice.web.pictures import preview_strip

log = logging.getLogger(__name__)
HISTORY_POINTS = 2000  # past this, every other loss-only point is dropped; validation points stay


def idle_state(task: str) -> dict:
    """What the page shows for a task before (or between) runs; every field the state ever has."""
    return {
        "task": task,
        "running": False,
        "stopping": False,
        "step": 0,
        "target_steps": None,
        "elapsed": 0.0,
        "remaining": None,
        "loss": None,
        "val_psnr": None,
        "best_psnr": None,
        "identity_psnr": None,
        "note": "",
        "history": [],
        "preview_url": None,
        "error": None,
        "apprentice": None,
        "started_at": None,
        "finished_at": None,
    }


def thinned(history: list[dict]) -> list[dict]:
    """A long history with every other loss-only point left out, so the state stays small to send."""
    if len(history) <= HISTORY_POINTS:
        return history
    return [point for i, point in enumerate(history) if i % 2 == 0 or point["val_psnr"] is not None]


class TrainingRun:
    """One task's training: at most one thread at a time, and the state the page shows."""

    def __init__(self, home: Path, task: str) -> None:
        self.home, self.task = home, task
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread: threading.Thread | None = None
        self.preview: bytes | None = None  # PNG: before | apprentice | after of the first held-out example
        self.version = 0  # bumps at every change, so events send each state once
        self.state = idle_state(task)

    def start(self, budget: Budget, config: TrainConfig, fresh: bool, student: Budget | None = None) -> dict:
        """Start training on a new thread; Conflict while a run of this task is going on."""
        with self.lock:
            if self.state["running"]:
                raise Conflict(f"'{self.task}' is already training; stop it or wait for it to finish first.")
            self.stop_flag.clear()
            self.preview = None
            self.state = idle_state(self.task) | {"running": True, "note": "starting", "started_at": now()}
            self.version += 1
            self.thread = threading.Thread(
                target=self.work, args=(budget, config, fresh, student), name=f"train-{self.task}", daemon=True
            )
            self.thread.start()
        return self.snapshot()[1]

    def stop(self) -> dict:
        """Ask the run to stop after its current step; it then publishes the best apprentice so far."""
        self.change(lambda state: state.update(stopping=True) if state["running"] else None)
        self.stop_flag.set()
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, dict]:
        """(version, a copy of the state) taken together."""
        with self.lock:
            return self.version, self.state | {"history": list(self.state["history"])}

    def change(self, edit: Callable[[dict], object]) -> None:
        with self.lock:
            edit(self.state)
            self.version += 1

    def work(self, budget: Budget, config: TrainConfig, fresh: bool, student: Budget | None) -> None:
        """The thread: train, then leave the outcome (an apprentice or one sentence of error) in the state."""
        outcome: dict = {"error": "Training ended unexpectedly; see the server's log."}
        ready_for_training()  # this thread trains
        try:
            shop = Workshop.open(self.home)
            try:
                made = train_and_distil(
                    shop, self.task, budget, student, config, fresh, self.record, self.stop_flag.is_set
                )
            finally:
                shop.close()
                ready_for_applying()  # the server goes back to applying (the setting is the process's)
            best = made.manifest["metrics"]["best"]
            outcome = {"apprentice": made.id, "best_psnr": best.get("psnr"), "error": None}
            outcome["note"] = made.note or f"Apprentice {made.label()} is ready."
        except ApprenticeError as error:
            outcome = {"error": str(error)}
        except Exception as error:  # a bug: its traceback goes to the log, one sentence to the page
            log.exception("training '%s' failed", self.task)
            outcome = {"error": f"Training stopped on an unexpected error ({error}); see the server's log."}
        finally:
            self.change(lambda state: state.update(outcome, running=False, stopping=False, finished_at=now()))

    def record(self, event: Progress) -> None:
        """The loop's progress callback (on the training thread)."""
        preview = preview_strip(event.previews[0]) if event.previews else None
        loss = None if math.isnan(event.loss) else event.loss

        def edit(state: dict) -> None:
            state.update(step=event.step, target_steps=event.target_steps, elapsed=event.elapsed, loss=loss)
            state.update(remaining=event.remaining, val_psnr=event.val_psnr, best_psnr=event.best_psnr)
            state.update(identity_psnr=event.identity_psnr, note=event.note or state["note"])
            if loss is not None and event.note != TEACHING:  # the chart is the apprentice's; a student starts over
                point = {"step": event.step, "loss": loss, "val_psnr": event.val_psnr if preview else None}
                state["history"] = thinned([*state["history"], point])
            if preview:
                self.preview = preview
                state["preview_url"] = f"/api/tasks/{quote(self.task, safe='')}/train/preview.png?step={event.step}"

        self.change(edit)

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


class TrainingRuns:
    """The training runs of this server, one per task, made when a task is first mentioned."""

    def __init__(self, home: Path, defaults: TrainConfig | None = None) -> None:
        self.home = home
        self.defaults = defaults or TrainConfig.default_config()  # every run's settings, but for its seed
        self.runs: dict[str, TrainingRun] = {}
        self.lock = threading.Lock()
        self.closing: Callable[[], bool] = lambda: False  # the server sets it, so event streams let it shut down

    def of(self, task: str) -> TrainingRun:
        with self.lock:
            return self.runs.setdefault(task, TrainingRun(self.home, task))

    def start(self, task: str, budget: Budget, seed: int, fresh: bool, student: Budget | None = None) -> dict:
        return self.of(task).start(budget, replace(self.defaults, seed=seed), fresh, student)

    def stop_all(self, timeout: float = 60.0) -> None:
        """Stop every run and wait for each to publish what it has (used when the server shuts down)."""
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            run.stop()
        for run in runs:
            run.join(timeout)


Disconnected = Callable[[], Awaitable[bool]]


async def events(runs: TrainingRuns, task: str, disconnected: Disconnected, every: float = 0.5) -> AsyncIterator[str]:
    """Server-Sent Events: the state as JSON each time it changed, until the run ends or the page goes away."""
    run, sent = runs.of(task), -1
    while True:
        version, state = run.snapshot()
        if version != sent:
            sent = version
            yield f"data: {json.dumps(state)}\n\n"
        if not state["running"] or runs.closing() or await disconnected():
            return
        await asyncio.sleep(every)
