"""A task's settings the artist changes after creating it: how its apprentice finishes what it draws.

Both shells call `set_finish`; the next training run judges the finish with these choices (see kinds.finish).
"""

from __future__ import annotations

from apprentice.kinds.finish import check_settings, settings
from apprentice.store.workshop import Task, Workshop


def set_finish(workshop: Workshop, task_name: str, chosen: dict[str, str]) -> Task:
    """Force the task's palette, alpha or paper on or off (or back to auto); aspects not named keep their setting."""
    task = workshop.task(task_name)
    finish = settings(task.config) | check_settings(chosen)
    return workshop.set_task_config(task_name, task.config | {"finish": finish})


def new_task_config(defaults: dict, augment: str, chosen: dict[str, str]) -> dict:
    """A new task's settings: its kind's defaults, how it augments, and the finish the artist chose."""
    forced = {aspect: value for aspect, value in check_settings(chosen).items() if value != "auto"}
    return defaults | {"augment": augment} | ({"finish": settings({"finish": forced})} if forced else {})
