"""What the `apprentice` commands share: opening the workshop, printing a result, the training progress bar.

Kept apart from cli.py so the guild verbs (cli_guild.py) use the same pieces without importing the command tree.
"""

from __future__ import annotations

import json
import math

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from apprentice.store.workshop import Workshop, default_home
from apprentice.train.loop import Progress as TrainProgress

console = Console(stderr=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def workshop() -> Workshop:
    return Workshop.open(default_home())


def emit(data: object, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else text)


class training_bar:  # noqa: N801 - used as a context manager like a function
    """A rich progress bar fed by the loop's progress events."""

    def __init__(self, quiet: bool) -> None:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("step {task.fields[step]}  loss {task.fields[loss]}  held-out {task.fields[val]}"),
            TimeElapsedColumn(),
            TextColumn("left {task.fields[left]}"),
        ]
        self.bar = Progress(*columns, console=console, disable=quiet)
        self.task = self.bar.add_task("training", total=1.0, step=0, loss="-", val="-", left="?")
        self.first_left: float | None = None

    def __enter__(self):
        self.bar.start()
        return self.update

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, event: TrainProgress) -> None:
        if event.note:
            self.bar.console.print(f"[dim]{event.note}[/dim]")
        left = event.remaining
        if self.first_left is None and left:
            self.first_left = left
        fraction = 0.0 if left is None or not self.first_left else 1.0 - left / self.first_left
        val = "-" if event.val_psnr is None else f"{event.val_psnr:.2f} dB (baseline {event.identity_psnr:.2f})"
        self.bar.update(
            self.task,
            completed=fraction,
            step=event.step,
            loss="-" if math.isnan(event.loss) else f"{event.loss:.4f}",
            val=val,
            left="?" if left is None else f"{int(left) // 60}:{int(left) % 60:02d}",
        )
