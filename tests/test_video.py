"""Video files as animation sequences (the `video` extra, PyAV): frames to learn from, bounded, and a clear sentence
when the extra is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import images, video
from apprentice.formats.sequences import find_sequences, read_frame
from apprentice.imports import add_examples
from apprentice.train.loop import Budget, TrainConfig, train

from conftest import ball

av = pytest.importorskip("av", reason="the video tests need `pip install -e '.[test]'` (which brings the video extra)")


def write_video(path: Path, frames: list[Image.Image], codec: str = "ffv1", fps: int = 12) -> Path:
    """A video of `frames`, lossless (FFV1 in Matroska) unless another codec is named."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "bgra" if codec == "ffv1" else "yuv420p"
        for frame in frames:
            shown = av.VideoFrame.from_ndarray(np.asarray(frame.convert("RGBA")), format="rgba")
            for packet in stream.encode(shown.reformat(format=stream.pix_fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def walk(count: int = 6) -> list[Image.Image]:
    return [ball(2 + 5 * number) for number in range(count)]


def test_a_video_is_a_sequence_of_its_frames_read_exactly(tmp_path):
    frames = walk()
    [sequence] = find_sequences([write_video(tmp_path / "walk.mkv", frames)])
    assert sequence.name == "walk" and len(sequence.frames) == 6
    for source, frame in zip(sequence.frames, frames, strict=True):
        assert np.array_equal(np.asarray(read_frame(source)), np.asarray(frame.convert("RGBA")))
    assert str(sequence.frames[2]) == f"{tmp_path / 'walk.mkv'} (frame 3)"


def test_an_mp4_in_a_folder_is_found_beside_other_animations(tmp_path):
    write_video(tmp_path / "shots" / "run.mp4", walk(5), codec="mpeg4") if (
        tmp_path / "shots"
    ).mkdir() is None else None
    [sequence] = find_sequences([tmp_path / "shots"])
    assert (sequence.name, len(sequence.frames), read_frame(sequence.frames[4]).size) == ("run", 5, (48, 32))


def test_a_video_teaches_one_example_per_inner_frame_and_trains_from_the_stored_copy(shop, small_tween, tmp_path):
    report = add_examples(shop, small_tween, [write_video(tmp_path / "walk.mkv", walk())])
    assert len(report.added) == 4
    made = train(shop, small_tween, Budget(steps=2), TrainConfig(patch=32, batch=2, validate_every=2))
    assert len(made.manifest["examples"]) == 4


def test_without_the_video_extra_a_video_is_refused_in_one_sentence_naming_the_fix(tmp_path, monkeypatch):
    path = write_video(tmp_path / "walk.mkv", walk(3))
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed: importing it fails
    with pytest.raises(BadInput) as refused:
        find_sequences([path])
    assert str(refused.value) == (
        f"{path} is a video, and reading videos needs the video extra; install it with "
        "pip install 'apprentice[video]' and add it again."
    )


@pytest.mark.hostile
def test_a_video_too_large_to_decode_is_refused_before_any_frame_is_decoded(tmp_path, monkeypatch):
    path = write_video(tmp_path / "huge.mkv", walk(3))
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)  # the 10 000 × 10 000 cap, scaled down to this small file
    monkeypatch.setattr(video, "_decoded", lambda *_: pytest.fail("a frame was decoded"))
    with pytest.raises(BadInput, match=r"huge.mkv is 48×32 pixels, more than the 0 Mpx Apprentice decodes safely"):
        find_sequences([path])


@pytest.mark.hostile
def test_a_video_with_too_many_frames_is_refused_by_counting_before_decoding(tmp_path, monkeypatch):
    path = write_video(tmp_path / "long.mkv", walk(6))
    monkeypatch.setattr(video, "MAX_FRAMES", 5)  # the 2000-frame cap, scaled down to this short clip
    monkeypatch.setattr(video, "_decoded", lambda *_: pytest.fail("a frame was decoded"))
    with pytest.raises(BadInput) as refused:
        find_sequences([path])
    assert str(refused.value) == (
        f"{path} has more than 5 frames, more than Apprentice reads from one file; cut it into shorter clips."
    )


@pytest.mark.hostile
@pytest.mark.hostile
def test_a_video_cut_short_is_refused_rather_than_read_as_its_first_frames(tmp_path):
    whole = write_video(tmp_path / "whole.mkv", walk(6)).read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole[: len(whole) // 2])  # Matroska's header still says half a second at 12 frames a second
    with pytest.raises(BadInput) as refused:
        find_sequences([cut])
    assert str(refused.value) == f"{cut} is cut short: it says it shows 6 frames but holds 2; export it again."


@pytest.mark.hostile
@pytest.mark.parametrize("data", [b"this is not a video", b"\x1a\x45\xdf\xa3" + bytes(200)])
def test_bytes_that_are_no_video_are_refused_as_damaged(tmp_path, data):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(data)
    with pytest.raises(BadInput) as refused:
        find_sequences([fake])
    assert str(refused.value) == f"{fake} is damaged or not a video Apprentice can read; export it as MP4."
