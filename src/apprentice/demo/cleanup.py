"""The built-in demo: a rough-sketch → clean-ink task made from drawings it generates itself.

Runs the same path a user does (init, task new, add, train, apply) in its own folder, then writes a
contact sheet of unseen sketches: before / apprentice / artist's after, with held-out scores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.demo.contact_sheet import contact_sheet
from apprentice.demo.sketches import cleanup_set
from apprentice.formats.images import pixels
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, Progress, train
from apprentice.train.metrics import image_scores

TASK = "cleanup"


def write_pairs(pairs: list[tuple[Image.Image, Image.Image]], folder: Path, prefix: str) -> None:
    for sub in ("before", "after"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number, (before, after) in enumerate(pairs, start=1):
        before.save(folder / "before" / f"{prefix}{number:02d}.png")
        after.save(folder / "after" / f"{prefix}{number:02d}.png")


def run_demo(folder: Path, minutes: float, on_progress: Callable[[Progress], None] | None = None) -> dict:
    """Build, train and apply the demo in `folder`; returns the paths and held-out numbers."""
    write_pairs(cleanup_set(8, seed=1), folder / "examples", "sketch")
    write_pairs(cleanup_set(3, seed=2, size=(384, 288)), folder / "unseen", "new")
    shop = Workshop.init(folder / "workshop", "Demo artist")
    if TASK not in {t.name for t in shop.tasks()}:
        shop.new_task(TASK, "paired", get_kind("paired").default_config() | {"augment": "mirror+rotate"})
    add_examples(shop, TASK, [folder / "examples"])
    made = train(shop, TASK, Budget(minutes=minutes), on_progress=on_progress)
    apply_files(shop, TASK, [folder / "unseen" / "before"], folder / "out")
    return report(folder, made.label(), made.manifest["metrics"])


def report(folder: Path, label: str, metrics: dict) -> dict:
    rows, scores = [], []
    for before_path in sorted((folder / "unseen" / "before").glob("*.png")):
        before, after = Image.open(before_path), Image.open(folder / "unseen" / "after" / before_path.name)
        made = Image.open(folder / "out" / before_path.name)
        rows.append([before, made, after])
        scores.append((image_scores(pixels(made), pixels(after)), image_scores(pixels(before), pixels(after))))
    unseen = {k: float(np.mean([s[0][k] for s in scores])) for k in ("psnr", "ssim")}
    copy = {k: float(np.mean([s[1][k] for s in scores])) for k in ("psnr", "ssim")}
    summary = (
        f"{label}: on {len(rows)} unseen sketches PSNR {unseen['psnr']:.2f} dB / SSIM {unseen['ssim']:.3f}; "
        f"copying the sketch scores {copy['psnr']:.2f} dB / {copy['ssim']:.3f}."
    )
    sheet = contact_sheet(rows, ["before (unseen sketch)", "apprentice", "artist's after"], summary)
    sheet.save(folder / "contact-sheet.png")
    return {
        "contact_sheet": str(folder / "contact-sheet.png"),
        "unseen": unseen,
        "copy": copy,
        "validation": metrics,
        "summary": summary,
    }
