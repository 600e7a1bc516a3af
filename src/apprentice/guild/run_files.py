"""A federated run's files in a node's workshop: the host's plan and result, each node's progress, one folder a run.

Kept apart from the Flower apps so that reading them never imports Flower (an optional extra).
"""

from __future__ import annotations

import json
from pathlib import Path

from apprentice.store.workshop import Workshop

RESULT, WEIGHTS, PROGRESS, STEPS = "result.json", "weights.safetensors", "progress.jsonl", "steps"
MOMENTS = "moments.safetensors"  # a node's optimizer state between its rounds: stays on its disk
HEAD = "head.safetensors"  # a node's own picking head over its own palette: stays on its disk, never averaged
HELD = "held-out.json"  # the run's held-out examples as this node chose them at its first round
HOST_PROGRESS = "host-progress.jsonl"  # the aggregate's rounds, beside the host's own node's progress


def run_folder(workshop: Workshop, proposal: str) -> Path:
    """Where a node keeps a federated run's plan, progress and result."""
    return workshop.root / "runs" / f"federated-{proposal[:16]}"


def note(folder: Path, event: dict, name: str = PROGRESS) -> None:
    """Add one progress event (a round's loss, or its score) to the run's progress file, and print it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("a") as file:
        file.write(json.dumps(event) + "\n")
    print("apprentice-round " + json.dumps(event), flush=True)


def progress(workshop: Workshop, proposal: str) -> list[dict]:
    """The rounds this node has seen of a federated run: as host (the aggregate's), else its own."""
    folder = run_folder(workshop, proposal)
    for name in (HOST_PROGRESS, PROGRESS):
        if (folder / name).is_file():
            return [json.loads(line) for line in (folder / name).read_text().splitlines() if line.strip()]
    return []
