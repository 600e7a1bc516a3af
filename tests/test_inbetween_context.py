"""The in-betweener reads the keys around its two: from the examples beside one in training, from the shot in apply.

At a sequence's or a shot's ends, and across holds, the missing key repeats its neighbour.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from apprentice.imports import add_examples
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet
from apprentice.provenance.consent import set_consent
from apprentice.train.examples import Decoded, gather
from apprentice.train.loop import TrainConfig
from apprentice.train.sampler import PatchSampler

from conftest import ball

FILLS = [(10 + 30 * n, 240 - 30 * n, 90, 255) for n in range(7)]  # one fill colour per drawing


def drawn(frame: np.ndarray) -> int:
    """Which drawing (by its fill colour) a straight-RGBA float frame shows."""
    found = {tuple(int(v) for v in pixel) for pixel in np.round(frame * 255).astype(int).reshape(-1, 4)}
    [number] = [n for n, fill in enumerate(FILLS) if fill in found]
    return number


def walk(shop, task: str, tmp_path: Path, drawings: Iterable[int]) -> Path:
    """A folder of frames, each showing the numbered drawing (a ball further right, in its fill), added to the task."""
    folder = tmp_path / "walk"
    folder.mkdir()
    for number, drawing in enumerate(drawings, start=1):
        ball(2 + 4 * drawing, colour=FILLS[drawing][:3]).save(folder / f"frame{number}.png")
    add_examples(shop, task, [folder])
    return folder


def slots(inputs: np.ndarray) -> list[int]:
    """Which drawing each of an input's four frames shows: key1, key2, the key before, the key after."""
    return [drawn(inputs[..., k : k + 4]) for k in range(0, 16, 4)]


def test_each_example_reads_the_drawings_three_before_and_after_its_middle_holds_skipped_ends_repeated(
    shop, small_tween, tmp_path
):
    walk(shop, small_tween, tmp_path, [0, 0, 1, 2, 3, 3, 4, 5, 6])  # drawings 0 and 3 are held for two frames
    records = gather(shop, small_tween)
    examples = Decoded(shop, get_kind("inbetween"), records)
    seen = {}
    for inputs, target in examples:
        seen[drawn(target)] = slots(inputs)
    assert seen == {
        1: [0, 2, 0, 4],  # no drawing three before: the first key repeats
        2: [1, 3, 1, 5],  # likewise
        3: [2, 4, 0, 6],
        4: [3, 5, 1, 5],  # no drawing three after: the last key repeats
        5: [4, 6, 2, 6],
    }


def test_examples_on_different_sides_of_the_split_lend_each_other_no_context(shop, small_tween, tmp_path):
    walk(shop, small_tween, tmp_path, range(7))
    records = gather(shop, small_tween)
    examples = Decoded(shop, get_kind("inbetween"), records)
    middle = next(i for i, r in enumerate(records) if r.position == 3)
    examples.keep_apart([i for i, r in enumerate(records) if r.position <= 3], [])
    inputs, _ = examples[middle]
    assert slots(inputs) == [2, 4, 0, 4]  # the one after is held out


class Spy(nn.Module):
    """A stand-in network that notes the mean of each frame it is given and draws the keys' mean."""

    margin, align = 0, 1

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append([round(float(x[:, k : k + 3].mean()) * 255) for k in range(0, 16, 4)])
        return (x[:, :4] + x[:, 4:8]) / 2


def key(value: int) -> np.ndarray:
    pixels = np.full((4, 4, 4), value, np.uint8)
    pixels[..., 3] = 255
    return pixels


def test_apply_reads_the_keys_around_each_gap_and_around_each_half_where_they_are_drawn():
    spy = Spy()
    keys = [key(v) for v in (0, 40, 120, 200)]
    list(get_kind("inbetween").apply(spy, keys, ApplyOptions(between=1)))
    assert spy.calls == [[0, 40, 0, 120], [40, 120, 0, 200], [120, 200, 40, 200]]  # (key1, key2, before, after)
    spy.calls.clear()
    list(get_kind("inbetween").apply(spy, keys[:3], ApplyOptions(timing="1/4,1/2,3/4")))
    half = 20  # between keys 0 and 40
    assert spy.calls[:3] == [
        [0, 40, 0, 120],  # the middle reads the key after the gap; before the first key there is none
        [0, half, 0, 40],  # the quarter: nothing half a gap before 0; the key one half after the middle
        [half, 40, 0, 40],  # three quarters: the first key half a gap before; nothing drawn at 3/2
    ]


def test_an_apprentice_made_before_context_reads_only_its_two_keys():
    torch.manual_seed(0)
    old = {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1, "flow": True}  # a manifest without "context"
    x = torch.rand(1, 16, 32, 32)
    changed = x.clone()
    changed[:, 8:] = torch.rand(1, 8, 32, 32)
    before = InbetweenNet(InbetweenConfig(**old)).eval()
    assert torch.equal(before(x), before(changed))
    reading = InbetweenNet(InbetweenConfig(**old, context=True)).eval()
    assert not torch.allclose(reading(x), reading(changed))


def test_playing_an_example_backwards_swaps_the_keys_around_it_too():
    frames = [np.full((16, 16, 4), value, np.float32) for value in (0.1, 0.2, 0.3, 0.4)]  # key1, key2, before, after
    middle = np.zeros((16, 16, 4), np.float32)
    sampler = PatchSampler([(np.concatenate(frames, -1), middle)], 8, 32, "none", reverse=True)
    inputs, _ = sampler.draw(0, 1)
    means = {tuple(round(float(inputs[n, k].mean()), 1) for k in range(0, 16, 4)) for n in range(32)}
    assert means == {(0.1, 0.2, 0.3, 0.4), (0.2, 0.1, 0.4, 0.3)}


@pytest.mark.hostile
def test_a_withdrawn_frame_never_reaches_training_as_another_examples_context(shop, small_tween, tmp_path):
    folder = walk(shop, small_tween, tmp_path, range(7))
    set_consent(shop, [str(folder / "frame1.png")], "withdrawn")  # drawing 0: three before the middle at 3
    records = gather(shop, small_tween)
    assert sorted(r.position for r in records) == [2, 3, 4, 5]
    seen = {drawn(target): slots(x) for x, target in Decoded(shop, get_kind("inbetween"), records)}
    assert seen[3] == [2, 4, 2, 6]  # the key before repeats instead of the withdrawn drawing
    assert all(0 not in slots for slots in seen.values())


def test_in_betweens_train_with_a_gradient_clip_and_paired_steps_without():
    assert TrainConfig().for_kind(get_kind("inbetween")).clip == 1.0
    assert TrainConfig().for_kind(get_kind("paired")).clip == 0.0
    assert TrainConfig(clip=5.0).for_kind(get_kind("inbetween")).clip == 5.0  # a setting given wins
