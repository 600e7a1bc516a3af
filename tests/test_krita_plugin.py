"""The Krita plugin outside Krita: pixel conversions, which layer gets what, refusals (with a stand-in `krita`
module), and its client against a real workshop server on 127.0.0.1."""

from __future__ import annotations

import importlib
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import krita_standin
from apprentice.krita import PLUGIN
from apprentice.train.loop import TrainConfig
from apprentice.web.app import create_app
from krita_standin import Document, Krita, Selection, layer

from conftest import ball, drawing_pair
from servers import free_port, serving

sys.path.insert(0, str(PLUGIN))
krita_standin.installed()
plugin = importlib.import_module("apprentice_krita")
errands = importlib.import_module("apprentice_krita.errands")
layers = importlib.import_module("apprentice_krita.layers")
pixels = importlib.import_module("apprentice_krita.pixels")
client = importlib.import_module("apprentice_krita.workshop")


def bgra(image: Image.Image) -> bytes:
    """An image as Krita hands out 8-bit RGBA pixel data: B,G,R,A."""
    r, g, b, a = image.convert("RGBA").split()
    return Image.merge("RGBA", (b, g, r, a)).tobytes()


def rgba_of(picture) -> Image.Image:
    return Image.frombytes("RGBA", (picture.width, picture.height), picture.rgba)


def test_the_plugin_registers_nothing_outside_krita_and_imports_no_apprentice():
    assert plugin.BINDING is None  # no PyQt here: only the pure modules are loaded
    sources = "\n".join(path.read_text() for path in (PLUGIN / "apprentice_krita").glob("*.py"))
    assert "import apprentice" not in sources and "from apprentice" not in sources


def test_krita_blue_green_red_alpha_becomes_red_green_blue_alpha_and_back():
    krita_bytes = bytes([10, 20, 30, 40, 1, 2, 3, 4])
    assert pixels.swap_red_blue(krita_bytes) == bytes([30, 20, 10, 40, 3, 2, 1, 4])
    assert pixels.swap_red_blue(pixels.swap_red_blue(krita_bytes)) == krita_bytes


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "LA", "L"])
def test_png_files_pillow_writes_with_any_row_filter_are_read_exactly(mode):
    noise = np.random.default_rng(1).integers(0, 256, (23, 31, 4), dtype=np.uint8)
    image = Image.fromarray(noise, "RGBA")
    image.paste(ball(3).crop((0, 0, 31, 23)), (0, 0))  # flat areas too, so every filter type is used
    image = image.convert(mode)
    written = io.BytesIO()
    image.save(written, "PNG", optimize=True)
    read = pixels.from_png(written.getvalue(), "noise.png")
    assert rgba_of(read).tobytes() == image.convert("RGBA").tobytes()
    assert Image.open(io.BytesIO(pixels.to_png(read))).convert("RGBA").tobytes() == image.convert("RGBA").tobytes()


def test_a_file_that_is_not_png_is_refused_in_one_sentence():
    with pytest.raises(pixels.PictureError, match=r"^out\.png is not a PNG file; apply the apprentice again\.$"):
        pixels.from_png(b"GIF89a", "out.png")


def pair_document() -> tuple[Document, object, object]:
    before, after = drawing_pair(0)
    document = Document(*before.size)
    return document, layer(document, "sketch", {0: bgra(before)}), layer(document, "ink", {0: bgra(after)})


def test_teaching_a_pair_sends_both_layers_as_named_rgba_pngs():
    document, sketch, ink = pair_document()
    files = errands.pair_files(document, sketch, ink)
    assert [name for name, _ in files] == ["walk-sketch-ink.before.png", "walk-sketch-ink.after.png"]
    before, after = drawing_pair(0)
    for (_, data), image in zip(files, (before, after), strict=True):
        assert Image.open(io.BytesIO(data)).tobytes() == image.convert("RGBA").tobytes()


def test_layers_not_in_8_bit_rgba_are_refused_in_one_sentence():
    document, sketch, _ = pair_document()
    deep = layer(document, "scan", {0: bytes(document.width() * document.height() * 4)}, depth="U16")
    with pytest.raises(layers.LayerError) as refused:
        errands.pair_files(document, deep, sketch)
    assert str(refused.value) == (
        "Layer 'scan' is RGBA U16; the apprentice reads 8-bit RGBA only: "
        "convert it with Layer → Convert → Convert Layer Color Space (RGB/Alpha, 8-bit integer)."
    )
    with pytest.raises(layers.LayerError, match="^Choose two different layers"):
        errands.pair_files(document, sketch, sketch)
    empty = layer(document, "empty", {0: bytes(document.width() * document.height() * 4)})
    with pytest.raises(layers.LayerError, match=r"^Layer 'empty' is empty; choose the layer"):
        errands.pair_files(document, sketch, empty)


