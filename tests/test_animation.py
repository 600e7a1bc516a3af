"""Animated files: every frame as it displays, holds and metadata kept, one clear sentence for a bad file."""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import GifImagePlugin, Image, features

from apprentice.errors import BadInput
from apprentice.formats import animation
from apprentice.formats.animation import (
    decode_frame,
    decode_frames,
    frame_count,
    frame_durations,
    is_animation,
    read_animation_metadata,
    write_animation,
)

CANVAS = (24, 20)
CLEAR = (0, 0, 0, 0)
RED, GREEN, BLUE, WHITE = (220, 0, 0, 255), (0, 160, 0, 255), (0, 0, 200, 255), (255, 255, 255, 255)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WRITTEN = [".gif", ".png", ".apng"]


def flat(*boxes: tuple[tuple[int, int, int, int], tuple[int, int, int, int]]) -> Image.Image:
    """A transparent canvas with flat-coloured rectangles: (box, colour) each."""
    image = Image.new("RGBA", CANVAS, CLEAR)
    for box, colour in boxes:
        image.paste(colour, box)
    return image


def walk_cycle() -> list[Image.Image]:
    """Four flat drawings on a transparent canvas, the second held for a frame."""
    return [
        flat(((2, 2, 10, 12), RED)),
        flat(((6, 3, 14, 13), RED), ((0, 16, 24, 20), GREEN)),
        flat(((6, 3, 14, 13), RED), ((0, 16, 24, 20), GREEN)),
        flat(((10, 4, 18, 14), BLUE), ((20, 0, 24, 4), WHITE)),
    ]


def array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def same_pixels(got: list[Image.Image], expected: list[Image.Image]) -> bool:
    return len(got) == len(expected) and all(a.tobytes() == b.tobytes() for a, b in zip(got, expected, strict=True))


# ---------------------------------------------------------------- files built by hand, block by block


def indexed(size: tuple[int, int], colour: tuple[int, ...]) -> Image.Image:
    """A palette image filled with index 1 (`colour`); index 0 is the transparent entry."""
    image = Image.new("P", size, 1)
    image.putpalette(bytes([0, 0, 0, *colour[:3]]))
    return image


def gif_bytes(first: Image.Image, patches: list[tuple[Image.Image, tuple[int, int], int]]) -> bytes:
    """A GIF whose later frames are small patches at offsets: (patch, offset, disposal method) each."""
    header, _ = GifImagePlugin.getheader(first.copy(), info={"loop": 0})
    parts = [*header, *GifImagePlugin.getdata(first, duration=100, transparency=0, disposal=1)]
    for patch, offset, disposal in patches:
        parts += GifImagePlugin.getdata(
            patch, offset, duration=100, transparency=0, disposal=disposal, include_color_table=True
        )
    return b"".join([*parts, b";"])


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], len(PNG_SIGNATURE)
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def image_data(patch: Image.Image) -> bytes:
    """The zlib stream of `patch` saved as an 8-bit RGBA PNG."""
    buffer = io.BytesIO()
    patch.save(buffer, "PNG")
    return b"".join(body for kind, body in png_chunks(buffer.getvalue()) if kind == b"IDAT")


def apng_bytes(frames: list[tuple[Image.Image, tuple[int, int], int, int]]) -> bytes:
    """An APNG on CANVAS built chunk by chunk: (RGBA patch, offset, dispose op, blend op) each, 1/10 s."""
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", *CANVAS, 8, 6, 0, 0, 0)),
        (b"acTL", struct.pack(">II", len(frames), 0)),
    ]
    sequence = itertools.count()
    for number, (patch, (left, top), dispose, blend) in enumerate(frames):
        control = struct.pack(">IIIIIHHBB", next(sequence), *patch.size, left, top, 1, 10, dispose, blend)
        chunks.append((b"fcTL", control))
        data = image_data(patch)
        chunks.append((b"IDAT", data) if number == 0 else (b"fdAT", struct.pack(">I", next(sequence)) + data))
    chunks.append((b"IEND", b""))
    return PNG_SIGNATURE + b"".join(chunk(kind, body) for kind, body in chunks)


