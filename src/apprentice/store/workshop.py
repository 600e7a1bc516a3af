"""The workshop folder: where it lives, what it holds, and opening or creating it.

Layout: catalog.sqlite, blobs/, apprentices/<id>/, runs/<task>/ (checkpoints), identity.key.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from apprentice.errors import BadInput, Conflict, NotFound
from apprentice.identity import Identity
from apprentice.ids import is_id
from apprentice.store.blobs import BlobStore
from apprentice.store.catalog import Catalog, now

TASK_NAME = re.compile(r"[\w][\w \-]{0,63}")  # also a folder name under runs/: no dots, no slashes


def default_home() -> Path:
    """APPRENTICE_HOME if set, else the platform's user data folder."""
    home = os.environ.get("APPRENTICE_HOME")
    return Path(home) if home else Path(platformdirs.user_data_dir("apprentice", appauthor=False))


@dataclass(frozen=True)
class Task:
    """A named repetitive job of one kind, with the kind's settings."""

    name: str
    kind: str
    config: dict


class Workshop:
    """One person's workshop folder, opened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = Catalog(root / "catalog.sqlite")
        self.blobs = BlobStore(root / "blobs")
        self.identity = Identity.load(root / "identity.key")

    @classmethod
    def init(cls, root: Path, name: str | None = None) -> Workshop:
        """Create the workshop and the member's identity, or open the existing one (idempotent)."""
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "identity.key").exists():
            Identity.create(root / "identity.key")
        workshop = cls(root)
        member_name = name or os.environ.get("USER") or "me"
        with workshop.catalog.write() as db:
            db.execute(
                "INSERT INTO members (key, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET name = CASE WHEN ? THEN excluded.name ELSE name END",
                (workshop.member, member_name, now(), name is not None),
            )
        return workshop

    @classmethod
    def open(cls, root: Path) -> Workshop:
        if not (root / "catalog.sqlite").exists() or not (root / "identity.key").exists():
            raise NotFound(f"There is no workshop at {root} yet; run `apprentice init` first.")
        return cls(root)

    @property
    def member(self) -> str:
        """The public key of the member who owns this workshop."""
        return self.identity.public_key

    def member_name(self, key: str) -> str:
        row = self.catalog.row("SELECT name FROM members WHERE key = ?", (key,))
        return row["name"] if row else key[:12]

    def new_task(self, name: str, kind: str, config: dict) -> Task:
        if not TASK_NAME.fullmatch(name):
            raise BadInput(f"'{name}' cannot name a task; use letters, digits, spaces, '-' or '_' (up to 64).")
        with self.catalog.write() as db:  # checked inside the write, so two makers of one name cannot both pass
            cursor = db.execute(
                "INSERT INTO tasks (name, kind, config, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, kind, json.dumps(config), now()),
            )
        if cursor.rowcount == 0:
            raise Conflict(f"A task named '{name}' already exists; pick another name or use it as it is.")
        return Task(name, kind, config)

    def set_task_config(self, name: str, config: dict) -> Task:
        """Replace a task's settings; the next training run reads them."""
        with self.catalog.write() as db:
            cursor = db.execute("UPDATE tasks SET config = ? WHERE name = ?", (json.dumps(config), name))
        if cursor.rowcount == 0:
            raise NotFound(f"There is no task named '{name}'; create it with `apprentice task new {name}`.")
        return self.task(name)

    def task(self, name: str) -> Task:
        row = self.catalog.row("SELECT * FROM tasks WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"There is no task named '{name}'; create it with `apprentice task new {name}`.")
        return Task(row["name"], row["kind"], json.loads(row["config"]))

    def tasks(self) -> list[Task]:
        rows = self.catalog.rows("SELECT * FROM tasks ORDER BY created_at, name")
        return [Task(row["name"], row["kind"], json.loads(row["config"])) for row in rows]

    def run_folder(self, task: str) -> Path:
        if not TASK_NAME.fullmatch(task):
            raise BadInput(f"'{task[:64]}' cannot name a task; use letters, digits, spaces, '-' or '_' (up to 64).")
        return self.root / "runs" / task

    def apprentice_folder(self, apprentice_id: str) -> Path:
        """Where an apprentice's files lie; only an apprentice id (16 hex digits) names one, so none reaches out."""
        if not is_id(apprentice_id, "apprentice"):
            raise BadInput(f"'{str(apprentice_id)[:24]}' is not an apprentice id (16 hex digits).")
        return self.root / "apprentices" / apprentice_id

    def close(self) -> None:
        self.catalog.close()