@pytest.mark.parametrize("kind", ["grouplayer", "filelayer", "clonelayer"])
def test_layers_krita_cannot_paint_into_are_refused_for_writing(kind):
    document, sketch, _ = pair_document()
    stuck = layer(document, "refs", {0: bgra(drawing_pair(1)[0])}, kind=kind)
    before = bytes(stuck.frames[0])
    assert stuck.setPixelData(bytes(len(before)), 0, 0, document.width(), document.height()) is False
    picture = layers.read(sketch, layers.whole(document))
    with pytest.raises(layers.LayerError, match=rf"^Layer 'refs' is a {kind}, which Krita cannot paint into"):
        layers.write(stuck, layers.whole(document), picture)
    assert bytes(stuck.frames[0]) == before


def test_the_result_goes_on_a_new_named_layer_right_above_and_nothing_else_changes():
    document, sketch, ink = pair_document()
    originals = {node.name(): bytes(node.frames[0]) for node in (sketch, ink)}
    region, picture = layers.selected(document, sketch)
    made = layers.put_above(document, sketch, region, picture, "ink (apprentice v1)")
    assert [node.name() for node in document.rootNode().childNodes()] == ["sketch", "ink (apprentice v1)", "ink"]
    assert made.type() == "paintlayer" and document.refreshed == 1
    assert {node.name(): bytes(node.frames[0]) for node in (sketch, ink)} == originals
    x, y, w, h = region.x, region.y, region.width, region.height
    assert made.pixelData(x, y, w, h) == sketch.pixelData(x, y, w, h)  # B,G,R,A back in Krita's order


def test_apply_takes_the_selection_only_and_clips_it_to_the_document():
    document, sketch, _ = pair_document()
    document.chosen = Selection(document, 40, 30, 20, 20)  # runs past the 48 × 40 canvas
    region, picture = layers.selected(document, sketch)
    assert (region.x, region.y, region.width, region.height) == (40, 30, 8, 10)
    half = Selection(document, 0, 0, 48, 40, value=128)
    document.chosen = half
    _, faded = layers.selected(document, sketch)
    assert max(faded.rgba[3::4]) == 255 * 128 // 255


def animated_document(xs: dict[int, int]) -> tuple[Document, object]:
    document = Document(48, 32)
    return document, layer(document, "walk", {time: bgra(ball(x)) for time, x in xs.items()})


def test_inbetween_times_spread_evenly_and_refuse_keys_too_close():
    assert layers.inbetween_times([0, 4, 12], 3) == [[1, 2, 3], [6, 8, 10]]
    assert layers.inbetween_times([0, 2], 1) == [[1]]
    with pytest.raises(layers.LayerError) as refused:
        layers.inbetween_times([0, 2], 3)
    assert str(refused.value) == (
        "The keys at frames 0 and 2 leave room for 1 in-between(s), not 3; lower the in-betweens or space the keys out."
    )


def test_inbetweens_go_into_new_keyframes_of_the_layer_and_leave_the_keys_alone():
    document, walk = animated_document({0: 2, 4: 26})
    keys = {time: bytes(canvas) for time, canvas in walk.frames.items()}
    app = Krita.instance()
    app.document = document
    drawn = {time: rgba_of_ball(x) for time, x in ((1, 8), (2, 14), (3, 20))}
    added = layers.put_inbetweens(document, walk, drawn, app.action(layers.ADD_FRAME).trigger)
    assert added == [1, 2, 3] and sorted(walk.frames) == [0, 1, 2, 3, 4]
    assert {time: bytes(walk.frames[time]) for time in keys} == keys
    assert bytes(walk.frames[2]) == bgra(ball(14)) and document.currentTime() == 0
    with pytest.raises(layers.LayerError, match=r"^Frame 2 of layer 'walk' already holds a drawing; clear it first\.$"):
        layers.put_inbetweens(document, walk, {2: rgba_of_ball(14)}, app.action(layers.ADD_FRAME).trigger)


def rgba_of_ball(x: int):
    image = ball(x).convert("RGBA")
    return pixels.Picture(*image.size, image.tobytes())


def test_teaching_frames_needs_three_keyframes():
    document, walk = animated_document({0: 2, 2: 10})
    with pytest.raises(layers.LayerError, match=r"^Layer 'walk' has 2 keyframe\(s\); an in-between is learned"):
        errands.frame_files(document, walk)


def test_the_client_talks_only_to_this_computer_and_says_when_the_workshop_is_not_running():
    with pytest.raises(client.WorkshopError, match=r"^http://example\.org:8765 is not on this computer"):
        client.Workshop("http://example.org:8765")
    port = free_port()
    nobody = client.Workshop(f"http://127.0.0.1:{port}", timeout=5)
    assert not nobody.running()
    with pytest.raises(
        client.NotRunning, match=rf"^Apprentice's workshop is not running at http://127\.0\.0\.1:{port}"
    ):
        nobody.tasks()


def test_the_workshop_is_started_with_the_command_install_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(client, "SETTINGS", tmp_path / "settings.json")
    (tmp_path / "settings.json").write_text('{"command": ["/venv/bin/python", "-m", "apprentice.cli"]}')
    assert client.start_command() == ["/venv/bin/python", "-m", "apprentice.cli", "serve", "--no-browser"]


