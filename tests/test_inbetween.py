"""The inbetween kind: sequences in every form become triplets, holds count once, apply draws N between keys."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import animation
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet
from apprentice.kinds.tiling import transform
from apprentice.provenance.credentials import check
from apprentice.train.loop import Budget, TrainConfig, train
from apprentice.train.sampler import PatchSampler, changed_pixels
from apprentice.train.split import split_indices

from conftest import SIZE, ball, colours, counts
from layered_files import write_ora


def frame_folder(folder: Path, xs: list[int], **options) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, x in enumerate(xs, start=1):
        ball(x, **options).save(folder / f"frame{number}.png")  # frame10 must sort after frame9
    return folder


def triplet_xs(shop, small_tween: str) -> list[tuple[str, ...]]:
    """The example names and, per example, its parts' files/frames in role order."""
    rows = shop.catalog.rows(
        "SELECT e.name, e.position, p.role, p.layer, w.name AS file FROM examples e "
        "JOIN example_parts p ON p.example = e.id JOIN works w ON w.id = p.work ORDER BY e.position, e.id"
    )
    found: dict[str, dict] = {}
    for row in rows:
        found.setdefault(row["name"], {})[row["role"]] = f"{row['file']}{'#' + row['layer'] if row['layer'] else ''}"
    return [tuple(parts[r] for r in ("key1", "inbetween", "key2")) for parts in found.values()]


def test_a_frame_folder_gives_one_triplet_per_inner_frame_in_natural_order(shop, small_tween, tmp_path):
    folder = frame_folder(tmp_path / "walk", [2 + 3 * i for i in range(11)])
    report = add_examples(shop, small_tween, [folder])
    assert len(report.added) == 9
    triplets = triplet_xs(shop, small_tween)
    assert triplets[0] == ("frame1.png", "frame2.png", "frame3.png")
    assert triplets[-1] == ("frame9.png", "frame10.png", "frame11.png")


def test_holds_count_once_and_the_ends_are_never_middles(shop, small_tween, tmp_path):
    folder = frame_folder(tmp_path / "on-twos", [2, 2, 10, 10, 18, 18, 26])
    add_examples(shop, small_tween, [folder])
    assert triplet_xs(shop, small_tween) == [
        ("frame1.png", "frame3.png", "frame5.png"),
        ("frame3.png", "frame5.png", "frame7.png"),
    ]


def test_a_sequence_of_two_drawings_is_refused_by_name(shop, small_tween, tmp_path):
    folder = frame_folder(tmp_path / "short", [2, 2, 10])
    with pytest.raises(BadInput, match="frame1.png has 2 different drawing"):
        add_examples(shop, small_tween, [folder])
    assert counts(shop) == (0, 0, 0)


def test_frames_of_different_sizes_are_refused_naming_the_frame(shop, small_tween, tmp_path):
    folder = frame_folder(tmp_path / "mixed", [2, 8, 14])
    ball(20, size=(50, 32)).save(folder / "frame4.png")
    with pytest.raises(BadInput, match=r"frame4.png is 50×32 but .*frame1.png is 48×32"):
        add_examples(shop, small_tween, [folder])
    assert counts(shop) == (0, 0, 0)


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_animated_files_give_triplets_of_their_frames(shop, small_tween, tmp_path, suffix):
    path = tmp_path / f"bounce{suffix}"
    animation.write_animation([ball(2 + 6 * i) for i in range(5)], path, 80, {})
    add_examples(shop, small_tween, [path])
    assert triplet_xs(shop, small_tween) == [
        (f"bounce{suffix}#{i}", f"bounce{suffix}#{i + 1}", f"bounce{suffix}#{i + 2}") for i in range(3)
    ]
    assert counts(shop)[0] == 1  # one file, one work


def test_layers_of_a_layered_file_are_frames_bottom_first(shop, small_tween, tmp_path):
    layers = {f"f{n}": ball(2 + 6 * n, transparent=True) for n in (3, 2, 1, 0)}  # top to bottom
    write_ora(tmp_path / "cycle.ora", layers)
    add_examples(shop, small_tween, [tmp_path / "cycle.ora"])
    assert triplet_xs(shop, small_tween) == [
        ("cycle.ora#f0", "cycle.ora#f1", "cycle.ora#f2"),
        ("cycle.ora#f1", "cycle.ora#f2", "cycle.ora#f3"),
    ]


def test_explicit_key_inbetween_key_files_are_one_example(shop, small_tween, tmp_path):
    for role, x in (("key1", 2), ("inbetween", 12), ("key2", 22)):
        ball(x).save(tmp_path / f"jump.{role}.png")
    add_examples(shop, small_tween, [tmp_path / "jump.inbetween.png"])
    assert triplet_xs(shop, small_tween) == [("jump.key1.png", "jump.inbetween.png", "jump.key2.png")]
    (tmp_path / "jump.key2.png").unlink()
    with pytest.raises(BadInput, match="jump.key2.png is missing"):
        add_examples(shop, small_tween, [tmp_path / "jump.key1.png"])


