"""Krita (.kra) files: maindoc.xml's canvas and paint layers, animated layers' keyframes, and Krita's LZF tiles.

An animated layer's keyframes XML names, for each keyframe's time, a file of tiles beside the layer's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats.archive import Archive, local_name
from apprentice.formats.images import check_size
from apprentice.formats.layers import MAX_KEYFRAMES, Document, Layer, check_layer_count

KRITA_CONVERT = "convert it to 8-bit RGBA in Krita (Image > Convert Image Color Space) and add it again"
KRITA_DEPTHS = (("F32", "32-bit float"), ("F16", "16-bit float"), ("16", "16-bit"))
KRITA_MODELS = (("GRAY", "grayscale"), ("CMYK", "CMYK"), ("LAB", "Lab"), ("XYZ", "XYZ"), ("YCBCR", "YCbCr"))
TILE_LINE = re.compile(r"(-?\d{1,10}),(-?\d{1,10}),LZF,(\d{1,9})")
SAFE_MEMBER = re.compile(r"[\w.\-]{1,200}")  # how Krita names a layer's files: layer3, layer3.f1, layer3.keyframes.xml
MAX_TIME = 10_000_000  # a keyframe's frame number
_AGAIN = "save it again from Krita"


def open_kra(data: bytes, name: str) -> Document:
    """Read a Krita file's maindoc.xml: canvas size and its paint layers, top to bottom."""
    archive = Archive(data, name, "a Krita file", "save it again from Krita")
    image = next((each for each in archive.xml("maindoc.xml").iter() if local_name(each.tag) == "IMAGE"), None)
    if image is None:
        raise BadInput(f"{name} has a maindoc.xml without an image, so it is damaged; save it again from Krita.")
    size = (archive.integer(image, "width", "maindoc.xml"), archive.integer(image, "height", "maindoc.xml"))
    check_size(*size, name)
    folder, space = image.get("name", ""), image.get("colorspacename", "RGBA")
    layers = [
        Layer(
            element.get("name", ""),
            f"{folder}/layers/{element.get('filename', '')}",
            archive.integer(element, "x", "maindoc.xml", "0"),
            archive.integer(element, "y", "maindoc.xml", "0"),
            element.get("colorspacename", space),
        )
        for element in image.iter()
        if local_name(element.tag) == "layer" and element.get("nodetype") == "paintlayer"
    ]
    check_layer_count(len(layers), name)
    keyframes = _keyframes(archive, image, folder)
    return Document(name, size, layers, lambda layer: _render_kra(archive, size, layer), keyframes)


def _keyframes(archive: Archive, image: Element, folder: str) -> dict[str, dict[int, Layer]]:
    """Each animated paint layer's drawings by the time their keyframe starts; refused past MAX_KEYFRAMES in all."""
    found: dict[str, dict[int, Layer]] = {}
    for element in image.iter():
        listed = element.get("keyframes")
        if local_name(element.tag) != "layer" or element.get("nodetype") != "paintlayer" or listed is None:
            continue
        layer = element.get("name", "")
        space = element.get("colorspacename", image.get("colorspacename", "RGBA"))
        frames = _layer_keyframes(archive, f"{folder}/layers/{_member(archive, listed)}", layer, space)
        found.setdefault(layer, frames)  # the topmost layer of a name, as for still layers
        if sum(map(len, found.values())) > MAX_KEYFRAMES:
            raise BadInput(
                f"{archive.name} has more than {MAX_KEYFRAMES:,} keyframes, more than Apprentice reads from one file; "
                "cut the animation into shorter documents."
            )
    return found


def _layer_keyframes(archive: Archive, member: str, layer: str, space: str) -> dict[int, Layer]:
    """One animated layer's keyframes XML: for each time, the member holding its drawing and where it lies."""
    frames: dict[int, Layer] = {}
    for channel in archive.xml(member).iter():
        if local_name(channel.tag) != "channel" or channel.get("name") != "content":
            continue
        for key in (each for each in channel if local_name(each.tag) == "keyframe"):
            time = archive.integer(key, "time", member)
            if not 0 <= time <= MAX_TIME or time in frames:
                raise BadInput(
                    f"{archive.name} has a keyframe at frame {time} that is out of place in {member}; {_AGAIN}."
                )
            offset = next((each for each in key if local_name(each.tag) == "offset"), None)
            x, y = (archive.integer(offset, axis, member, "0") for axis in "xy") if offset is not None else (0, 0)
            source = f"{member.rpartition('/')[0]}/{_member(archive, key.get('frame', ''))}"
            frames[time] = Layer(layer, source, x, y, space)
            if len(frames) > MAX_KEYFRAMES:
                break  # the caller refuses the file by name
    return dict(sorted(frames.items()))


