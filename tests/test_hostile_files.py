"""Hostile files cost linear work: many layers, many frames, tiny frames on huge canvases, XMP chains, crowded zips.

Work is counted, never timed: files opened, zip directory entries parsed, frames decoded, Python steps taken.
Each file is made in the test, small on disk; reading it four times larger may cost at most about four times more.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

import attack_files as hostile
from apprentice.errors import BadInput
from apprentice.formats import animation, layered, layers, openraster
from apprentice.formats.parts import decode_part
from apprentice.formats.sequences import find_sequences
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.provenance import signals
from apprentice.provenance.signals import training_reservations
from apprentice.store.workshop import Workshop

from layered_files import write_kra, write_ora, write_psd

pytestmark = pytest.mark.hostile
LINEAR = 4.5  # four times the input may cost this many times the work; quadratic work would cost 16 times


class Work:
    """Counts of the costly steps while reading: each wrapped function's calls, and zip directory entries parsed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, *names: str) -> None:
        self.calls = dict.fromkeys(names, 0)
        self.entries = 0
        for name in names:
            monkeypatch.setattr(module, name, self._counted(name, getattr(module, name)))
        parse = zipfile.ZipFile._RealGetContents

        def counted_parse(archive: zipfile.ZipFile) -> None:
            parse(archive)
            self.entries += len(archive.filelist)

        monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", counted_parse)

    def _counted(self, name: str, function: Callable) -> Callable:
        def counted(*args: object, **kwargs: object) -> object:
            self.calls[name] += 1
            return function(*args, **kwargs)

        return counted


def python_steps(call: Callable[[], object]) -> int:
    """Bytecode instructions run in Apprentice's own modules during `call()`: its work, counted without a clock."""
    steps = 0

    def local(frame, event, arg):  # noqa: ANN001, ANN202
        nonlocal steps
        steps += event == "opcode"
        return local

    def enter(frame, event, arg):  # noqa: ANN001, ANN202
        if "apprentice" not in frame.f_code.co_filename:
            return None
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        return local

    sys.settrace(enter)
    try:
        call()
    finally:
        sys.settrace(None)
    return steps


def import_as_animation(tmp_path: Path, path: Path) -> None:
    """Import `path` as an in-between sequence into a fresh workshop: find, cut triplets, read, store."""
    shop = Workshop.init(tmp_path / f"shop-{path.stem}", "Tester")
    try:
        shop.new_task("tween", "inbetween", get_kind("inbetween").default_config())
        add_examples(shop, "tween", [path])
    finally:
        shop.close()


def written(folder: Path, name: str, data: bytes) -> Path:
    (folder / name).write_bytes(data)
    return folder / name


# XMP ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [hostile.see_property_xmp, hostile.nested_property_xmp])
def test_xmp_scan_grows_linearly_with_see_property_values_and_nested_properties(build: Callable) -> None:
    small, large = (hostile.png_with_xmp(build(count)) for count in (100, 400))
    assert python_steps(lambda: training_reservations(large)) < LINEAR * python_steps(
        lambda: training_reservations(small)
    )


def test_see_property_quotes_at_most_a_thousand_characters_of_other_constraints() -> None:
    packet = hostile.xmp_packet(
        f'<rdf:Description plus:DataMining="{hostile.SEE_PROPERTY}">'
        f"<plus:OtherConstraints>{'No AI. ' * 1000}</plus:OtherConstraints></rdf:Description>"
    )
    [reservation] = training_reservations(hostile.png_with_xmp(packet))
    assert reservation.detail == f"{hostile.SEE_PROPERTY} ({('No AI. ' * 1000)[: signals.MAX_QUOTED - 1]}…)"


def test_a_file_repeating_refusals_yields_at_most_max_hits_reservations() -> None:
    assert len(training_reservations(hostile.png_with_xmp(hostile.see_property_xmp(300)))) == signals.MAX_HITS


def test_a_nested_property_is_read_once_as_part_of_the_outer_one() -> None:
    packet = hostile.xmp_packet(
        "<rdf:Description><plus:OtherConstraints>outer <plus:OtherConstraints>inner</plus:OtherConstraints>"
        f'</plus:OtherConstraints></rdf:Description><rdf:Description plus:DataMining="{hostile.SEE_PROPERTY}"/>'
    )
    [reservation] = training_reservations(hostile.png_with_xmp(packet))
    assert reservation.detail == f"{hostile.SEE_PROPERTY} (outer; inner)"


# Layered files read as frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "build"), [(".ora", hostile.dotted_ora), (".kra", hostile.dotted_kra)])
def test_importing_layers_as_frames_opens_the_file_once_and_parses_its_zip_linearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, build: Callable
) -> None:
    work = Work(monkeypatch, layered, "open_ora", "open_kra")
    import_as_animation(tmp_path, written(tmp_path, f"small{suffix}", build(20)))
    small_opens, small_entries = sum(work.calls.values()), work.entries
    import_as_animation(tmp_path, written(tmp_path, f"large{suffix}", build(80)))
    assert sum(work.calls.values()) - small_opens == small_opens <= 2  # by path while finding, by bytes on import
    assert work.entries - small_entries < LINEAR * small_entries