def test_a_single_still_drawing_is_not_an_animation(shop, small_tween, tmp_path):
    ball(4).save(tmp_path / "still.png")
    with pytest.raises(BadInput, match="still.png is a single drawing"):
        add_examples(shop, small_tween, [tmp_path / "still.png"])


def test_few_animations_hold_out_their_last_frames_with_a_gap_many_hold_out_whole_ones():
    fingerprints = [f"f{i:02d}" for i in range(12)]
    split = split_indices(fingerprints, 0.2, ["a"] * 12, list(range(1, 13)))
    assert split.validation == [10, 11] and split.training == list(range(8))  # 9 and 10 would share frames with 11
    assert split.how == "held-out last frames of each animation" and split.not_trained == fingerprints[8:]
    groups = [f"seq{i % 4}" for i in range(12)]
    split = split_indices(fingerprints, 0.2, groups, list(range(12)))
    assert split.validation == [0, 4, 8] and split.training == [i for i in range(12) if i % 4]
    assert split.how == "1 held-out animation(s) of 4"


def test_the_last_frames_of_an_animation_never_reach_a_training_batch(shop, small_tween, tmp_path, drawn):
    fills = [(10 + 17 * n, 250 - 13 * n, 60 + 11 * n) for n in range(14)]  # no frame shares its fill colour
    (tmp_path / "walk").mkdir()
    for n, fill in enumerate(fills):
        ball(2 + 2 * n, colour=fill).save(tmp_path / "walk" / f"frame{n + 1}.png")
    add_examples(shop, small_tween, [tmp_path / "walk"])
    made = train(shop, small_tween, Budget(steps=6), TrainConfig(patch=32, batch=2, validate_every=3))
    assert made.manifest["metrics"]["validation"] == "held-out last frames of each animation"
    assert [e["split"] for e in made.manifest["examples"]] == ["training"] * 8 + ["validation"] * 4
    assert len(drawn) == 6
    seen = set().union(*(colours(inputs) | colours(targets) for inputs, targets in drawn))
    assert not {(*fill, 255) for fill in fills[10:]} & seen, "a frame of a held-out triplet reached a batch"
    assert {(*fill, 255) for fill in fills[:10]} & seen


def test_the_sampler_swaps_keys_and_focuses_where_the_middle_differs_from_either_key():
    first, last = np.zeros((16, 16, 4), np.float32), np.ones((16, 16, 4), np.float32)
    middle = np.zeros((16, 16, 4), np.float32)
    stack = np.concatenate([first, last, middle], axis=-1)
    assert len(changed_pixels(stack, 8)) == 16 * 16  # equal to the first key, far from the last
    sampler = PatchSampler([(np.concatenate([first, last], -1), middle)], 8, 32, "none", reverse=True)
    inputs, _ = sampler.draw(0, 1)
    swapped = inputs[:, 0, 0, 0] == 1.0
    assert 0 < int(swapped.sum()) < 32
    assert torch.all(inputs[swapped, 4:8] == 0.0) and torch.all(inputs[~swapped, 4:8] == 1.0)


def test_tiled_in_betweens_equal_whole_frame_ones():
    torch.manual_seed(0)
    net = InbetweenNet(InbetweenConfig(width=8, mid_width=8, deep_width=8, blocks=1)).eval()
    torch.nn.init.normal_(net.motion.weight, std=0.05)  # make the flows do something
    frames = np.random.default_rng(0).integers(0, 256, (400, 360, 8), dtype=np.uint8)
    whole = transform(net, frames, net.margin, tile=4096)
    tiled = transform(net, frames, net.margin, tile=64)
    assert whole.shape == (400, 360, 4)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


@pytest.fixture
def trained(shop, small_tween, tmp_path) -> str:
    add_examples(shop, small_tween, [frame_folder(tmp_path / "run", [2 + 3 * i for i in range(8)])])
    train(shop, small_tween, Budget(steps=4), TrainConfig(patch=32, batch=2, validate_every=2))
    return small_tween