def _member(archive: Archive, name: str) -> str:
    """A file name that maindoc.xml or a keyframes XML gives for a member beside it: a plain name, never a path."""
    if not SAFE_MEMBER.fullmatch(name) or name.startswith("."):
        raise BadInput(f"{archive.name} names a layer file {name[:80]!r} that is not a plain file name; {_AGAIN}.")
    return name


def _render_kra(archive: Archive, size: tuple[int, int], layer: Layer) -> Image.Image:
    """Decode one Krita paint layer's tiles onto a canvas filled with the layer's default pixel."""
    label = f"{archive.name} (layer {layer.name!r})"
    if layer.colour_space != "RGBA":
        raise BadInput(f"{archive.name} is a {_krita_space_words(layer.colour_space)} Krita file; {KRITA_CONVERT}.")
    data = archive.read(layer.source)
    header, position = _krita_header(data, archive.name, label)
    canvas = np.empty((size[1], size[0], 4), np.uint8)
    canvas[...] = _krita_default_pixel(archive, layer, label)
    tiles = _krita_tiles(data, position, header["DATA"], label)
    _place_tiles(canvas, tiles, (layer.x, layer.y), (header["TILEWIDTH"], header["TILEHEIGHT"]), label)
    return Image.fromarray(np.ascontiguousarray(canvas[..., [2, 1, 0, 3]]), "RGBA")


def _krita_space_words(space: str) -> str:
    """Krita's colour-space id (RGBA16, GRAYAU16, CMYKA, …) in words for a message."""
    upper = space.upper()
    depth = next((words for key, words in KRITA_DEPTHS if key in upper), "")
    model = next((words for key, words in KRITA_MODELS if upper.startswith(key)), "")
    return " ".join(word for word in (depth, model) if word) or repr(space)


def _krita_default_pixel(archive: Archive, layer: Layer, label: str) -> np.ndarray:
    """The BGRA pixel Krita fills a layer with where it stores no tiles (transparent unless saved)."""
    member = f"{layer.source}.defaultpixel"
    if not archive.has(member):
        return np.zeros(4, np.uint8)
    pixel = archive.read(member, 64)
    if len(pixel) != 4:
        raise BadInput(f"{label} has a default pixel of {len(pixel)} bytes, not 4; {KRITA_CONVERT}.")
    return np.frombuffer(pixel, np.uint8)


def _krita_header(data: bytes, file: str, label: str) -> tuple[dict[str, int], int]:
    """Parse the `KEY value` lines that open a Krita layer's tile data, up to and including `DATA n`."""
    header: dict[str, int] = {}
    position = 0
    while "DATA" not in header and len(header) < 16:
        line, position = _krita_line(data, position, label)
        key, _, value = line.partition(" ")
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise BadInput(f"{label} has damaged pixel data (header line {line!r}); save it again from Krita.")
        header[key] = int(value)
    if header.get("VERSION") != 2 or "DATA" not in header:
        raise BadInput(f"{label} was saved by a very old Krita or is damaged; save it again from a current Krita.")
    if header.get("PIXELSIZE") != 4:
        raise BadInput(f"{file} is not an 8-bit RGBA Krita file; {KRITA_CONVERT}.")
    if not (0 < header.get("TILEWIDTH", 0) <= 1024 and 0 < header.get("TILEHEIGHT", 0) <= 1024):
        raise BadInput(f"{label} has damaged pixel data (tile size); save it again from Krita.")
    return header, position


def _krita_line(data: bytes, position: int, label: str) -> tuple[str, int]:
    """One short ASCII line of Krita tile data starting at `position`, and where the next begins."""
    end = data.find(b"\n", position, position + 64)
    if end < 0:
        raise BadInput(f"{label} has pixel data that is damaged or cut short; save it again from Krita.")
    try:
        return data[position:end].decode("ascii"), end + 1
    except UnicodeDecodeError:
        raise BadInput(f"{label} has damaged pixel data; save it again from Krita.") from None