@pytest.fixture
def workshop(home: Path) -> Iterator[object]:
    """A real workshop server (as `apprentice serve` runs it) on 127.0.0.1 and a free port, stopped afterwards."""
    app = create_app(home)
    app.state.runs.defaults = TrainConfig(patch=32, batch=4, validate_every=3)
    with serving(app) as port:
        yield client.Workshop(f"http://127.0.0.1:{port}")


def trained(workshop, task: str) -> dict:
    workshop.train(task, steps=3)
    deadline = time.monotonic() + 120
    while (state := workshop.training(task))["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state["error"] is None and state["apprentice"], state
    return state


def test_teach_train_and_apply_from_krita_layers_through_a_real_workshop(workshop):
    assert workshop.running() and workshop.tasks() == []
    workshop.new_task("ink")
    document, sketch, ink = pair_document()
    added = errands.teach(workshop, "ink", errands.pair_files(document, sketch, ink))
    assert added["added"] == ["walk-sketch-ink"]
    assert [e["name"] for e in workshop.task("ink")["example_list"]] == ["walk-sketch-ink"]
    state = trained(workshop, "ink")
    assert workshop.download(state["preview_url"]).startswith(pixels.SIGNATURE)
    card = workshop.apprentices("ink")[0]
    assert card["version"] == 1 and card["manifest"]["owners"]
    fresh = Document(48, 40)
    rough = layer(fresh, "rough", {0: bgra(drawing_pair(5)[0])})
    region, picture = layers.selected(fresh, rough)
    result = errands.apply_to(workshop, "ink", region, picture)
    made = layers.put_above(fresh, rough, result.region, result.picture, result.layer_name)
    assert made.name() == "ink (apprentice v1)"
    assert [node.name() for node in fresh.rootNode().childNodes()] == ["rough", "ink (apprentice v1)"]
    out = Image.frombytes("RGBA", (48, 40), pixels.swap_red_blue(made.pixelData(0, 0, 48, 40)))
    assert out.tobytes() == rgba_of(result.picture).tobytes()  # what the apprentice drew, as Krita's B,G,R,A
    assert out.tobytes() != drawing_pair(5)[0].convert("RGBA").tobytes() and bytes(rough.frames[0]) == bgra(
        drawing_pair(5)[0]
    )
    with pytest.raises(client.WorkshopError, match=r"^There is no task named 'nosuch'"):
        workshop.apply("nosuch", [("x.png", pixels.to_png(picture))])


def test_inbetweens_learned_from_a_layers_frames_are_drawn_between_its_keys(workshop):
    workshop.new_task("tween", "inbetween")
    document, walk = animated_document({t: 2 + 5 * t for t in range(5)})
    files = errands.frame_files(document, walk)
    assert [name for name, _ in files] == [f"walk-walk-{n:04d}.png" for n in range(1, 6)]
    assert len(errands.teach(workshop, "tween", files)["added"]) == 3
    trained(workshop, "tween")
    shot, keys = animated_document({0: 2, 4: 26})
    times, key_files = errands.key_files(shot, keys)
    assert times == [0, 4]
    found = errands.draw_between(workshop, "tween", times, key_files, 3)
    app = Krita.instance()
    app.document = shot
    layers.put_inbetweens(shot, keys, found.drawn, app.action(layers.ADD_FRAME).trigger)
    assert sorted(keys.frames) == [0, 1, 2, 3, 4]
    assert bytes(keys.frames[0]) == bgra(ball(2)) and bytes(keys.frames[4]) == bgra(ball(26))
    assert all(any(keys.frames[t][3::4]) for t in (1, 2, 3))


def test_a_spacing_chosen_in_the_docker_asks_for_its_timing_chart_and_fills_the_same_frames(workshop, monkeypatch):
    workshop.new_task("tween", "inbetween")
    document, walk = animated_document({t: 2 + 5 * t for t in range(5)})
    errands.teach(workshop, "tween", errands.frame_files(document, walk))
    trained(workshop, "tween")
    times, key_files = errands.key_files(*animated_document({0: 2, 4: 26}))
    sent, upload = [], workshop.upload
    monkeypatch.setattr(
        workshop, "upload", lambda path, files, fields: sent.append(fields) or upload(path, files, fields)
    )
    even = errands.draw_between(workshop, "tween", times, key_files, 3)
    eased = errands.draw_between(
        workshop, "tween", times, key_files, 3, errands.SPACINGS["Ease out (slow out of the key)"]
    )
    assert sent == [{"between": "3"}, {"timing": "ease-out 3"}]
    assert sorted(even.drawn) == sorted(eased.drawn) == [1, 2, 3]  # the same frames on the layer, spaced otherwise
    assert eased.drawn[3].rgba == even.drawn[2].rgba  # ease-out draws 1/8, 1/4, 1/2: its last is the even middle
    with pytest.raises(client.WorkshopError, match="not a spacing the docker knows"):
        errands.draw_between(workshop, "tween", times, key_files, 3, "wobble")
