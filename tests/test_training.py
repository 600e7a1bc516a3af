"""Training: held-out validation, reproducible seeds, resume after a kill, and a complete manifest."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from apprentice.errors import BadInput
from apprentice.imports import add_examples
from apprentice.provenance.manifest import find
from apprentice.train import sampler as sampler_module
from apprentice.train import split as split_module
from apprentice.train.loop import CALIBRATION, Budget, TrainConfig, train
from apprentice.train.sampler import PatchSampler
from apprentice.train.split import crop_where_changed, held_out_crops, validation_crops

from conftest import colours, write_pair_folder

FAST = TrainConfig(patch=32, batch=4, validate_every=5)
RGB = tuple[int, int, int]


def weights(apprentice) -> dict[str, torch.Tensor]:
    return load_file(apprentice.folder / "weights.safetensors")


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture
def filled_task(shop, small_task, tmp_path) -> str:
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 4)])
    return small_task


def test_a_run_publishes_an_apprentice_with_a_complete_manifest(shop, filled_task):
    made = train(shop, filled_task, Budget(steps=10), FAST)
    manifest = json.loads((made.folder / "manifest.json").read_text())
    assert manifest["task"] == filled_task and manifest["kind"] == "paired"
    assert manifest["training"]["steps"] == 10 and manifest["training"]["seed"] == 0
    assert manifest["task_config"]["net"]["width"] == 8
    works = {part["work"] for e in manifest["examples"] for part in e["parts"].values()}
    assert len(works) == 8 and all(len(w) == 64 for w in works)
    assert {e["split"] for e in manifest["examples"]} == {"training", "validation"}
    assert manifest["owners"][shop.member] == {"name": "Tester", "examples": 4, "pixels": 3 * 48 * 40}
    assert manifest["metrics"]["validation"] == "1 held-out example(s) of 4"
    assert set(manifest["metrics"]["identity"]) == {"psnr", "ssim"}
    assert {"torch", "numpy", "pillow", "python", "apprentice"} <= set(manifest["versions"])
    assert manifest["weights"]["sha256"].startswith(made.id)
    assert find(shop, filled_task).id == made.id


def test_the_same_seed_and_steps_make_the_same_apprentice(shop, filled_task):
    first = weights(train(shop, filled_task, Budget(steps=12), FAST, fresh=True))
    second = weights(train(shop, filled_task, Budget(steps=12), FAST, fresh=True))
    other = weights(train(shop, filled_task, Budget(steps=12), TrainConfig(**{**FAST.__dict__, "seed": 1}), fresh=True))
    assert same_weights(first, second)
    assert not same_weights(first, other)


class Killed(Exception):
    pass


def test_training_killed_midway_resumes_to_the_same_weights_as_an_uninterrupted_run(shop, filled_task):
    config = TrainConfig(**{**FAST.__dict__, "checkpoint_seconds": 0.0})
    straight = weights(train(shop, filled_task, Budget(steps=14), config, fresh=True))

    def kill_at_step_9(progress):
        if progress.step == 9:
            raise Killed

    with pytest.raises(Killed):
        train(shop, filled_task, Budget(steps=14), config, fresh=True, on_progress=kill_at_step_9)
    notes = []
    resumed = train(shop, filled_task, Budget(steps=14), config, on_progress=lambda p: notes.append(p.note))
    assert "resuming at step 9" in notes
    assert same_weights(straight, weights(resumed))


def test_training_on_without_a_better_score_says_the_earlier_apprentice_stays(shop, filled_task):
    frozen = replace(FAST, lr=0.0)  # the weights never move, so no later validation can beat the first
    first = train(shop, filled_task, Budget(steps=10), frozen)
    assert first.note == "" and first.manifest["metrics"]["best"]["step"] == 5
    kept = train(shop, filled_task, Budget(steps=20), frozen)
    assert kept.id == first.id and same_weights(weights(kept), weights(first))
    assert kept.note == (
        f"Steps 11–20 scored no better on the held-out examples than step 5, so {first.label()} stays the best."
    )


def test_changed_examples_start_a_fresh_run(shop, filled_task, tmp_path):
    train(shop, filled_task, Budget(steps=5), FAST)
    add_examples(shop, filled_task, [write_pair_folder(tmp_path / "more", 1, seed=50)])
    notes = []
    train(shop, filled_task, Budget(steps=5), FAST, on_progress=lambda p: notes.append(p.note))
    assert any("starting afresh" in note for note in notes)


def test_training_a_task_without_examples_says_how_to_add_them(shop, small_task):
    with pytest.raises(BadInput, match="apprentice add ink"):
        train(shop, small_task, Budget(steps=1), FAST)


def flat_pair_folder(folder, colours: dict[str, tuple[RGB, RGB]], size: tuple[int, int] = (40, 40)):
    """Pairs named by the keys, each side one flat colour: the before's first, the after's second."""
    for name, sides in colours.items():
        for side, colour in zip(("before", "after"), sides, strict=True):
            (folder / side).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", size, colour).save(folder / side / f"{name}.png")
    return folder


def opaque(colour: RGB) -> tuple[int, int, int, int]:
    return (*colour, 255)


def pixel_values(picture: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in pixel) for pixel in picture.reshape(-1, picture.shape[-1])}


def test_with_three_or_more_examples_whole_examples_are_held_out_of_every_batch(shop, small_task, tmp_path, drawn):
    pairs = {f"c{i}": ((20 + 40 * i, 40, 200), (20 + 40 * i, 90, 60)) for i in range(5)}
    add_examples(shop, small_task, [flat_pair_folder(tmp_path / "pairs", pairs)])
    shown = []
    made = train(shop, small_task, Budget(steps=10), FAST, on_progress=lambda p: shown.extend(p.previews or []))
    examples = made.manifest["examples"]
    held = [e["name"] for e in examples if e["split"] == "validation"]
    assert held == [min(examples, key=lambda e: e["fingerprint"])["name"]], "chosen by fingerprint, so stably"
    assert made.manifest["metrics"]["validation"] == "1 held-out example(s) of 5"
    before, after = map(opaque, pairs[held[0]])
    assert pixel_values(shown[-1][0]) == {before}, "the held-out example is scored"
    assert len(drawn) == 10 + CALIBRATION  # each step's batch, then those int8's ranges are measured on
    seen = set().union(*(colours(inputs) | colours(targets) for inputs, targets in drawn))
    assert not {before, after} & seen, "a held-out pixel reached a batch"
    assert {opaque(pairs[name][0]) for name in pairs if name not in held} <= seen


def test_with_one_example_a_region_is_held_out_and_never_sampled(shop, small_task, tmp_path, drawn):
    plain, marked = ((200, 40, 40), (40, 40, 200)), ((30, 160, 30), (90, 90, 90))
    for side, (left, right) in zip(("before", "after"), zip(*(plain, marked), strict=True), strict=True):
        image = Image.new("RGB", (48, 40), left)
        image.paste(right, (36, 0, 48, 40))  # the last quarter along the longer side, at a multiple of 4
        (tmp_path / "pairs" / side).mkdir(parents=True, exist_ok=True)
        image.save(tmp_path / "pairs" / side / "p0.png")
    add_examples(shop, small_task, [tmp_path / "pairs"])
    shown = []
    made = train(shop, small_task, Budget(steps=10), FAST, on_progress=lambda p: shown.extend(p.previews or []))
    assert made.manifest["metrics"]["validation"] == "held-out last quarter of each example"
    assert [e["split"] for e in made.manifest["examples"]] == ["training"]
    scored_before = shown[-1][0]
    assert scored_before.shape == (40, 12, 4) and pixel_values(scored_before) == {opaque(marked[0])}
    assert len(drawn) == 10 + CALIBRATION  # each step's batch, then those int8's ranges are measured on
    seen = set().union(*(colours(inputs) | colours(targets) for inputs, targets in drawn))
    assert not {opaque(marked[0]), opaque(marked[1])} & seen, "a held-out pixel reached a batch"
    assert {opaque(plain[0]), opaque(plain[1])} <= seen


def test_focused_patches_are_centred_where_the_step_changes_the_picture():
    before = np.zeros((200, 200, 4), np.float32)
    after = before.copy()
    after[150:154, 20:24] = 1.0  # the only change, in one corner
    sampler = PatchSampler([(before, after)], patch=16, batch=32, how="none", focus=1.0)
    _, targets = sampler.draw(0, 1)
    assert bool((targets.flatten(1).amax(dim=1) == 1.0).all())


class Counted:
    """Examples decoded only when asked for, counting how many are alive at once."""

    def __init__(self, count: int, side: int = 24) -> None:
        self.count, self.side, self.decoded = count, side, []

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index >= self.count:
            raise IndexError(index)
        self.decoded.append(index)
        x = np.full((self.side, self.side, 4), index / 100, np.float32)
        return x, x + 0.5


def test_a_set_larger_than_the_budget_streams_through_a_small_pool_and_reaches_every_example():
    examples = Counted(6)
    pair_bytes = 24 * 24 * 8 * 4
    sampler = PatchSampler(examples, patch=16, batch=8, how="none", budget=2 * pair_bytes)
    assert sampler.streaming and sampler.pool_size == 2
    seen = set()
    for step in range(1, 60):
        inputs, _ = sampler.draw(0, step)
        assert len(sampler.pool) <= 2
        seen |= {round(float(v) * 100) for v in inputs[:, 0, 0, 0]}
    assert seen == set(range(6))
    assert len(examples.decoded) < 60 * 8 / 4, "examples are decoded when they join the pool, not per patch"


def test_a_streamed_batch_depends_on_seed_and_step_alone():
    walked = PatchSampler(Counted(6), patch=16, batch=8, how="mirror", budget=2 * 24 * 24 * 8 * 4)
    for step in range(1, 40):
        walked.draw(3, step)
    fresh = PatchSampler(Counted(6), patch=16, batch=8, how="mirror", budget=2 * 24 * 24 * 8 * 4)
    for a, b in zip(walked.draw(3, 40), fresh.draw(3, 40), strict=True):
        assert torch.equal(a, b)


def test_a_large_held_out_set_is_scored_on_crops_where_the_step_changes_the_picture():
    side, count = validation_crops([512 * 512] * 40, budget=256 * 256 * 10)
    assert side == 128 and count == 40
    side, count = validation_crops([512 * 512] * 40, budget=256 * 256 * 2)
    assert side == 128 and count == 8, "below the smallest crop, fewer examples are scored"
    assert validation_crops([64 * 64] * 3, budget=256 * 256) == (None, 3)
    before = np.zeros((400, 300, 4), np.float32)
    after = before.copy()
    after[300:310, 40:50] = 1.0
    x, y = crop_where_changed(before, after, 128)
    assert x.shape == (128, 128, 4) and y.max() == 1.0
    small = np.ones((60, 200, 4), np.float32)
    crops = held_out_crops([(before, after), (small, small)], [0, 1], 128)
    assert crops[0][1].max() == 1.0 and crops[1][0].shape == (60, 128, 4)


def test_training_streams_when_the_examples_do_not_fit_and_says_how_validation_was_cropped(
    shop, small_task, tmp_path, monkeypatch
):
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 6)])
    monkeypatch.setattr(sampler_module, "POOL_BYTES", 64 * 64 * 8 * 4 * 2)
    monkeypatch.setattr(split_module, "VALIDATION_PIXELS", 32 * 32)
    made = train(shop, small_task, Budget(steps=12), FAST)
    assert "crop" in made.manifest["metrics"]["validation"]
    assert made.manifest["metrics"]["best"]["psnr"] > 0