@pytest.mark.parametrize("between", [1, 3])
def test_apply_draws_n_frames_between_each_pair_of_keys_and_keeps_the_keys(shop, trained, tmp_path, between):
    keys = frame_folder(tmp_path / "keys", [2, 14, 14, 30])  # the middle pair is a hold
    options = ApplyOptions(between=between, formats=("frames", "gif", "apng"))
    results = apply(shop, trained, [keys], tmp_path / "out", options)
    frames = sorted((tmp_path / "out").glob("keys-*.png"))
    assert len(frames) == 3 * (between + 1) + 1
    images = [np.asarray(Image.open(p).convert("RGBA")) for p in frames]
    for number, key in enumerate(sorted(keys.iterdir())):
        assert np.array_equal(images[number * (between + 1)], np.asarray(Image.open(key).convert("RGBA")))
    hold = images[between + 1 : 2 * (between + 1) + 1]
    assert all(np.array_equal(frame, hold[0]) for frame in hold)  # between two identical keys: the same drawing
    assert len(animation.decode_frames((tmp_path / "out" / "keys.gif").read_bytes(), "keys.gif")) == len(frames)
    apng = (tmp_path / "out" / "keys.png").read_bytes()
    assert [np.asarray(f) for f in animation.decode_frames(apng, "keys.png")][1].tolist() == images[1].tolist()
    assert len(results) == 3 * between + 2  # the drawn frames, then the two animation files
    for path in (frames[1], tmp_path / "out" / "keys.gif", tmp_path / "out" / "keys.png"):
        verdict = check(shop, path)
        assert verdict["signature_valid"] and verdict["pixels_match"] and verdict["apprentice_known"], verdict
    assert not check(shop, frames[0])["credentials"]  # the artist's key carries no apprentice credentials


def test_apply_refuses_unhalvable_counts_mismatched_keys_and_single_keys(shop, trained, tmp_path):
    keys = frame_folder(tmp_path / "keys", [2, 14])
    with pytest.raises(BadInput, match="--between 2 cannot be drawn by halving"):
        apply(shop, trained, [keys], tmp_path / "out", ApplyOptions(between=2))
    ball(20, size=(40, 32)).save(keys / "frame3.png")
    with pytest.raises(BadInput, match=r"frame3.png is 40×32 but .*frame1.png is 48×32"):
        apply(shop, trained, [keys], tmp_path / "out")
    with pytest.raises(BadInput, match="holds 1 key pose"):
        apply(shop, trained, [keys / "frame1.png"], tmp_path / "out")
    shot = frame_folder(tmp_path / "shot", [2, 14])
    (shot / "frame1.png").rename(shot / "shot-0001.png")  # keys named as the frames apply would write over them
    with pytest.raises(BadInput) as refused:
        apply(shop, trained, [shot], shot)
    assert str(refused.value) == (
        f"Writing the in-betweens would overwrite {shot / 'shot-0001.png'}; choose another --out folder."
    )


def test_transparent_keys_give_transparent_in_betweens(shop, trained, tmp_path):
    keys = frame_folder(tmp_path / "sprite", [2, 20], transparent=True)
    apply(shop, trained, [keys], tmp_path / "out")
    middle = Image.open(tmp_path / "out" / "sprite-0002.png")
    assert middle.mode == "RGBA" and middle.size == SIZE


def test_a_gif_cut_short_is_refused_as_damaged_not_as_a_still(shop, small_tween, tmp_path):
    path = tmp_path / "walk.gif"
    animation.write_animation([ball(2 + 6 * i) for i in range(5)], path, 80, {})
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(BadInput, match="walk.gif is damaged or cut short"):
        add_examples(shop, small_tween, [path])
    with pytest.raises(BadInput, match="walk.gif is damaged or cut short"):
        add_examples(shop, small_tween, [tmp_path])


def test_a_long_shot_is_drawn_in_the_memory_of_one_gap(shop, trained, tmp_path):
    """Frames stream: twelve keys need about the memory of three (all 34 frames of 192×128 held would be 3.3 MB)."""
    peaks = {}
    for count in (3, 12):
        keys = frame_folder(tmp_path / f"keys{count}", [2 + 12 * i for i in range(count)], size=(192, 128))
        tracemalloc.start()
        apply(shop, trained, [keys], tmp_path / f"out{count}", ApplyOptions(between=3))
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(list((tmp_path / f"out{count}").glob("*.png"))) == 4 * count - 3
    assert peaks[12] < peaks[3] + 1_000_000, peaks


def test_keys_are_read_only_when_the_drawing_reaches_them():
    read = []

    class Keys(list):
        def __getitem__(self, index):
            read.append(index)
            return super().__getitem__(index)

    keys = Keys(np.full((8, 8, 4), value, np.uint8) for value in (0, 64, 128, 255))
    net = InbetweenNet(InbetweenConfig(width=8, mid_width=8, deep_width=8, blocks=1)).eval()
    frames = get_kind("inbetween").apply(net, keys, ApplyOptions(between=1))
    [next(frames) for _ in range(3)]  # the first key, its in-between, the second key
    assert max(read) == 2  # the first gap's keys and the one after them, which the network reads as context
