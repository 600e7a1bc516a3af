"""Layered files: layer names, exact pixels at their offsets, and one clear sentence for every bad file."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats.krita import lzf_decompress
from apprentice.formats.layered import decode_layer, is_layered, layer_names, read_layer

from layered_files import (
    declare_size,
    krita_maindoc,
    lzf_compress,
    png_bytes,
    write_kra,
    write_ora,
    write_psd,
    write_zip,
)

WRITERS = {".psd": write_psd, ".kra": write_kra, ".ora": write_ora}
CANVAS = (40, 30)


def noise(seed: int, size: tuple[int, int] = CANVAS) -> Image.Image:
    """Random RGBA pixels, alpha included, so any channel mix-up or shift shows."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8), "RGBA")


def drawing(size: tuple[int, int] = CANVAS) -> Image.Image:
    """Flat shapes and stripes, which LZF compresses with long back-references."""
    pixels = np.zeros((size[1], size[0], 4), np.uint8)
    pixels[4:20, 3:30] = (200, 10, 50, 255)
    pixels[::3, :] = (1, 2, 3, 128)
    pixels[:, 35:] = (0, 255, 0, 77)
    return Image.fromarray(pixels, "RGBA")


def placed(image: Image.Image, offset: tuple[int, int], size: tuple[int, int] = CANVAS) -> np.ndarray:
    """What a layer should read as: `image` at `offset` on a transparent canvas, clipped to it."""
    canvas = np.zeros((size[1], size[0], 4), np.uint8)
    pixels = np.asarray(image)
    x, y = offset
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + image.width, size[0]), min(y + image.height, size[1])
    canvas[y0:y1, x0:x1] = pixels[y0 - y : y1 - y, x0 - x : x1 - x]
    return canvas


def rgba(image: Image.Image) -> np.ndarray:
    assert image.mode == "RGBA" and image.size == CANVAS
    return np.asarray(image)


def two_layer_file(tmp_path: Path, suffix: str) -> Path:
    path = tmp_path / f"page1{suffix}"
    WRITERS[suffix](path, {"rough": noise(1), "ink": drawing()})
    return path


def ora_with_stack(tmp_path: Path, stack: bytes, members: dict[str, bytes] | None = None) -> Path:
    path = tmp_path / "page.ora"
    write_zip(path, {"mimetype": b"image/openraster", "stack.xml": stack, **(members or {})})
    return path


STACK = b'<image w="40" h="30"><stack><layer name="ink" src="data/ink.png" x="0" y="0"/></stack></image>'


# Names and pixels -------------------------------------------------------------------------------------


def test_is_layered_recognises_psd_kra_and_ora_by_suffix() -> None:
    assert all(is_layered(Path(f"a/page{suffix}")) for suffix in (".psd", ".KRA", ".ora"))
    assert not any(is_layered(Path(f"page{suffix}")) for suffix in (".png", ".zip", ""))


