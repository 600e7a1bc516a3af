"""`apprentice export --onnx`: the file ONNX Runtime runs gives what the apprentice gives, at any aligned size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from apprentice.errors import BadInput, NotFound
from apprentice.export import export_onnx
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.provenance.manifest import find, load_network
from apprentice.train.loop import Budget, TrainConfig, train

from conftest import ball, write_pair_folder


def run_both(path, net, channels: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    x = torch.rand(1, channels, *size, generator=torch.Generator().manual_seed(1))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    made = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.inference_mode():
        return made, net(x).numpy()


def test_a_paired_apprentice_exports_and_runs_the_same_in_onnx_runtime_at_other_sizes(shop, small_task, tmp_path):
    add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    made = train(shop, small_task, Budget(steps=3), TrainConfig(patch=32, batch=2, validate_every=3))
    path = export_onnx(shop, small_task, tmp_path / "ink.onnx")
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert props["apprentice"] == made.id and props["manifest_sha256"] == made.manifest_sha256
    for size in ((64, 48), (100, 204)):
        ours, theirs = run_both(path, load_network(made), 4, size)
        assert ours.shape == (1, 4, *size) and np.abs(ours - theirs).max() < 1e-4


def trained_tween(shop, folder: Path, **net) -> None:
    config = get_kind("inbetween").default_config()
    config["net"] |= {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1} | net
    shop.new_task("tween", "inbetween", config)
    folder.mkdir()
    for number in range(5):
        ball(2 + 5 * number).save(folder / f"{number}.png")
    add_examples(shop, "tween", [folder])
    train(shop, "tween", Budget(steps=2), TrainConfig(patch=32, batch=2, validate_every=2))


def test_an_inbetween_apprentice_exports_with_its_warps(shop, tmp_path):
    trained_tween(shop, tmp_path / "run", prior=False)
    path = tmp_path / "tween.onnx"
    export_onnx(shop, "tween", path)
    net = load_network(find(shop, "tween"))
    ours, theirs = run_both(path, net, get_kind("inbetween").input_channels, (48, 80))  # keys and keys around
    assert ours.shape == (1, 4, 48, 80) and np.abs(ours - theirs).max() < 1e-4


def test_an_inbetween_apprentice_starting_from_optical_flow_is_refused_in_one_sentence(shop, tmp_path):
    trained_tween(shop, tmp_path / "run", prior=True)
    with pytest.raises(BadInput, match="^tween's apprentice starts its motion from OpenCV's optical flow"):
        export_onnx(shop, "tween", tmp_path / "tween.onnx")
    assert not (tmp_path / "tween.onnx").exists()


def test_export_without_an_apprentice_says_to_train_first(shop, small_task, tmp_path):
    with pytest.raises(NotFound, match="train"):
        export_onnx(shop, small_task, tmp_path / "none.onnx")
