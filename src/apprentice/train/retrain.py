"""Retrain: a successor to an apprentice, on the same settings, without the works withdrawn since.

The successor's manifest and catalog row name the apprentice it replaces and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

from apprentice.provenance.manifest import Apprentice, find, tainted_by
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, Progress, TrainConfig, train


def retrain(
    workshop: Workshop,
    task_name: str,
    budget: Budget | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Apprentice:
    """Train a successor of the task's newest apprentice with its settings; consent is read afresh."""
    old = find(workshop, task_name)
    settings = old.manifest["training"]
    config = TrainConfig(**{f.name: settings[f.name] for f in fields(TrainConfig) if f.name in settings})
    withdrawn = tainted_by(workshop, old.id)
    because = f"withdrawn: {', '.join(w[:12] for w in withdrawn)}" if withdrawn else "retrained on request"
    budget = budget or Budget(steps=settings["steps"])
    lineage = {"successor_of": old.id, "because": because}
    return train(workshop, task_name, budget, config, fresh=True, on_progress=on_progress, lineage=lineage)