@pytest.mark.parametrize("suffix", [".kra", ".ora"])
def test_layer_names_run_top_to_bottom_with_groups_flattened(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"page{suffix}"
    layers = {"sketch": noise(1), "ink": noise(2), "flats": noise(3), "Background": noise(4)}
    WRITERS[suffix](path, layers, grouped={"ink", "flats"})
    assert layer_names(path) == ["sketch", "ink", "flats", "Background"]


def test_psd_layer_names_run_top_to_bottom(tmp_path: Path) -> None:
    path = tmp_path / "page.psd"
    write_psd(path, {"ink": noise(1), "rough": noise(2), "Background": noise(3)})
    assert layer_names(path) == ["ink", "rough", "Background"]


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_layer_round_trips_pixels_exactly(tmp_path: Path, suffix: str) -> None:
    path = two_layer_file(tmp_path, suffix)
    assert np.array_equal(rgba(read_layer(path, "rough")), np.asarray(noise(1)))
    assert np.array_equal(rgba(read_layer(path, "ink")), np.asarray(drawing()))


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_layer_round_trips_pixels_at_its_offset_clipped_to_the_canvas(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"page{suffix}"
    small, edge = noise(5, (12, 9)), drawing((30, 20))
    WRITERS[suffix](path, {"small": small, "edge": edge}, offsets={"small": (7, 4), "edge": (-6, 17)}, size=CANVAS)
    assert np.array_equal(rgba(read_layer(path, "small")), placed(small, (7, 4)))
    assert np.array_equal(rgba(read_layer(path, "edge")), placed(edge, (-6, 17)))


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_decode_layer_reads_a_layer_from_the_files_bytes_by_its_name(tmp_path: Path, suffix: str) -> None:
    data = two_layer_file(tmp_path, suffix).read_bytes()
    assert np.array_equal(rgba(decode_layer(data, f"page1{suffix}", "ink")), np.asarray(drawing()))
    with pytest.raises(BadInput, match=f"^page1{suffix} has no layer named 'clean'"):
        decode_layer(data, f"page1{suffix}", "clean")


def test_kra_layer_round_trips_pixels_at_its_offset_from_lzf_tiles_at_negative_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    ink = drawing((40, 30))
    write_kra(path, {"ink": ink}, offsets={"ink": (5, 3)}, device_origin=(-30, -70), compressed=True)
    with zipfile.ZipFile(path) as archive:
        tiles = archive.read("page/layers/layer0")
    assert b"\n-64,-128,LZF," in tiles and b"LZF,16385\n" not in tiles  # negative tiles, all LZF-compressed
    assert np.array_equal(rgba(read_layer(path, "ink")), placed(ink, (5, 3)))


def test_kra_raw_tiles_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    write_kra(path, {"rough": noise(7), "ink": drawing()}, offsets={"ink": (9, 2)}, compressed=False)
    assert np.array_equal(rgba(read_layer(path, "rough")), np.asarray(noise(7)))
    assert np.array_equal(rgba(read_layer(path, "ink")), placed(drawing(), (9, 2)))


def test_kra_area_without_tiles_takes_the_layers_default_pixel(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    white = bytes([255, 255, 255, 255])
    paper = Image.new("RGBA", (10, 10), (255, 255, 255, 255))
    write_kra(path, {"Background": paper}, size=CANVAS, default_pixels={"Background": white})
    with zipfile.ZipFile(path) as archive:
        assert archive.read("page/layers/layer0").endswith(b"DATA 0\n")
    assert (rgba(read_layer(path, "Background")) == 255).all()


def test_kra_default_pixel_is_stored_blue_green_red_alpha(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    write_kra(path, {"paper": noise(1, (4, 4))}, size=CANVAS, default_pixels={"paper": bytes([10, 20, 30, 40])})
    pixels = rgba(read_layer(path, "paper"))
    assert pixels[29, 39].tolist() == [30, 20, 10, 40]
    assert np.array_equal(pixels[:4, :4], np.asarray(noise(1, (4, 4))))


# LZF -----------------------------------------------------------------------------------------------------


def test_lzf_decompresses_literals_and_overlapping_back_references() -> None:
    # literal "ab", then 7 bytes from distance 2 (overlapping), then 9 + 4 bytes from distance 1
    data = bytes([1]) + b"ab" + bytes([5 << 5, 1]) + bytes([7 << 5, 4, 0])
    assert lzf_decompress(data, 100) == b"ababababa" + b"a" * 13


@pytest.mark.parametrize("data", [bytes(16384), b"abcabcabcabd" * 200, np.random.default_rng(3).bytes(5000), b"x", b""])
def test_lzf_round_trips_what_the_test_compressor_writes(data: bytes) -> None:
    assert lzf_decompress(lzf_compress(data), len(data)) == data


@pytest.mark.parametrize(
    "data",
    [bytes([0, 97, 1 << 5, 1]), bytes([4]) + b"ab", bytes([0, 97, 7 << 5]), bytes([0, 97, 1 << 5])],
    ids=["reference-before-start", "literal-cut-short", "long-reference-cut-short", "reference-cut-short"],
)
def test_lzf_refuses_malformed_input(data: bytes) -> None:
    with pytest.raises(ValueError):
        lzf_decompress(data, 100)


def test_lzf_stops_at_the_output_cap() -> None:
    with pytest.raises(ValueError, match="more than 64 bytes"):
        lzf_decompress(lzf_compress(bytes(16384)), 64)


# Errors a user can fix --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_missing_layer_error_lists_the_layers_the_file_has(tmp_path: Path, suffix: str) -> None:
    path = two_layer_file(tmp_path, suffix)
    with pytest.raises(BadInput) as caught:
        read_layer(path, "clean")
    assert (
        str(caught.value)
        == f"{path} has no layer named 'clean'; its layers are: 'rough', 'ink'; pass one of those names."
    )


def test_file_without_pixel_layers_says_so(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, b'<image w="40" h="30"><stack/></image>')
    assert layer_names(path) == []
    with pytest.raises(BadInput, match="page.ora has no pixel layers"):
        read_layer(path, "ink")


def test_kra_in_16_bit_colour_is_refused_with_how_to_convert_it(tmp_path: Path) -> None:
    path = tmp_path / "page1.kra"
    write_kra(path, {"rough": noise(1), "ink": noise(2)}, colour_space="RGBA16")
    assert layer_names(path) == ["rough", "ink"]
    with pytest.raises(BadInput) as caught:
        read_layer(path, "ink")
    assert str(caught.value) == (
        f"{path} is a 16-bit Krita file; convert it to 8-bit RGBA in Krita "
        "(Image > Convert Image Color Space) and add it again."
    )


@pytest.mark.parametrize(
    ("space", "words"), [("RGBAF32", "32-bit float"), ("GRAYA", "grayscale"), ("CMYKAU16", "16-bit CMYK")]
)
def test_kra_in_other_colour_spaces_is_refused_naming_them(tmp_path: Path, space: str, words: str) -> None:
    path = tmp_path / "page.kra"
    write_kra(path, {"ink": noise(1)}, colour_space=space)
    with pytest.raises(BadInput, match=f"page.kra is a {words} Krita file; convert it to 8-bit RGBA"):
        read_layer(path, "ink")


def test_kra_without_maindoc_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    write_zip(path, {"mimetype": b"application/x-krita"})
    with pytest.raises(BadInput, match="page.kra lacks 'maindoc.xml', so it is damaged or not a Krita file"):
        layer_names(path)


def test_kra_with_tile_data_cut_short_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "whole.kra"
    write_kra(source, {"ink": drawing()})
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members["page/layers/layer0"] = members["page/layers/layer0"][:-40]
    path = tmp_path / "page.kra"
    write_zip(path, members)
    with pytest.raises(BadInput, match=r"page.kra \(layer 'ink'\) has pixel data that is cut short"):
        read_layer(path, "ink")


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_truncated_file_is_refused_in_one_sentence(tmp_path: Path, suffix: str) -> None:
    path = two_layer_file(tmp_path, suffix)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInput, match=rf"page1\{suffix} is damaged .*; save it again [^;]*\.$"):
        read_layer(path, "ink")


@pytest.mark.parametrize("suffix", [".psd", ".kra", ".ora"])
def test_file_of_another_kind_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"page{suffix}"
    path.write_bytes(png_bytes(noise(1)))
    with pytest.raises(BadInput, match=rf"page\{suffix} is (damaged or )?not a"):
        layer_names(path)


def test_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot be read"):
        layer_names(tmp_path / "gone.kra")


def test_flat_image_suffix_is_not_read_as_layered(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="page.png is not a layered file"):
        layer_names(tmp_path / "page.png")


# Hostile files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["../evil.png", "/etc/evil.png", "data\\..\\evil.png", "C:/evil.png"])
def test_zip_member_with_a_path_trick_is_refused_and_nothing_is_written(tmp_path: Path, member: str) -> None:
    stack = STACK.replace(b"data/ink.png", member.encode())
    path = ora_with_stack(tmp_path, stack, {member: png_bytes(noise(1))})
    before = sorted(tmp_path.parent.rglob("*evil*"))
    with pytest.raises(BadInput, match="unsafe path"):
        read_layer(path, "ink")
    assert sorted(tmp_path.parent.rglob("*evil*")) == before


def test_zip_member_claiming_an_absurd_compression_ratio_is_refused_before_reading(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, STACK, {"data/ink.png": png_bytes(noise(1))})
    declare_size(path, "data/ink.png", 0xFFFF0000)
    with pytest.raises(BadInput, match="page.ora holds 'data/ink.png', which claims to grow more than 200×"):
        layer_names(path)


def test_zip_declaring_more_than_the_unpack_cap_in_total_is_refused_before_reading(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, STACK, {"data/ink.png": png_bytes(noise(1))})
    declare_size(path, "data/ink.png", 600 * 1024 * 1024, packed=300 * 1024 * 1024)
    with pytest.raises(BadInput, match="page.ora unpacks to 600 MiB, more than the 512 MiB Apprentice unpacks"):
        layer_names(path)


def test_zip_bomb_of_zlib_compressed_zeros_is_refused(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, STACK, {"data/ink.png": bytes(32 * 1024 * 1024)})
    with pytest.raises(BadInput, match="claims to grow more than 200× when unpacked"):
        layer_names(path)


def test_zip_member_unpacking_to_more_than_its_header_says_is_refused(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, STACK, {"data/ink.png": bytes(8 * 1024 * 1024)})
    declare_size(path, "data/ink.png", 1000)
    with pytest.raises(BadInput, match="page.ora (is damaged or cut short|holds 'data/ink.png', which unpacks)"):
        read_layer(path, "ink")


def test_zip_bomb_inside_krita_layer_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "page.kra"
    maindoc = krita_maindoc({"ink": noise(1)}, {}, CANVAS, set(), "RGBA")
    write_zip(path, {"maindoc.xml": maindoc, "page/layers/layer0": bytes(32 * 1024 * 1024)})
    with pytest.raises(BadInput, match="page.kra holds 'page/layers/layer0', which claims .* as zip bombs do"):
        read_layer(path, "ink")


def test_billion_laughs_in_stack_xml_is_refused(tmp_path: Path) -> None:
    entities = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    stack = f'<?xml version="1.0"?><!DOCTYPE image [<!ENTITY l0 "lol">{entities}]><image w="40" h="30">&l9;</image>'
    path = ora_with_stack(tmp_path, stack.encode())
    with pytest.raises(BadInput, match="page.ora has a stack.xml that declares XML entities"):
        layer_names(path)


def test_external_entity_in_maindoc_is_refused(tmp_path: Path) -> None:
    maindoc = b'<?xml version="1.0"?><!DOCTYPE DOC [<!ENTITY x SYSTEM "file:///etc/passwd">]><DOC>&x;</DOC>'
    path = tmp_path / "page.kra"
    write_zip(path, {"mimetype": b"application/x-krita", "maindoc.xml": maindoc})
    with pytest.raises(BadInput, match="page.kra has a maindoc.xml that declares XML entities"):
        layer_names(path)


def test_malformed_xml_is_refused(tmp_path: Path) -> None:
    path = ora_with_stack(tmp_path, b'<image w="40" h="30"><stack>')
    with pytest.raises(BadInput, match="page.ora has a damaged stack.xml"):
        layer_names(path)


@pytest.mark.parametrize("suffix", [".kra", ".ora"])
def test_absurd_declared_canvas_is_refused_before_any_pixels(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"page{suffix}"
    WRITERS[suffix](path, {"ink": noise(1)}, size=(200_000, 100_000))
    with pytest.raises(BadInput, match=rf"page\{suffix} is 200000×100000 pixels, more than"):
        layer_names(path)


def test_psd_with_an_absurd_canvas_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "page.psd"
    write_psd(path, {"ink": noise(1)})
    header = bytearray(path.read_bytes())
    header[14:22] = (30_000).to_bytes(4, "big") + (30_000).to_bytes(4, "big")
    path.write_bytes(bytes(header))
    with pytest.raises(BadInput, match=r"page.psd is 30000×30000 pixels, more than"):
        read_layer(path, "ink")


def test_ora_layer_png_with_absurd_size_is_refused(tmp_path: Path) -> None:
    png = bytearray(png_bytes(Image.new("RGBA", (1, 1))))
    png[16:24] = (50_000).to_bytes(4, "big") + (50_000).to_bytes(4, "big")  # IHDR width, height
    png[29:33] = zlib.crc32(png[12:29]).to_bytes(4, "big")
    path = ora_with_stack(tmp_path, STACK, {"data/ink.png": bytes(png)})
    with pytest.raises(BadInput, match=r"page.ora \(layer 'ink'\) claims to be larger than Apprentice decodes safely"):
        read_layer(path, "ink")
