"""The in-betweening demo: cartoons it animates itself, an apprentice trained on them, in-betweens of new ones.

The keys of unseen shots (every other frame) go in; the apprentice's in-betweens come out as frames and a GIF,
and a contact sheet sets each one beside the cross-fade of its keys and the frame the animation really had.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from apprentice.demo.cartoons import animation_set
from apprentice.demo.contact_sheet import contact_sheet
from apprentice.formats.images import pixels
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Budget, Progress, train
from apprentice.train.metrics import image_scores

TASK = "inbetween"
SHOTS, UNSEEN, FRAMES = 10, 2, 13  # training shots; unseen shots; frames per shot (odd: it ends on a key)


def write_frames(frames: list[Image.Image], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(frames, start=1):
        frame.save(folder / f"{number:03d}.png")
    return folder


def run_inbetween_demo(
    folder: Path, minutes: float, on_progress: Callable[[Progress], None] | None = None, steps: int | None = None
) -> dict:
    """Build, train and apply the in-betweening demo in `folder`; returns the paths and held-out numbers.

    `steps` trains exactly that many steps instead of `minutes`: the same apprentice on any machine, however busy."""
    for number, shot in enumerate(animation_set(SHOTS, seed=1, frames=FRAMES), start=1):
        write_frames(shot, folder / "examples" / f"shot{number:02d}")
    unseen = animation_set(UNSEEN, seed=2, frames=FRAMES)
    for number, shot in enumerate(unseen, start=1):
        write_frames(shot, folder / "unseen" / f"new{number}")
        write_frames(shot[::2], folder / "keys" / f"new{number}")
    shop = Workshop.init(folder / "workshop", "Demo animator")
    if TASK not in {t.name for t in shop.tasks()}:
        shop.new_task(TASK, "inbetween", get_kind("inbetween").default_config())
    add_examples(shop, TASK, [folder / "examples"])
    budget = Budget(steps=steps) if steps else Budget(minutes=minutes)
    made = train(shop, TASK, budget, on_progress=on_progress)
    for number in range(1, UNSEEN + 1):
        apply(shop, TASK, [folder / "keys" / f"new{number}"], folder / "out", ApplyOptions(formats=("frames", "gif")))
    return report(folder, unseen, made.label())


def report(folder: Path, unseen: list[list[Image.Image]], label: str) -> dict:
    """Score every in-between of the unseen shots against the real frame; sheet the first few of each shot."""
    rows, scores = [], []
    for number, shot in enumerate(unseen, start=1):
        for middle in range(1, len(shot) - 1, 2):
            first, truth, last = shot[middle - 1], shot[middle], shot[middle + 1]
            made = Image.open(folder / "out" / f"new{number}-{middle + 1:04d}.png")
            fade = Image.fromarray(((np.asarray(first, float) + np.asarray(last, float)) / 2).round().astype(np.uint8))
            scores.append((image_scores(pixels(made), pixels(truth)), image_scores(pixels(fade), pixels(truth))))
            if middle < 6:
                rows.append([first, fade, made, truth, last])
    drawn = {k: float(np.mean([s[0][k] for s in scores])) for k in ("psnr", "ssim")}
    fade = {k: float(np.mean([s[1][k] for s in scores])) for k in ("psnr", "ssim")}
    summary = (
        f"{label}: on {len(scores)} in-betweens of unseen shots PSNR {drawn['psnr']:.2f} dB / SSIM "
        f"{drawn['ssim']:.3f}; cross-fading the keys scores {fade['psnr']:.2f} dB / {fade['ssim']:.3f}."
    )
    headers = ["key", "cross-fade", "apprentice", "the real frame", "next key"]
    contact_sheet(rows, headers, summary).save(folder / "contact-sheet.png")
    return {
        "contact_sheet": str(folder / "contact-sheet.png"),
        "animations": [str(folder / "out" / f"new{n}.gif") for n in range(1, len(unseen) + 1)],
        "unseen": drawn,
        "cross_fade": fade,
        "summary": summary,
    }