def test_decoding_many_layers_from_the_same_bytes_parses_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work(monkeypatch, layered, "open_ora")
    data = hostile.dotted_ora(50)
    for index in range(50):
        assert decode_part(data, "dots.ora", f"dot {index}").getpixel((index, 0)) == (0, 0, 0, 255)
    assert work.calls["open_ora"] == 1


def test_a_changed_file_is_opened_again(tmp_path: Path) -> None:
    path = written(tmp_path, "dots.ora", hostile.dotted_ora(3))
    assert len(layered.layer_names(path)) == 3
    path.write_bytes(hostile.dotted_ora(4))
    assert len(layered.layer_names(path)) == 4


def test_more_layers_than_the_cap_are_refused_before_any_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work(monkeypatch, openraster, "_render_ora")
    path = written(tmp_path, "crowd.ora", hostile.dotted_ora(1001))
    with pytest.raises(BadInput) as refused:
        find_sequences([path])
    assert str(refused.value) == (
        f"{path} has 1,001 layers; Apprentice reads at most 1,000 — merge or remove layers and add it again."
    )
    assert work.calls["_render_ora"] == 0


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_every_layered_format_counts_its_layers_against_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(layers, "MAX_LAYERS", 2)
    path = tmp_path / f"three{suffix}"
    writer = {".psd": write_psd, ".kra": write_kra, ".ora": write_ora}[suffix]
    writer(path, {name: Image.new("RGBA", (8, 8), (9, 9, 9, 255)) for name in ("a", "b", "c")})
    with pytest.raises(BadInput, match=r"has 3 layers; Apprentice reads at most 2 — merge or remove layers"):
        layered.layer_names(path)


def test_layers_whose_canvases_add_up_past_the_pixel_budget_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work(monkeypatch, openraster, "_render_ora")
    path = written(tmp_path, "huge.ora", hostile.dotted_ora(30, canvas=(10_000, 10_000)))
    with pytest.raises(BadInput) as refused:
        find_sequences([path])
    assert str(refused.value) == (
        f"{path} has 30 layers of 10000×10000 pixels, 3.0 billion pixels in all; Apprentice decodes at most "
        "2 billion from one file — cut it into shorter sequences or scale it down and add it again."
    )
    assert work.calls["_render_ora"] == 0


# Animated files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "build"), [(".gif", hostile.dotted_gif), (".png", hostile.dotted_apng)])
def test_importing_frames_that_miss_the_cache_decodes_each_frame_a_few_times_not_once_per_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, build: Callable
) -> None:
    canvas = (32, 32)
    monkeypatch.setattr(animation, "_CACHED_BYTES", 3 * canvas[0] * canvas[1] * 4)  # three frames: a triplet
    work = Work(monkeypatch, animation, "_rgba_image")
    import_as_animation(tmp_path, written(tmp_path, f"small{suffix}", build(15, canvas)))
    small = work.calls["_rgba_image"]
    import_as_animation(tmp_path, written(tmp_path, f"large{suffix}", build(60, canvas)))
    assert work.calls["_rgba_image"] - small < LINEAR * small


def test_reading_frames_out_of_order_still_gives_each_frame_as_it_displays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(animation, "_CACHED_BYTES", 2 * 16 * 16 * 4)
    data = hostile.dotted_gif(12, (16, 16))
    expected = animation.decode_frames(data, "dots.gif")
    for index in (5, 6, 7, 2, 11, 0, 11, 3):
        assert animation.decode_frame(data, "dots.gif", index).tobytes() == expected[index].tobytes()


@pytest.mark.parametrize(("suffix", "build"), [(".gif", hostile.dotted_gif), (".png", hostile.dotted_apng)])
def test_tiny_frames_on_a_huge_canvas_past_the_pixel_budget_are_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, build: Callable
) -> None:
    work = Work(monkeypatch, animation, "_rgba_image")
    path = written(tmp_path, f"dots{suffix}", build(30, (9_000, 9_000)))
    with pytest.raises(BadInput) as refused:
        find_sequences([path])
    assert str(refused.value) == (
        f"{path} has 30 frames of 9000×9000 pixels, 2.4 billion pixels in all; Apprentice decodes at most "
        "2 billion from one file — cut it into shorter sequences or scale it down and add it again."
    )
    assert work.calls["_rgba_image"] == 0


# Zips of many members ----------------------------------------------------------------------------------


def test_zip_of_more_members_than_the_cap_is_refused_before_its_directory_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Work(monkeypatch, layered)
    path = written(tmp_path, "crowd.ora", hostile.crowded_zip(20_001))
    with pytest.raises(BadInput) as refused:
        layered.layer_names(path)
    assert str(refused.value) == (
        f"{path} is a zip of 20,001 files, more than the 20,000 Apprentice opens; merge or remove layers, then "
        "save it again from your drawing program."
    )
    assert training_reservations(path.read_bytes()) == []
    assert work.entries == 0


def test_zip_understating_its_member_count_is_refused_once_parsed(tmp_path: Path) -> None:
    data = bytearray(hostile.crowded_zip(20_001))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)  # the end record now claims three members
    path = written(tmp_path, "crowd.ora", bytes(data))
    with pytest.raises(BadInput, match=r"is a zip of 20,001 files, more than the 20,000 Apprentice opens"):
        layered.layer_names(path)