# ---------------------------------------------------------------- writing and reading back


@pytest.mark.parametrize("suffix", WRITTEN)
def test_written_frames_read_back_exactly(tmp_path: Path, suffix: str) -> None:
    frames, path = walk_cycle(), tmp_path / f"walk{suffix}"
    write_animation(frames, path, [80, 120, 120, 200], {})
    data = path.read_bytes()
    assert same_pixels(decode_frames(data, path.name), frames)
    assert frame_durations(data, path.name) == [80, 120, 120, 200]
    assert is_animation(path)


@pytest.mark.parametrize("suffix", WRITTEN)
def test_held_frames_stay_frames_of_their_own(tmp_path: Path, suffix: str) -> None:
    first, second = walk_cycle()[0], walk_cycle()[3]
    frames, path = [first, first, first, second, second], tmp_path / f"hold{suffix}"
    write_animation(frames, path, 100, {})
    data = path.read_bytes()
    assert frame_count(data, path.name) == 5
    assert Image.open(path).n_frames == 5  # Pillow's own reader agrees
    assert frame_durations(data, path.name) == [100] * 5
    assert same_pixels(decode_frames(data, path.name), frames)


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_metadata_round_trips(tmp_path: Path, suffix: str) -> None:
    metadata = {"apprentice": "inker-2", "artist": "Zoë Ødegård", "made_with": "Apprentice 0.4 (a=b)"}
    path = tmp_path / f"tween{suffix}"
    write_animation(walk_cycle(), path, 100, metadata)
    assert read_animation_metadata(path) == metadata


