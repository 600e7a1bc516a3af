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
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load, save

from apprentice.errors import BadInput, NotFound
from apprentice.files import write_atomically
from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop, now
from apprentice.train.examples import ExampleRecord

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


def example_entries(workshop: Workshop, records: list[ExampleRecord], held_out: set[str]) -> list[dict]:
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


def publish(
    workshop: Workshop,
    task_name: str,
    weights: dict[str, torch.Tensor],
    metrics: dict,
    records: list[ExampleRecord],
    train_config: dict,
    meta: dict,
    lineage: dict | None = None,
) -> Apprentice:
    """Write the apprentice's files, then name it in the catalog (in that order, so a kill leaves no dangling row)."""
    task = workshop.task(task_name)
    data = save({k: v.contiguous() for k, v in weights.items()})
    digest = hashlib.sha256(data).hexdigest()
    apprentice_id = digest[:16]
    if workshop.catalog.row("SELECT 1 FROM apprentices WHERE id = ?", (apprentice_id,)):
        return find(workshop, task_name, apprentice_id)  # the same weights were published before
    row = workshop.catalog.row(
        "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM apprentices WHERE task = ?", (task_name,)
    )
    manifest = {
        "format": "apprentice-manifest/1",
        "id": apprentice_id,
        "task": task_name,
        "kind": task.kind,
        "version": row["next"],
        "created_at": now(),
        "task_config": task.config,
        "weights": {"file": WEIGHTS, "sha256": digest},
        "training": train_config | {"steps": meta["step"], "seconds": round(meta["seconds"], 1)} | machine(),
        "output": {"gray": meta.get("gray_output", False)},
        "metrics": metrics,
        "examples": example_entries(workshop, records, set(meta.get("held_out", []))),
        "owners": owner_shares(workshop, records, set(meta.get("held_out", []))),
        "consent_checked_at": meta.get("gathered_at"),
        "versions": versions(),
        "lineage": lineage or {},
    }
    folder = workshop.apprentice_folder(apprentice_id)
    write_atomically(folder / WEIGHTS, data)
    write_atomically(folder / MANIFEST, json.dumps(manifest, indent=2).encode())
    with workshop.catalog.write() as db:
        name_in_catalog(db, manifest, hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest(), task_name)
    return find(workshop, task_name, apprentice_id)


def name_in_catalog(
    db: sqlite3.Connection, manifest: dict, manifest_sha256: str, task: str, version: int | None = None
) -> None:
    """The catalog's row for an apprentice whose files are written, and the works it learned from, from its manifest.

    Used by `publish` and for apprentices a guild released (`task` and `version` as they are in this workshop).
    """
    metrics, training, lineage = manifest["metrics"], manifest["training"], manifest.get("lineage") or {}
    best = metrics.get("best", {})
    db.execute(
        "INSERT INTO apprentices (id, task, version, manifest_sha256, val_psnr, val_ssim, identity_psnr, steps, "
        "seconds, created_at, successor_of, because) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            manifest["id"],
            task,
            version or manifest["version"],
            manifest_sha256,
            best.get("psnr"),
            best.get("ssim"),
            metrics["identity"]["psnr"],
            training["steps"],
            training["seconds"],
            manifest["created_at"],
            lineage.get("successor_of"),
            lineage.get("because"),
        ),
    )
    works = {part["work"] for example in manifest["examples"] for part in example["parts"].values()}
    db.executemany(
        "INSERT OR IGNORE INTO apprentice_works (apprentice, work) VALUES (?, ?)", [(manifest["id"], w) for w in works]
    )


def find(workshop: Workshop, task_name: str, apprentice_id: str | None = None) -> Apprentice:
    """The task's newest apprentice, or the one with this id (a unique prefix will do)."""
    workshop.task(task_name)
    if apprentice_id:
        row = workshop.catalog.row(
            "SELECT * FROM apprentices WHERE task = ? AND id LIKE ? ORDER BY version DESC",
            (task_name, apprentice_id + "%"),
        )
    else:
        row = workshop.catalog.row("SELECT * FROM apprentices WHERE task = ? ORDER BY version DESC", (task_name,))
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
    net = get_kind(apprentice.manifest["kind"]).network(apprentice.manifest["task_config"])
    net.load_state_dict(load(data))
    return net.eval().to(memory_format=torch.channels_last)


def apprentices(workshop: Workshop, task_name: str | None = None) -> list[dict]:
    """Catalog rows of the apprentices, newest first, each with the withdrawn works it learned from."""
    sql = "SELECT * FROM apprentices" + (" WHERE task = ?" if task_name else "") + " ORDER BY task, version DESC"
    rows = [dict(row) for row in workshop.catalog.rows(sql, (task_name,) if task_name else ())]
    return [row | {"tainted_by": tainted_by(workshop, row["id"])} for row in rows]


def tainted_by(workshop: Workshop, apprentice_id: str) -> list[str]:
    """The works this apprentice learned from whose owners have since withdrawn them."""
    rows = workshop.catalog.rows(
        "SELECT w.id FROM apprentice_works a JOIN works w ON w.id = a.work "
        "WHERE a.apprentice = ? AND w.consent = 'withdrawn' ORDER BY w.id",
        (apprentice_id,),
    )
    return [row["id"] for row in rows]
