"""Read-only views of a workshop's tasks: the shapes `apprentice list/show --json` and the web API both return.

Nothing here writes; each function reads the catalog as it is now.
"""

from __future__ import annotations

from apprentice.errors import NotFound
from apprentice.ids import is_id
from apprentice.kinds.finish import Finish
from apprentice.kinds.precision import MAX_LOSS_DB, guards
from apprentice.provenance.manifest import apprentices, find
from apprentice.store.apprentices import apprentice_row
from apprentice.store.examples import example_count, example_records
from apprentice.store.works import work_name as work_name_in
from apprentice.store.workshop import Workshop


def summary(shop: Workshop, name: str) -> dict:
    """A task with its settings, its number of examples and its apprentices (newest first, with taint)."""
    task = shop.task(name)
    return {
        "name": name,
        "kind": task.kind,
        "config": task.config,
        "examples": example_count(shop.catalog, name),
        "apprentices": apprentices(shop, name),
    }


def example_parts(shop: Workshop, name: str) -> list[dict]:
    """One row per part of every example of the task: the example, its role, work, layer and consent."""
    facts = ("id", "name", "width", "height")
    return [
        {key: getattr(record, key) for key in facts}
        | {"role": role, "work": part.work, "layer": part.layer, "file": part.name, "consent": part.consent}
        for record in example_records(shop.catalog, name)
        for role, part in sorted(record.parts.items())
    ]


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
    return find(shop, name).manifest if apprentice_row(shop.catalog, name) else None


def apprentice_cards(shop: Workshop, name: str) -> list[dict]:
    """Every apprentice of the task, newest first: its catalog row (with taint) and its manifest."""
    cards = [row | {"manifest": find(shop, name, row["id"]).manifest} for row in apprentices(shop, name)]
    labels = {card["id"]: f"{name} #{card['version']} ({card['id']})" for card in cards}
    return [
        c
        | {"finish": finish_text(c["manifest"]), "precision": precision_text(c["manifest"])}
        | {"distilled": distilled_text(c["manifest"], labels)}
        for c in cards
    ]


def finish_text(manifest: dict) -> str:
    return Finish.from_dict(manifest["output"].get("finish")).describe()


def precision_text(manifest: dict) -> str:
    """Which precision apply may use, and why, in the artist's words."""
    recorded = guards(manifest["metrics"])
    if not recorded:
        return "applies in float32 (what a faster precision would cost was not measured for it)"
    return "; ".join(guard.describe() for guard in recorded.values())


def distilled_text(manifest: dict, labels: dict[str, str]) -> str:
    """Why a distilled student replaces its teacher, in the artist's words ("" for an apprentice that is none, or
    whose manifest, perhaps another member's, says it in a shape this version does not read)."""
    facts = manifest["metrics"].get("distilled")
    try:
        teacher, saving, cost = str(facts["teacher"]), float(facts["saving"]), float(facts["loss_db"])
    except (KeyError, TypeError, ValueError):
        return ""
    if not is_id(teacher, "apprentice"):  # a member's manifest names ids, never free text for the terminal
        return ""
    scores = f"{-cost:.2f} dB above it" if cost <= 0 else f"{cost:.2f} dB below it (within {MAX_LOSS_DB} dB)"
    return (
        f"a student of {labels.get(teacher, teacher)}: it needs {saving:.1f}× fewer multiply-adds per pixel and "
        f"scores {scores} on the held-out examples, so it replaces it"
    )


def work_name(shop: Workshop, work_id: str) -> str:
    """The file name a work was first added under (it picks the decoder), or NotFound."""
    name = work_name_in(shop.catalog, work_id)
    if name is None:
        raise NotFound(f"This workshop holds no work {work_id[:12]}; reload the page to see what it holds.")
    return name