def test_gif_keeps_255_flat_colours_exactly(tmp_path: Path) -> None:
    colours = np.arange(255, dtype=np.uint8)
    pixels = np.zeros((CANVAS[1], CANVAS[0], 4), np.uint8)
    pixels.reshape(-1, 4)[:255] = np.stack([colours, 255 - colours, colours // 2, np.full(255, 255)], axis=1)
    frames, path = [Image.fromarray(pixels), walk_cycle()[0]], tmp_path / "palette.gif"
    write_animation(frames, path, 100, {})
    assert same_pixels(decode_frames(path.read_bytes(), path.name), frames)


def test_gif_reduces_more_colours_without_dithering(tmp_path: Path) -> None:
    blocks = np.random.default_rng(7).integers(0, 256, (20, 24, 3), dtype=np.uint8)  # 480 colours
    pixels = np.full((40, 48, 4), 255, np.uint8)
    pixels[..., :3] = blocks.repeat(2, axis=0).repeat(2, axis=1)  # each colour a 2×2 block
    path = tmp_path / "confetti.gif"
    write_animation([Image.fromarray(pixels), Image.new("RGBA", (48, 40), WHITE)], path, 100, {})
    shown = array(decode_frames(path.read_bytes(), path.name)[0]).astype(int)
    assert len(np.unique(shown.reshape(-1, 4), axis=0)) <= 255
    assert np.abs(shown - pixels).mean() < 12
    # without dithering every block stays one flat colour: no error is spread onto its neighbours
    assert (shown[0::2] == shown[1::2]).all() and (shown[:, 0::2] == shown[:, 1::2]).all()


def test_gif_alpha_is_on_or_off_at_128(tmp_path: Path) -> None:
    frame = flat(((0, 0, 12, 20), (10, 20, 30, 127)), ((12, 0, 24, 20), (10, 20, 30, 128)))
    path = tmp_path / "alpha.gif"
    write_animation([frame, walk_cycle()[0]], path, 100, {})
    shown = array(decode_frames(path.read_bytes(), path.name)[0])
    assert (shown[:, :12] == CLEAR).all()
    assert (shown[:, 12:] == (10, 20, 30, 255)).all()


def test_writing_refuses_a_format_it_does_not_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=".webp"):
        write_animation(walk_cycle(), tmp_path / "walk.webp", 100, {})
    assert not (tmp_path / "walk.webp").exists()


# ---------------------------------------------------------------- frames as they display


def test_gif_patches_composite_as_displayed() -> None:
    first = indexed(CANVAS, GREEN)
    first.paste(0, (12, 0, 24, 20))  # right half transparent
    red_patch = indexed((6, 4), RED)
    red_patch.paste(0, (0, 0, 1, 4))  # its left column transparent: the green below shows through
    data = gif_bytes(
        first,
        [
            (red_patch, (9, 8), 3),  # then restore what was there before
            (indexed((2, 2), BLUE), (0, 0), 2),  # then clear to the (transparent) background
            (indexed((2, 2), WHITE), (22, 18), 1),  # then leave in place
        ],
    )
    shown = [flat(((0, 0, 12, 20), GREEN))]
    shown.append(flat(((0, 0, 12, 20), GREEN), ((10, 8, 15, 12), RED)))
    shown.append(flat(((0, 0, 12, 20), GREEN), ((0, 0, 2, 2), BLUE)))
    shown.append(flat(((0, 0, 12, 20), GREEN), ((0, 0, 2, 2), CLEAR), ((22, 18, 24, 20), WHITE)))
    assert same_pixels(decode_frames(data, "walk.gif"), shown)
    assert decode_frame(data, "walk.gif", 2).tobytes() == shown[2].tobytes()


def test_apng_blend_and_dispose_ops_composite_as_displayed() -> None:
    half_blue = Image.new("RGBA", (10, 6), (0, 0, 255, 128))
    data = apng_bytes(
        [
            (flat(((4, 4, 12, 12), RED)), (0, 0), 0, 0),
            (half_blue, (8, 8), 1, 1),  # drawn over, then cleared
            (Image.new("RGBA", (4, 4), GREEN), (0, 0), 2, 0),  # replaces, then restores what was there
            (Image.new("RGBA", (2, 2), WHITE), (20, 16), 0, 1),
        ]
    )
    frames = [array(frame) for frame in decode_frames(data, "tween.png")]

    over = array(flat(((4, 4, 12, 12), RED))).copy()
    over[8:14, 8:18] = (0, 0, 255, 128)  # half-transparent blue over nothing stays half transparent
    over[8:12, 8:12] = (220 * 127 / 255, 0, 255 * 128 / 255, 255)  # over opaque red: a mix, still opaque
    assert np.abs(frames[1].astype(int) - over).max() <= 1
    red_left = (((4, 4, 12, 12), RED), ((8, 8, 18, 14), CLEAR))  # what the blue frame's clearing leaves
    assert (frames[0] == array(flat(((4, 4, 12, 12), RED)))).all()
    assert (frames[2] == array(flat(*red_left, ((0, 0, 4, 4), GREEN)))).all()
    assert (frames[3] == array(flat(*red_left, ((20, 16, 22, 18), WHITE)))).all()
    assert frame_durations(data, "tween.png") == [100] * 4
    assert np.array_equal(array(decode_frame(data, "tween.png", 1)), frames[1])


def test_apng_default_image_is_not_a_frame() -> None:
    data = apng_bytes([(flat(((2, 2, 6, 6), RED)), (0, 0), 0, 0), (flat(((8, 8, 12, 12), BLUE)), (0, 0), 0, 0)])
    chunks = png_chunks(data)
    first_control = next(i for i, (kind, _) in enumerate(chunks) if kind == b"fcTL")
    del chunks[first_control]  # the IDAT image now stands apart from the animation
    chunks[1] = (b"acTL", struct.pack(">II", 1, 0))
    data = PNG_SIGNATURE + b"".join(chunk(kind, body) for kind, body in chunks)
    assert frame_count(data, "cover.png") == 1
    assert decode_frames(data, "cover.png")[0].tobytes() == flat(((8, 8, 12, 12), BLUE)).tobytes()


@pytest.mark.skipif(
    not (
        features.check_feature("webp_anim")
        if "webp_anim" in features.features  # Pillow < 11 names animated WebP as a feature of its own
        else features.check_module("webp")
    ),
    reason="this Pillow cannot write animated WebP",
)
def test_animated_webp_frames_and_durations_read(tmp_path: Path) -> None:
    frames = [flat(((0, 0, 24, 20), WHITE), box) for box in [((2, 2, 10, 12), RED), ((8, 4, 18, 14), BLUE)]]
    path = tmp_path / "walk.webp"
    frames[0].save(path, "WEBP", save_all=True, append_images=frames[1:], duration=[90, 150], lossless=True)
    data = path.read_bytes()
    assert frame_count(data, path.name) == 2
    assert frame_durations(data, path.name) == [90, 150]
    assert same_pixels(decode_frames(data, path.name), frames)
    assert is_animation(path)


def test_still_png_is_one_frame_and_no_animation(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    walk_cycle()[1].save(path)
    data = path.read_bytes()
    assert frame_count(data, path.name) == 1
    assert frame_durations(data, path.name) == [100]
    assert same_pixels(decode_frames(data, path.name), [walk_cycle()[1]])
    assert not is_animation(path)


def test_is_animation_needs_a_known_suffix_and_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "walk.gif"
    write_animation(walk_cycle(), path, 100, {})
    renamed = tmp_path / "walk.bin"
    renamed.write_bytes(path.read_bytes())
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a not really")
    assert is_animation(path)
    assert not is_animation(renamed)
    assert not is_animation(broken)
    assert not is_animation(tmp_path / "missing.gif")


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize("index", [4, -1])
def test_frame_out_of_range_is_refused_naming_the_file(tmp_path: Path, index: int) -> None:
    path = tmp_path / "walk.gif"
    write_animation(walk_cycle(), path, 100, {})
    with pytest.raises(BadInput, match=r"walk\.gif has 4 frames, so there is no frame") as error:
        decode_frame(path.read_bytes(), path.name, index)
    assert "from 0 to 3" in str(error.value)


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_file_cut_short_is_refused_naming_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"walk{suffix}"
    write_animation(walk_cycle(), path, 100, {})
    data = path.read_bytes()[: len(path.read_bytes()) * 2 // 3]
    for read in (frame_count, decode_frames, frame_durations):
        with pytest.raises(BadInput, match=rf"walk\{suffix} is damaged or cut short .*; export it again\."):
            read(data, path.name)


def test_png_chunk_that_fails_its_checksum_is_refused() -> None:
    data = bytearray(apng_bytes([(walk_cycle()[0], (0, 0), 0, 0), (walk_cycle()[3], (0, 0), 0, 0)]))
    data[-30] ^= 0xFF  # a byte inside the last frame's data
    with pytest.raises(BadInput, match=r"tween\.png is damaged .*checksum"):
        decode_frames(bytes(data), "tween.png")


def test_not_an_image_is_refused_naming_the_file() -> None:
    with pytest.raises(BadInput, match=r"notes\.gif is not an image Apprentice can read"):
        frame_count(b"just some text, not pixels", "notes.gif")


def test_too_many_frames_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(animation, "MAX_FRAMES", 3)
    for suffix in (".gif", ".png"):
        path = tmp_path / f"long{suffix}"
        write_animation(walk_cycle(), path, 100, {})
        with pytest.raises(BadInput, match=rf"long\{suffix} has 4 frames, more than the 3 .*shorter clips"):
            decode_frames(path.read_bytes(), path.name)


def test_huge_canvas_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "walk.gif"
    write_animation(walk_cycle(), path, 100, {})
    gif = bytearray(path.read_bytes())
    gif[6:10] = struct.pack("<HH", 60000, 60000)
    with pytest.raises(BadInput, match=r"huge\.gif .*larger than Apprentice decodes safely"):
        frame_count(bytes(gif), "huge.gif")
    chunks = png_chunks(apng_bytes([(walk_cycle()[0], (0, 0), 0, 0)]))
    chunks[0] = (b"IHDR", struct.pack(">II", 12000, 10000) + chunks[0][1][8:])
    png = PNG_SIGNATURE + b"".join(chunk(kind, body) for kind, body in chunks)
    with pytest.raises(BadInput, match=r"huge\.png is 12000×10000 pixels"):
        decode_frames(png, "huge.png")
