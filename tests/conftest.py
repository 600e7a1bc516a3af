"""Shared fixtures: a fresh workshop in a temporary folder and small before/after drawings made in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop
from apprentice.train.process import ready_for_training
from apprentice.train.sampler import PatchSampler

ready_for_training()  # the tests train on this thread, as the CLI's process does


def drawing_pair(seed: int, size: tuple[int, int] = (48, 40)) -> tuple[Image.Image, Image.Image]:
    """A grey sketchy drawing and its 'after': the same strokes inked black, with the noise removed."""
    rng = np.random.default_rng(seed)
    before, after = Image.new("RGB", size, "white"), Image.new("RGB", size, "white")
    pencil, ink = ImageDraw.Draw(before), ImageDraw.Draw(after)
    for _ in range(3):
        points = [tuple(int(v) for v in rng.integers(0, min(size), 2)) for _ in range(2)]
        pencil.line(points, fill=(150, 150, 150), width=1)
        ink.line(points, fill=(0, 0, 0), width=2)
    noise = (rng.random((size[1], size[0], 1)) * 30).astype(np.uint8)
    before = Image.fromarray(np.clip(np.asarray(before).astype(int) - noise, 0, 255).astype(np.uint8))
    return before, after


def write_pair_folder(folder: Path, count: int, seed: int = 0, size: tuple[int, int] = (48, 40)) -> Path:
    (folder / "before").mkdir(parents=True, exist_ok=True)
    (folder / "after").mkdir(parents=True, exist_ok=True)
    for number in range(count):
        before, after = drawing_pair(seed + number, size)
        before.save(folder / "before" / f"p{number}.png")
        after.save(folder / "after" / f"p{number}.png")
    return folder


SIZE = (48, 32)


def ball(x: int, colour: str = "orange", size: tuple[int, int] = SIZE, transparent: bool = False) -> Image.Image:
    """A frame: a black-outlined flat-coloured ball at horizontal position x."""
    image = Image.new("RGBA", size, (0, 0, 0, 0) if transparent else "white")
    ImageDraw.Draw(image).ellipse((x, 8, x + 14, 22), fill=colour, outline="black", width=2)
    return image


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "workshop"
    monkeypatch.setenv("APPRENTICE_HOME", str(path))
    return path


@pytest.fixture
def shop(home: Path) -> Workshop:
    workshop = Workshop.init(home, "Tester")
    yield workshop
    workshop.close()


@pytest.fixture
def small_task(shop: Workshop) -> str:
    """A paired task with a small network, so training steps take milliseconds."""
    config = get_kind("paired").default_config()
    config["net"] |= {"width": 8, "deep_width": 16, "blocks": 1}
    shop.new_task("ink", "paired", config)
    return "ink"


@pytest.fixture
def small_tween(shop: Workshop) -> str:
    """An in-between task with a small network, so training steps take milliseconds."""
    config = get_kind("inbetween").default_config()
    config["net"] |= {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1}
    shop.new_task("tween", "inbetween", config)
    return "tween"


def counts(shop: Workshop) -> tuple[int, int, int]:
    """(works, examples, example parts) in the catalog."""
    return tuple(
        shop.catalog.row(f"SELECT COUNT(*) AS n FROM {t}")["n"] for t in ("works", "examples", "example_parts")
    )


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every (inputs, targets) batch the real sampler draws while the test runs, in order."""
    batches, real_draw = [], PatchSampler.draw

    def watched(sampler: PatchSampler, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = real_draw(sampler, seed, step)
        batches.append(batch)
        return batch

    monkeypatch.setattr(PatchSampler, "draw", watched)
    return batches


def colours(batch: torch.Tensor) -> set[tuple[int, int, int, int]]:
    """Every pixel of a batch (N×C×H×W, C = 4 per image) as premultiplied RGBA in 0–255, each image's apart."""
    values = np.round(batch.permute(0, 2, 3, 1).numpy() * 255).astype(int)
    return {tuple(int(v) for v in pixel) for pixel in values.reshape(-1, 4)}
