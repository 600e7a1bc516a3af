"""Read-only views of a workshop's tasks: the shapes `apprentice list/show --json` and the web API both return.

Nothing here writes; each function reads the catalog as it is now.
"""

from __future__ import annotations

from apprentice.errors import NotFound
from apprentice.provenance.manifest import apprentices, find
from apprentice.store.workshop import Workshop


def summary(shop: Workshop, name: str) -> dict:
    """A task with its settings, its number of examples and its apprentices (newest first, with taint)."""
    task = shop.task(name)
    count = shop.catalog.row("SELECT COUNT(*) AS n FROM examples WHERE task = ?", (name,))["n"]
    return {
        "name": name,
        "kind": task.kind,
        "config": task.config,
        "examples": count,
        "apprentices": apprentices(shop, name),
    }


def example_parts(shop: Workshop, name: str) -> list[dict]:
    """One row per part of every example of the task: the example, its role, work, layer and consent."""
    rows = shop.catalog.rows(
        "SELECT e.id, e.name, e.width, e.height, p.role, p.work, p.layer, w.name AS file, w.consent FROM examples e "
        "JOIN example_parts p ON p.example = e.id JOIN works w ON w.id = p.work WHERE e.task = ? ORDER BY e.id, p.role",
        (name,),
    )
    return [dict(row) for row in rows]


def examples(shop: Workshop, name: str) -> list[dict]:
    """The task's examples, each with its parts by role: {id, name, width, height, parts: {role: {...}}}."""
    found: dict[int, dict] = {}
    for row in example_parts(shop, name):
        example = found.setdefault(
            row["id"], {key: row[key] for key in ("id", "name", "width", "height")} | {"parts": {}}
        )
        example["parts"][row["role"]] = {key: row[key] for key in ("work", "layer", "consent")}
    return list(found.values())


def newest_manifest(shop: Workshop, name: str) -> dict | None:
    """The manifest of the task's newest apprentice, or None before the first training."""
    has_one = shop.catalog.row("SELECT 1 FROM apprentices WHERE task = ?", (name,))
    return find(shop, name).manifest if has_one else None


def apprentice_cards(shop: Workshop, name: str) -> list[dict]:
    """Every apprentice of the task, newest first: its catalog row (with taint) and its manifest."""
    return [row | {"manifest": find(shop, name, row["id"]).manifest} for row in apprentices(shop, name)]


def work_name(shop: Workshop, work_id: str) -> str:
    """The file name a work was first added under (it picks the decoder), or NotFound."""
    row = shop.catalog.row("SELECT name FROM works WHERE id = ?", (work_id,))
    if row is None:
        raise NotFound(f"This workshop holds no work {work_id[:12]}; reload the page to see what it holds.")
    return row["name"]