def _krita_tiles(data: bytes, position: int, count: int, label: str) -> Iterator[tuple[int, int, bytes]]:
    """Each tile's `x, y` (relative to the layer) and its payload: a flag byte, then LZF or raw pixels."""
    for _ in range(count):
        line, position = _krita_line(data, position, label)
        match = TILE_LINE.fullmatch(line)
        if match is None:
            raise BadInput(f"{label} has damaged pixel data (tile line {line!r}); save it again from Krita.")
        length = int(match[3])
        payload = data[position : position + length]
        if length == 0 or len(payload) != length:
            raise BadInput(f"{label} has pixel data that is cut short; save it again from Krita.")
        position += length
        yield int(match[1]), int(match[2]), payload


def _place_tiles(
    canvas: np.ndarray,
    tiles: Iterator[tuple[int, int, bytes]],
    origin: tuple[int, int],
    tile: tuple[int, int],
    label: str,
) -> None:
    """Decode the tiles that overlap the canvas and copy their pixels in; tiles off the canvas are skipped."""
    placed: set[tuple[int, int]] = set()
    for x, y, payload in tiles:
        left, top = origin[0] + x, origin[1] + y
        window = _overlap(canvas.shape, left, top, tile)
        if window is None:
            continue
        if (left, top) in placed:
            raise BadInput(f"{label} stores the same tile twice, so it is damaged; save it again from Krita.")
        placed.add((left, top))
        (rows, columns), (tile_rows, tile_columns) = window
        canvas[rows, columns] = _decode_tile(payload, tile, label)[tile_rows, tile_columns]


def _overlap(shape: tuple[int, ...], left: int, top: int, tile: tuple[int, int]) -> tuple[Any, Any] | None:
    """Where a tile at (left, top) lands on a canvas of `shape`: canvas slices and tile slices, or None."""
    x0, x1 = max(left, 0), min(left + tile[0], shape[1])
    y0, y1 = max(top, 0), min(top + tile[1], shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    canvas = (slice(y0, y1), slice(x0, x1))
    return canvas, (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))


def _decode_tile(payload: bytes, tile: tuple[int, int], label: str) -> np.ndarray:
    """One tile as a height×width×4 BGRA array: flag 1 is LZF of planar bytes, flag 0 raw interleaved bytes."""
    width, height = tile
    size = width * height * 4
    if payload[0] == 1:
        try:
            planar = lzf_decompress(payload[1:], size)
        except ValueError as error:
            raise BadInput(f"{label} has damaged pixel data ({error}); save it again from Krita.") from None
        if len(planar) == size:
            return np.frombuffer(planar, np.uint8).reshape(4, height, width).transpose(1, 2, 0)
    elif payload[0] == 0 and len(payload) == size + 1:
        return np.frombuffer(payload, np.uint8, offset=1).reshape(height, width, 4)
    raise BadInput(f"{label} has a tile of the wrong size, so it is damaged; save it again from Krita.")


def lzf_decompress(data: bytes, limit: int) -> bytes:
    """Undo LZF compression (as Krita uses it for tiles), refusing to produce more than `limit` bytes.

    A control byte below 32 starts a run of that many plus one literal bytes; any other is a back-reference
    of (ctrl >> 5) + 2 bytes (plus a following byte when that field is 7) at distance ((ctrl & 31) << 8 | next) + 1.
    Raises ValueError on malformed input.
    """
    out = bytearray()
    position, end = 0, len(data)
    while position < end:
        control = data[position]
        position += 1
        if control < 32:
            position = _lzf_literal(data, position, control + 1, out, limit)
        else:
            position = _lzf_reference(data, position, control, out, limit)
    return bytes(out)


def _lzf_literal(data: bytes, position: int, length: int, out: bytearray, limit: int) -> int:
    """Copy a literal run into `out`; returns the position after it."""
    if position + length > len(data):
        raise ValueError("a literal run is cut short")
    if len(out) + length > limit:
        raise ValueError(f"the data unpacks to more than {limit} bytes")
    out += data[position : position + length]
    return position + length


def _lzf_reference(data: bytes, position: int, control: int, out: bytearray, limit: int) -> int:
    """Copy a back-reference (which may overlap what it produces) into `out`; returns the position after it."""
    length = control >> 5
    extended = length == 7
    if position + extended >= len(data):
        raise ValueError("a back-reference is cut short")
    length += (data[position] if extended else 0) + 2
    start = len(out) - (((control & 31) << 8 | data[position + extended]) + 1)
    if start < 0:
        raise ValueError("a back-reference points before the start")
    if len(out) + length > limit:
        raise ValueError(f"the data unpacks to more than {limit} bytes")
    distance = len(out) - start
    out += out[start : start + length] if distance >= length else (out[start:] * (length // distance + 1))[:length]
    return position + extended + 1
