"""This node's copies of other members' works and examples, held under the guild's consent (or mirrored as withdrawn).

Only the catalog's rows: the bytes arrive by hash-checked fetches (training.py, releases.py).
"""

from __future__ import annotations

import sqlite3

from apprentice.guild.state import State
from apprentice.provenance import consent
from apprentice.store import examples as stored_examples
from apprentice.store import works
from apprentice.store.examples import NewExample


def store_work(db: sqlite3.Connection, state: State, work: str, owner: str, file: str, me: str, guild: str) -> None:
    """A work of another member, held here under the guild's consent (or mirrored as withdrawn)."""
    works.add_member(db, owner, state.names.get(owner, owner[:12]))
    works.add_copy(db, work, owner, file, consent.copy_scope(guild, work in state.withdrawn), me)


def store_example(db: sqlite3.Connection, state: State, task: str, example: dict, guild: str, me: str) -> None:
    for part in example["parts"].values():
        store_work(db, state, part["work"], example["owner"], part.get("file", part["work"][:12]), me, guild)
    parts = {role: (part["work"], part.get("layer", "")) for role, part in example["parts"].items()}
    width, height = example["size"]
    facts = (example["name"], example["fingerprint"], width, height, parts)
    stored_examples.add_example(db, task, NewExample(*facts, example.get("sequence", ""), example.get("position", 0)))
