"""Krita's own animation: an animated paint layer's keyframes are a sequence to learn from and the keys to draw between.

tests/files/krita-walk.kra was saved by Krita 5.1.5 (by the plugin in tests/krita_walk/, which the last test runs
again): a still layer 'still', an animated layer 'walk' with keyframes at frames 0, 2, 3 and 6 (a blue ball at
x = 8, 16, 24, 40) and Krita's own 'Background'.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.errors import BadInput
from apprentice.formats import layered
from apprentice.formats.layers import keyframe_part
from apprentice.formats.sequences import find_sequences, read_frame
from apprentice.imports import add_examples
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions
from apprentice.train.loop import Budget, TrainConfig, train
from krita_runs import run_krita_until

from conftest import ball
from layered_files import write_animated_kra

KRITA_WALK = Path(__file__).parent / "files" / "krita-walk.kra"


def left_edge(image: Image.Image) -> int:
    return image.getbbox()[0]


def test_a_file_krita_saved_reads_its_animated_layer_as_its_keyframes_in_time_order():
    [sequence] = find_sequences([KRITA_WALK])
    assert sequence.name == "krita-walk walk"
    assert [source.layer for source in sequence.frames] == [keyframe_part("walk", t) for t in (0, 2, 3, 6)]
    assert [left_edge(read_frame(source)) for source in sequence.frames] == [3, 11, 19, 35]  # the ball, moving
    assert str(sequence.frames[1]) == f"{KRITA_WALK} (layer 'walk', keyframe at frame 2)"
    assert layered.layer_names(KRITA_WALK) == ["still", "walk", "Background"]  # still layers read as before


def test_a_file_built_as_krita_lays_it_out_reads_the_same_as_krita_s_own(tmp_path):
    frames = {
        time: read_frame(source)
        for time, source in zip((0, 2, 3, 6), find_sequences([KRITA_WALK])[0].frames, strict=True)
    }
    write_animated_kra(tmp_path / "built.kra", {"walk": frames}, {"still": ball(10)})
    [built] = find_sequences([tmp_path / "built.kra"])
    for source, when in zip(built.frames, frames, strict=True):
        assert np.array_equal(np.asarray(read_frame(source)), np.asarray(frames[when]))


def test_an_animated_layer_teaches_one_example_per_inner_keyframe_and_trains(shop, small_tween, tmp_path):
    copy = tmp_path / "walk.kra"
    shutil.copy(KRITA_WALK, copy)
    report = add_examples(shop, small_tween, [copy])
    assert len(report.added) == 2  # keyframes 0, 2, 3, 6: the drawings at 2 and 3 are the middles
    made = train(shop, small_tween, Budget(steps=2), TrainConfig(patch=32, batch=2, validate_every=2))
    assert made.manifest["examples"]  # the keyframes were read back from the stored file


def test_every_animated_layer_of_a_file_is_a_sequence_of_its_own(tmp_path):
    walk = {time: ball(2 + 4 * time) for time in range(3)}
    jump = {0: ball(30), 4: ball(20), 8: ball(10)}
    write_animated_kra(tmp_path / "two.kra", {"jump": jump, "walk": walk})
    assert sorted(sequence.name for sequence in find_sequences([tmp_path / "two.kra"])) == ["two jump", "two walk"]


def test_keys_drawn_as_keyframes_get_their_in_betweens(shop, small_tween, tmp_path):
    add_examples(shop, small_tween, [KRITA_WALK])
    train(shop, small_tween, Budget(steps=2), TrainConfig(patch=32, batch=2, validate_every=2))
    keys = {0: ball(2), 6: ball(30)}
    write_animated_kra(tmp_path / "keys.kra", {"keys": keys}, {"paper": Image.new("RGBA", (48, 32), "white")})
    apply(shop, small_tween, [tmp_path / "keys.kra"], tmp_path / "out", ApplyOptions(between=3))
    frames = sorted((tmp_path / "out").glob("keys-*.png"))
    assert len(frames) == 5
    assert np.array_equal(np.asarray(Image.open(frames[-1]).convert("RGBA")), np.asarray(keys[6]))


def test_keys_in_a_file_with_several_animated_layers_need_the_layer_named(shop, small_tween, tmp_path):
    add_examples(shop, small_tween, [KRITA_WALK])
    train(shop, small_tween, Budget(steps=2), TrainConfig(patch=32, batch=2, validate_every=2))
    two = tmp_path / "two.kra"
    write_animated_kra(two, {"jump": {0: ball(30), 4: ball(10)}, "walk": {0: ball(2), 2: ball(8), 4: ball(14)}})
    with pytest.raises(BadInput) as refused:
        apply(shop, small_tween, [two], tmp_path / "out", ApplyOptions())
    assert str(refused.value) == (
        f"{two} has several animated layers ('walk', 'jump'); say which holds the keys with --layer."
    )
    with pytest.raises(BadInput) as refused:
        apply(shop, small_tween, [two], tmp_path / "out", ApplyOptions(layer="run"))
    assert str(refused.value) == (
        f"{two} has no animated layer 'run'; name one of its animated layers ('walk', 'jump') with --layer."
    )
    apply(shop, small_tween, [two], tmp_path / "out", ApplyOptions(layer="walk"))
    assert len(sorted((tmp_path / "out").glob("two-*.png"))) == 5  # three keys, an in-between in each gap


# ---------------------------------------------------------------- hostile files


@pytest.mark.hostile
@pytest.mark.parametrize("name", ["../../../etc/passwd", "/maindoc.xml", "..", "layer2/../../x", ""])
def test_a_keyframe_naming_a_path_instead_of_a_file_is_refused(tmp_path, name):
    write_animated_kra(tmp_path / "trick.kra", {"walk": {0: ball(2), 2: ball(8)}}, frame_names={2: name})
    with pytest.raises(BadInput) as refused:
        find_sequences([tmp_path / "trick.kra"])
    assert str(refused.value) == (
        f"{tmp_path / 'trick.kra'} names a layer file {name!r} that is not a plain file name; save it again from Krita."
    )


@pytest.mark.hostile
def test_a_keyframes_list_named_by_a_path_is_refused(tmp_path):
    write_animated_kra(tmp_path / "trick.kra", {"walk": {0: ball(2), 2: ball(8)}}, keyframes_name="../../maindoc.xml")
    with pytest.raises(BadInput, match="names a layer file '../../maindoc.xml' that is not a plain file name"):
        layered.open_layered(tmp_path / "trick.kra")


@pytest.mark.hostile
def test_a_file_claiming_thousands_of_keyframes_is_refused_before_any_is_decoded(tmp_path):
    small = Image.new("RGBA", (4, 4))
    write_animated_kra(tmp_path / "many.kra", {"walk": dict.fromkeys(range(2001), small)})
    with pytest.raises(BadInput) as refused:
        find_sequences([tmp_path / "many.kra"])
    assert str(refused.value) == (
        f"{tmp_path / 'many.kra'} has more than 2,000 keyframes, more than Apprentice reads from one file; "
        "cut the animation into shorter documents."
    )


@pytest.mark.hostile
def test_few_keyframes_on_a_huge_canvas_are_refused_before_any_is_decoded(tmp_path):
    tiny = Image.new("RGBA", (4, 4))
    write_animated_kra(tmp_path / "wide.kra", {"walk": dict.fromkeys(range(30), tiny)}, size=(10_000, 10_000))
    with pytest.raises(BadInput, match=r"has 30 keyframes of 10000×10000 pixels, 3\.0 billion pixels in all"):
        find_sequences([tmp_path / "wide.kra"])


@pytest.mark.hostile
def test_a_keyframe_whose_drawing_is_missing_is_refused_as_damaged(tmp_path):
    write_animated_kra(tmp_path / "cut.kra", {"walk": {0: ball(2), 2: ball(8)}}, frame_names={2: "layer2.f9"})
    [sequence] = find_sequences([tmp_path / "cut.kra"])
    with pytest.raises(BadInput, match="lacks 'walk/layers/layer2.f9', so it is damaged or not a Krita file"):
        read_frame(sequence.frames[1])


@pytest.mark.krita
@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("krita") and shutil.which("xvfb-run")), reason="needs krita and xvfb-run")
def test_an_animated_document_saved_by_a_real_krita_reads_as_its_keyframes(tmp_path):
    """Makes krita-walk.kra afresh with the Krita installed here, so the fixture follows Krita's format as it is."""
    out, data, config = tmp_path / "out", tmp_path / "data" / "krita" / "pykrita", tmp_path / "config"
    for folder in (out, data, config):
        folder.mkdir(parents=True)
    shutil.copytree(Path(__file__).parent / "krita_walk", data, dirs_exist_ok=True)
    (config / "kritarc").write_text("[python]\nenable_krita_walk_save=true\n[General]\nshowCanvasMessages=false\n")
    environment = os.environ | {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(config)}
    environment |= {"HOME": str(tmp_path), "KRITA_WALK_OUT": str(out)}
    run_krita_until(environment, out, "done")
    assert (out / "done").exists(), (out / "krita.log").read_text(errors="replace")[-3000:]
    assert (out / "done").read_text() == "True"
    [sequence] = find_sequences([out / "walk.kra"])
    assert [left_edge(read_frame(source)) for source in sequence.frames] == [3, 11, 19, 35]
    for mine, theirs in zip(sequence.frames, find_sequences([KRITA_WALK])[0].frames, strict=True):
        assert np.array_equal(np.asarray(read_frame(mine)), np.asarray(read_frame(theirs)))


def test_show_names_a_keyframe_part_in_words(home, tmp_path):
    copy = tmp_path / "walk.kra"
    shutil.copy(KRITA_WALK, copy)
    for args in (["init", "--name", "Ada"], ["task", "new", "tween", "--kind", "inbetween"], ["add", "tween", copy]):
        assert CliRunner().invoke(main, [str(a) for a in args]).exit_code == 0
    shown = CliRunner().invoke(main, ["show", "tween"]).stdout
    assert "layer 'walk', keyframe at frame 3" in shown
    assert "\x1f" not in shown  # the part's stored name (layer, separator, time) is not printed raw
