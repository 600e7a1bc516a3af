"""Apprentices on disk: a safetensors weights file and a JSON manifest of everything it came from.

The manifest names every example's works and owners, the settings, the held-out metrics, the machine
and the software versions. Loading reads safetensors only, so an apprentice cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sqlite3
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load, save

from apprentice.errors import BadInput, NotFound
from apprentice.files import write_atomically
from apprentice.kinds import get_kind
from apprentice.kinds.finish import Finish
from apprentice.kinds.network import add_picker
from apprentice.provenance import consent
from apprentice.store import apprentices as stored
from apprentice.store.examples import ExampleRecord
from apprentice.store.workshop import Task, Workshop, now

WEIGHTS, MANIFEST = "weights.safetensors", "manifest.json"


@dataclass(frozen=True)
class Apprentice:
    """A trained model for a task, as published in the workshop."""

    id: str
    task: str
    version: int
    manifest: dict
    folder: Path
    note: str = ""  # set by a run that trained on but found nothing better: what happened to its steps

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256((self.folder / MANIFEST).read_bytes()).hexdigest()

    def label(self) -> str:
        return f"{self.task} #{self.version} ({self.id})"


def versions() -> dict[str, str]:
    names = ("apprentice", "torch", "numpy", "pillow", "safetensors")
    return {"python": sys.version.split()[0]} | {name: version(name) for name in names}


def machine() -> dict:
    return {
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "system": platform.platform(),
    }


def example_entries(records: list[ExampleRecord], held_out: set[str]) -> list[dict]:
    return [
        {
            "name": r.name,
            "fingerprint": r.fingerprint,
            "split": "validation" if r.fingerprint in held_out else "training",
            "size": [r.width, r.height],
            "parts": {
                role: {"work": p.work, "layer": p.layer, "owner": p.owner, "consent": p.consent}
                for role, p in r.parts.items()
            },
        }
        for r in records
    ]


def owner_shares(workshop: Workshop, records: list[ExampleRecord], held_out: set[str]) -> dict[str, dict]:
    """Per owner: how many examples of theirs the apprentice saw, and how many pixels of those it trained on.

    Held-out examples count as examples but not as training pixels: the apprentice never learned from them.
    """
    shares: dict[str, dict] = {}
    for record in records:
        for owner in {part.owner for part in record.parts.values()}:
            share = shares.setdefault(owner, {"name": workshop.member_name(owner), "examples": 0, "pixels": 0})
            share["examples"] += 1
            share["pixels"] += 0 if record.fingerprint in held_out else record.width * record.height
    return shares


@dataclass(frozen=True)
class Trained:
    """What a finished training run hands over to be published."""

    task: str
    weights: dict[str, torch.Tensor]
    records: list[ExampleRecord]
    held_out: list[str]  # fingerprints of the examples never trained on
    settings: dict  # the run's TrainConfig, as a dict
    steps: int
    seconds: float
    metrics: dict  # {"validation": how, "best": {...}, "identity": {...}, "baseline": name}
    gray_output: bool
    consent_checked_at: str
    lineage: dict = field(default_factory=dict)  # {"successor_of": id, "because": why} for a retrained successor
    finish: dict = field(default_factory=dict)  # the palette, alpha and paper its outputs keep (kinds.finish.Finish)
    network: dict | None = None  # a network other than the task's (a distilled student's "net" settings)


def publish(workshop: Workshop, trained: Trained) -> Apprentice:
    """Write the apprentice's files, then name it in the catalog, in one write: the version is taken with the row
    that uses it, and a kill leaves at most unnamed files, never a row without them."""
    task = workshop.task(trained.task)
    data = save({k: v.contiguous() for k, v in trained.weights.items()})
    digest = hashlib.sha256(data).hexdigest()
    apprentice_id = digest[:16]
    with workshop.catalog.write() as db:
        if not stored.has_apprentice(db, apprentice_id):
            manifest = manifest_of(workshop, task, trained, apprentice_id, digest, stored.next_version(db, task.name))
            folder = workshop.apprentice_folder(apprentice_id)
            text = json.dumps(manifest, indent=2).encode()
            write_atomically(folder / WEIGHTS, data)
            write_atomically(folder / MANIFEST, text)
            name_in_catalog(db, manifest, hashlib.sha256(text).hexdigest(), task.name)
    return find(workshop, trained.task, apprentice_id)  # the same weights published before: that apprentice


def manifest_of(
    workshop: Workshop, task: Task, trained: Trained, apprentice_id: str, digest: str, version: int
) -> dict:
    held_out = set(trained.held_out)
    return {
        "format": "apprentice-manifest/1",
        "id": apprentice_id,
        "task": task.name,
        "kind": task.kind,
        "version": version,
        "created_at": now(),
        "task_config": task.config | ({"net": trained.network} if trained.network else {}),
        "weights": {"file": WEIGHTS, "sha256": digest},
        "training": trained.settings | {"steps": trained.steps, "seconds": round(trained.seconds, 1)} | machine(),
        "output": {"gray": trained.gray_output, "finish": trained.finish},
        "metrics": trained.metrics,
        "examples": example_entries(trained.records, held_out),
        "owners": owner_shares(workshop, trained.records, held_out),
        "consent_checked_at": trained.consent_checked_at,
        "versions": versions(),
        "lineage": trained.lineage,
    }


def name_in_catalog(db: sqlite3.Connection, manifest: dict, manifest_sha256: str, task: str) -> int:
    """The catalog's row for an apprentice whose files are written, and the works it learned from, from its manifest;
    its version is the task's next in this workshop, taken in the caller's write. Used by `publish` and for
    apprentices a guild released (under the guild's task name here). The version."""
    metrics, training, lineage = manifest["metrics"], manifest["training"], manifest.get("lineage") or {}
    best = metrics.get("best", {})
    row = stored.ApprenticeRow(
        manifest["id"],
        task,
        manifest_sha256,
        best.get("psnr"),
        best.get("ssim"),
        metrics["identity"]["psnr"],
        training["steps"],
        training["seconds"],
        manifest["created_at"],
        lineage.get("successor_of"),
        lineage.get("because"),
    )
    return stored.add_apprentice(db, row, learned_from(manifest))


def learned_from(manifest: dict) -> set[str]:
    """Every work a manifest lists among its examples' parts."""
    return {part["work"] for example in manifest["examples"] for part in example["parts"].values()}


def find(workshop: Workshop, task_name: str, apprentice_id: str | None = None) -> Apprentice:
    """The task's newest apprentice, or the one with this id (a unique prefix will do)."""
    workshop.task(task_name)
    row = stored.apprentice_row(workshop.catalog, task_name, apprentice_id)
    if row is None:
        raise NotFound(
            f"The task '{task_name}' has no trained apprentice yet; run `apprentice train {task_name}` first."
        )
    folder = workshop.apprentice_folder(row["id"])
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BadInput(f"{folder / MANIFEST} is missing or damaged; train the task again.") from None
    return Apprentice(row["id"], task_name, row["version"], manifest, folder)


def load_network(apprentice: Apprentice) -> torch.nn.Module:
    """The apprentice's network with its weights, checked against the manifest's hash; never unpickles."""
    path = apprentice.folder / WEIGHTS
    try:
        data = path.read_bytes()
    except OSError:
        raise BadInput(f"{path} is missing; train the task again.") from None
    if hashlib.sha256(data).hexdigest() != apprentice.manifest["weights"]["sha256"]:
        raise BadInput(f"{path} does not match its manifest's hash; it was changed after training, train again.")
    try:
        net = get_kind(apprentice.manifest["kind"]).network(apprentice.manifest["task_config"])
    except (TypeError, KeyError):  # settings this version does not know (a manifest from elsewhere, or a newer one)
        raise BadInput(
            f"{apprentice.folder / MANIFEST} names a network this version cannot build; fetch or train it again."
        ) from None
    how = Finish.from_dict(apprentice.manifest.get("output", {}).get("finish"))
    if how.picks:
        add_picker(net, how.palette)
        net.sure = how.sure
    try:
        net.load_state_dict(load(data))
    except RuntimeError:  # weights of another shape than the manifest's network (a file from elsewhere)
        raise BadInput(f"{path} does not fit the network its manifest describes; fetch or train it again.") from None
    return net.eval().to(memory_format=torch.channels_last)


def apprentices(workshop: Workshop, task_name: str | None = None) -> list[dict]:
    """Catalog rows of the apprentices, newest first, each with the withdrawn works it learned from."""
    rows = stored.apprentice_rows(workshop.catalog, task_name)
    return [row | {"tainted_by": tainted_by(workshop, row["id"])} for row in rows]


def tainted_by(workshop: Workshop, apprentice_id: str) -> list[str]:
    """The works this apprentice learned from whose owners have since withdrawn them."""
    return stored.learned_from_with_consent(workshop.catalog, apprentice_id, consent.WITHDRAWN)
