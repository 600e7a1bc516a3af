"""Applying an apprentice: seamless tiles, any size, the input's mode and alpha kept, credentials written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apprentice import drawings
from apprentice.errors import BadInput, NotFound, PartlyDone
from apprentice.formats.images import read_metadata
from apprentice.imports import add_examples
from apprentice.jobs import apply_files
from apprentice.kinds.network import NetConfig, PairedNet
from apprentice.kinds.tiling import grid, transform
from apprentice.train.loop import Budget, TrainConfig, train

from conftest import write_pair_folder


def random_net(seed: int = 0) -> PairedNet:
    torch.manual_seed(seed)
    net = PairedNet(NetConfig(width=8, deep_width=16, blocks=1))
    torch.nn.init.normal_(net.head.weight, std=0.05)  # the head starts at zero (identity): make it do something
    return net.eval()


def test_tiled_apply_equals_whole_image_apply():
    net = random_net()
    image = np.random.default_rng(0).integers(0, 256, (150, 133, 4), dtype=np.uint8)
    whole = transform(net, image, net.margin, tile=4096)
    tiled = transform(net, image, net.margin, tile=32)
    assert not np.array_equal(whole, image)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("height", "width", "tile", "align", "margin"),
    [(1088, 1920, 1024, 16, 160), (2048, 2048, 1024, 4, 40), (3508, 2480, 1024, 4, 40), (150, 133, 32, 4, 12)],
)
def test_tiles_cover_the_image_once_within_a_square_tiles_memory(height, width, tile, align, margin):
    rows, columns = grid(height, width, tile, align, margin)
    covered = np.zeros((height, width), dtype=int)
    for y0, y1 in rows:
        for x0, x1 in columns:
            covered[y0:y1, x0:x1] += 1
            assert (y1 - y0) * (x1 - x0) <= tile * tile and y0 % align == 0 and x0 % align == 0
            window = (min(y1 + margin, height) - max(y0 - margin, 0)) * (min(x1 + margin, width) - max(x0 - margin, 0))
            assert window <= (tile + 2 * margin) ** 2
    assert (covered == 1).all()


def test_a_1080p_frame_takes_two_tiles_not_four():
    """Square tiles of 1024 would cut a 1920×1088 frame in four, with 1.5× its pixels in their windows."""
    assert [len(sides) for sides in grid(1088, 1920, 1024, 16, 160)] == [1, 2]


def test_too_small_a_margin_would_show_seams():
    """Guards the test above: with no context the tiles differ, so equality is not trivially true."""
    net = random_net()
    image = np.random.default_rng(0).integers(0, 256, (96, 96, 4), dtype=np.uint8)
    assert np.abs(transform(net, image, 0, tile=32).astype(int) - transform(net, image, 0, tile=4096)).max() > 1


@pytest.fixture
def trained(shop, small_task, tmp_path) -> str:
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    train(shop, small_task, Budget(steps=6), TrainConfig(patch=32, batch=4, validate_every=3))
    return small_task


def test_apply_keeps_size_alpha_and_grayscale_of_inputs_larger_than_any_training_image(shop, trained, tmp_path):
    inputs = tmp_path / "new"
    inputs.mkdir()
    Image.new("RGB", (301, 257), "white").save(inputs / "big.png")
    Image.new("RGBA", (64, 50), (10, 20, 30, 0)).save(inputs / "sprite.png")
    Image.new("L", (40, 30), 200).save(inputs / "gray.png")
    results = apply_files(shop, trained, [inputs], tmp_path / "out")
    assert len(results) == 3
    outputs = {p.name: Image.open(p) for p in (tmp_path / "out").iterdir()}
    assert (outputs["big.png"].size, outputs["big.png"].mode) == ((301, 257), "RGB")
    assert (outputs["sprite.png"].size, outputs["sprite.png"].mode) == ((64, 50), "RGBA")
    assert outputs["gray.png"].mode == "RGB"  # the afters were colour images, so colour is kept possible


def test_every_output_names_the_apprentice_that_made_it(shop, trained, tmp_path):
    (tmp_path / "new").mkdir()
    Image.new("RGB", (40, 40), "white").save(tmp_path / "new" / "a.png")
    Image.new("RGB", (40, 40), "white").save(tmp_path / "new" / "b.jpg")
    results = apply_files(shop, trained, [tmp_path / "new"], tmp_path / "out")
    for result in results:
        credentials = read_metadata(tmp_path / "out" / result.output.split("/")[-1])
        assert credentials["apprentice:id"] == result.apprentice
        assert credentials["apprentice:task"] == trained
        assert len(credentials["apprentice:manifest-sha256"]) == 64
        assert "Tester" in credentials["apprentice:learned-from"]
    assert shop.catalog.row("SELECT COUNT(*) AS n FROM jobs")["n"] == 2


def test_apply_refuses_to_overwrite_its_input(shop, trained, tmp_path):
    Image.new("RGB", (40, 40), "white").save(tmp_path / "a.png")
    with pytest.raises(BadInput, match="overwrite"):
        apply_files(shop, trained, [tmp_path / "a.png"], tmp_path)


def test_apply_before_training_says_to_train(shop, small_task, tmp_path):
    with pytest.raises(NotFound, match="apprentice train ink"):
        apply_files(shop, small_task, [tmp_path], tmp_path / "out")


def test_a_changed_weights_file_is_refused(shop, trained, tmp_path):
    from apprentice.provenance.manifest import find

    weights = find(shop, trained).folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    Image.new("RGB", (40, 40), "white").save(tmp_path / "a.png")
    with pytest.raises(BadInput, match="does not match"):
        apply_files(shop, trained, [tmp_path / "a.png"], tmp_path / "out")


def test_a_16_bit_grayscale_drawing_is_scaled_not_clipped():
    from apprentice.formats.images import rgba

    sixteen = Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))
    assert sixteen.mode.startswith("I;16")
    assert rgba(sixteen)[0, 0].tolist() == [128, 128, 128, 255]


@pytest.mark.parametrize("alone_pixels", [0, 10**9])  # every drawing on its own; all of them overlapped
def test_the_pipeline_writes_every_drawing_in_order_as_one_at_a_time_would(
    shop, trained, tmp_path, monkeypatch, alone_pixels
):
    inputs = write_pair_folder(tmp_path / "new", 4, seed=11, size=(70, 44)) / "before"
    expected = {}
    for path in sorted(inputs.iterdir()):
        apply_files(shop, trained, [path], tmp_path / "single")
        expected[path.name] = np.asarray(Image.open(tmp_path / "single" / path.name))
    monkeypatch.setattr(drawings, "ALONE_PIXELS", alone_pixels)
    seen = []
    results = apply_files(shop, trained, [inputs], tmp_path / "out", on_progress=lambda n, t, s: seen.append((n, t)))
    assert [Path(r.input).name for r in results] == sorted(expected) and seen == [(n, 4) for n in range(1, 5)]
    for name, pixels in expected.items():
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / name)), pixels)


@pytest.mark.parametrize("broken", ["a.png", "b.png", "c.png"])  # first, between, last
def test_a_damaged_drawing_is_named_and_the_others_are_still_drawn(shop, trained, tmp_path, broken):
    inputs = tmp_path / "new"
    inputs.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (40, 30), "white").save(inputs / name)
    (inputs / broken).write_bytes((inputs / broken).read_bytes()[:60])
    with pytest.raises(
        PartlyDone, match=rf"^Wrote 2 of 3 drawings to .*out; .*{broken} is damaged or cut short"
    ) as partly:
        apply_files(shop, trained, [inputs], tmp_path / "out")
    drawn = sorted({"a.png", "b.png", "c.png"} - {broken})
    assert [Path(result.output).name for result in partly.value.results] == drawn
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == drawn
    jobs = shop.catalog.rows("SELECT input, output FROM jobs ORDER BY input")
    assert [(Path(j["input"]).name, Path(j["output"]).name) for j in jobs] == [(name, name) for name in drawn]


def test_a_batch_of_only_damaged_drawings_is_refused_with_nothing_recorded(shop, trained, tmp_path):
    inputs = tmp_path / "new"
    inputs.mkdir()
    for name in ("a.png", "b.png"):
        (inputs / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(
        BadInput, match=r"^Wrote 0 of 2 drawings .*a\.png .*\(1 more could not be read either\)\.$"
    ) as refused:
        apply_files(shop, trained, [inputs], tmp_path / "out")
    assert not isinstance(refused.value, PartlyDone)
    assert shop.catalog.row("SELECT COUNT(*) AS n FROM jobs")["n"] == 0 and not any((tmp_path / "out").iterdir())
