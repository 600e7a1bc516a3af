"""Importing examples: each input form, content addressing, and every bad input refused cleanly."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from apprentice.errors import BadInput
from apprentice.imports import add_examples

from conftest import counts, drawing_pair, write_pair_folder


def test_before_and_after_folders_give_one_example_per_shared_name(shop, small_task, tmp_path):
    report = add_examples(shop, small_task, [write_pair_folder(tmp_path / "pairs", 3)])
    assert sorted(report.added) == ["p0", "p1", "p2"]
    assert counts(shop) == (6, 3, 6)


def test_dotted_before_after_names_pair_up_whether_named_by_file_or_folder(shop, small_task, tmp_path):
    before, after = drawing_pair(1)
    before.save(tmp_path / "cat.before.png")
    after.save(tmp_path / "cat.after.png")
    assert add_examples(shop, small_task, [tmp_path / "cat.after.png"]).added == ["cat"]
    assert add_examples(shop, small_task, [tmp_path]).already_present == ["cat"]


def test_same_file_added_twice_is_stored_once(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 2)
    add_examples(shop, small_task, [folder])
    again = add_examples(shop, small_task, [folder])
    assert again.added == [] and sorted(again.already_present) == ["p0", "p1"] and again.new_works == 0
    assert counts(shop) == (4, 2, 4)
    blobs = [p for p in (shop.root / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 4


def test_works_are_named_by_the_sha256_of_their_bytes(shop, small_task, tmp_path):
    import hashlib

    folder = write_pair_folder(tmp_path / "pairs", 1)
    add_examples(shop, small_task, [folder])
    expected = hashlib.sha256((folder / "before" / "p0.png").read_bytes()).hexdigest()
    assert shop.catalog.row("SELECT 1 FROM works WHERE id = ?", (expected,)) is not None


def import_fails(shop, task, paths, *words, options=None) -> str:
    before = counts(shop)
    with pytest.raises(BadInput) as caught:
        add_examples(shop, task, paths, options)
    message = str(caught.value)
    assert counts(shop) == before, "a failed import must change nothing"
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_a_truncated_image_is_refused_and_nothing_of_the_import_is_stored(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 3)
    damaged = folder / "after" / "p2.png"
    damaged.write_bytes(damaged.read_bytes()[:120])
    import_fails(shop, small_task, [folder], "p2.png")


def test_a_file_that_is_not_an_image_is_refused(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 1)
    (folder / "before" / "notes.png").write_text("not a picture")
    (folder / "after" / "notes.png").write_text("not a picture")
    import_fails(shop, small_task, [folder], "notes.png", "PNG")


def test_pairs_of_different_sizes_are_refused_with_both_sizes(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 1)
    Image.new("RGB", (50, 40), "white").save(folder / "after" / "p0.png")
    import_fails(shop, small_task, [folder], "48×40", "50×40", "same size")


def test_an_empty_folder_is_refused(shop, small_task, tmp_path):
    (tmp_path / "empty").mkdir()
    import_fails(shop, small_task, [tmp_path / "empty"], "empty", "before/")


def test_a_before_without_its_after_is_refused(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 2)
    (folder / "after" / "p1.png").unlink()
    import_fails(shop, small_task, [folder], "p1.png", "partner")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas: a decompression bomb's calling card."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_an_absurdly_large_image_is_refused_before_decoding(shop, small_task, tmp_path):
    folder = write_pair_folder(tmp_path / "pairs", 1)
    (folder / "before" / "p0.png").write_bytes(png_claiming(40000, 40000))
    (folder / "after" / "p0.png").write_bytes(png_claiming(40000, 40000))
    import_fails(shop, small_task, [folder], "p0.png", "larger than", "scale it down")


def test_a_missing_path_is_named(shop, small_task, tmp_path):
    import_fails(shop, small_task, [tmp_path / "nowhere"], "nowhere", "does not exist")


def test_a_lone_image_without_before_or_after_in_its_name_is_refused(shop, small_task, tmp_path):
    drawing_pair(0)[0].save(tmp_path / "lonely.png")
    import_fails(shop, small_task, [tmp_path / "lonely.png"], "lonely.png", "X.before.png")


@pytest.mark.parametrize("suffix", [".ora", ".kra", ".psd"])
def test_layered_files_give_a_pair_from_the_two_named_layers(shop, small_task, tmp_path, suffix):
    import layered_files

    before, after = drawing_pair(3)
    path = tmp_path / f"page{suffix}"
    writer = {".ora": layered_files.write_ora, ".kra": layered_files.write_kra, ".psd": layered_files.write_psd}[suffix]
    writer(path, {"rough": before.convert("RGBA"), "clean": after.convert("RGBA")})
    report = add_examples(shop, small_task, [path], {"before_layer": "rough", "after_layer": "clean"})
    assert report.added == ["page"]
    assert counts(shop) == (1, 1, 2)  # one work: the layered file holds both sides


def test_a_layered_file_without_the_named_layer_lists_the_layers_it_has(shop, small_task, tmp_path):
    import layered_files

    before, after = drawing_pair(3)
    layered_files.write_ora(tmp_path / "page.ora", {"rough": before.convert("RGBA"), "ink": after.convert("RGBA")})
    options = {"before_layer": "rough", "after_layer": "clean"}
    import_fails(shop, small_task, [tmp_path / "page.ora"], "page.ora", "'clean'", "'rough'", "'ink'", options=options)


def test_a_layered_file_names_its_layers_when_no_layers_are_given(shop, small_task, tmp_path: Path):
    import layered_files

    before, after = drawing_pair(3)
    layered_files.write_ora(tmp_path / "page.ora", {"rough": before.convert("RGBA"), "ink": after.convert("RGBA")})
    with pytest.raises(BadInput, match="--before-layer"):
        add_examples(shop, small_task, [tmp_path / "page.ora"])
