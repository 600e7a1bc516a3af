"""Layered files (PSD, Krita .kra, OpenRaster .ora): the names of their pixel layers, and one layer as pixels.

Zip-based files are read wholly in memory, unpacked under size caps and never written to disk.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from PIL import Image
from psd_tools import PSDDecompressionWarning, PSDImage

from apprentice.errors import BadInput
from apprentice.formats.images import MAX_PIXELS, check_size, decode_image

LAYERED_SUFFIXES = {".psd", ".kra", ".ora"}
MIB = 1024 * 1024
MAX_UNPACKED_BYTES = 512 * MIB  # all members of one zip together, as declared and as actually unpacked
MAX_XML_BYTES = 16 * MIB
MAX_RATIO = 200  # a member may unpack to at most this many times its packed size …
RATIO_FLOOR = 4 * MIB  # … unless it unpacks to less than this
MAX_PSD_ALLOC = 16 * MAX_PIXELS  # bytes psd-tools may allocate to render one layer
SPLIT = "scale it down or split it into several files"
KRITA_CONVERT = "convert it to 8-bit RGBA in Krita (Image > Convert Image Color Space) and add it again"
PSD_HEADER = struct.Struct(">4sH6xHIIHH")
PSD_MODES = {0: "bitmap", 1: "grayscale", 2: "indexed", 3: "RGB", 4: "CMYK", 7: "multichannel", 8: "duotone", 9: "Lab"}
PSD_READABLE = {(1, 8), (1, 16), (3, 8), (3, 16)}  # (mode, depth) that psd-tools renders faithfully with alpha
KRITA_DEPTHS = (("F32", "32-bit float"), ("F16", "16-bit float"), ("16", "16-bit"))
KRITA_MODELS = (("GRAY", "grayscale"), ("CMYK", "CMYK"), ("LAB", "Lab"), ("XYZ", "XYZ"), ("YCBCR", "YCbCr"))
TILE_LINE = re.compile(r"(-?\d{1,10}),(-?\d{1,10}),LZF,(\d{1,9})")


@dataclass(frozen=True)
class _Layer:
    """One pixel layer as its file describes it: name, where its pixels live, offset on the canvas."""

    name: str
    source: Any  # a zip member name (ORA, KRA) or a psd-tools layer (PSD)
    x: int = 0
    y: int = 0
    colour_space: str = "RGBA"


@dataclass(frozen=True)
class _Document:
    """An opened layered file: its name for messages, canvas size, pixel layers top to bottom, how to render one."""

    name: str
    size: tuple[int, int]
    layers: list[_Layer]
    render: Callable[[_Layer], Image.Image]


def is_layered(path: Path) -> bool:
    """Whether `path` names a layered file Apprentice reads (by its suffix)."""
    return Path(path).suffix.lower() in LAYERED_SUFFIXES


def layer_names(path: Path) -> list[str]:
    """Names of the pixel layers, top to bottom as the layer panel shows them.

    Groups are flattened to the pixel layers inside them; other kinds of layer (text, vector, filter,
    adjustment, file layers) are left out.
    """
    return [layer.name for layer in _load(Path(path)).layers]


def read_layer(path: Path, name: str) -> Image.Image:
    """The pixel layer called `name` as an RGBA image of the full canvas, transparent where it has no pixels.

    The layer's own pixels are placed at its offset; its opacity, visibility, blend mode and masks are
    ignored. Where two layers share the name, the topmost is read.
    """
    document = _load(Path(path))
    return document.render(_find_layer(document, name))


def decode_layer(data: bytes, name: str, layer: str) -> Image.Image:
    """`read_layer` for a layered file already in memory; `name` (its file name) picks the format and names it."""
    document = _opener(name)(data, name)
    return document.render(_find_layer(document, layer))


def _load(path: Path) -> _Document:
    """Read a layered file into memory (refusing other suffixes and oversized zips first) and open it."""
    opener = _opener(str(path))
    limit = None if path.suffix.lower() == ".psd" else MAX_UNPACKED_BYTES + 1
    try:
        with path.open("rb") as file:
            data = file.read(limit)
    except OSError as error:
        raise BadInput(f"{path} cannot be read ({error.strerror}); check that it exists.") from None
    return opener(data, str(path))


def _opener(name: str) -> Callable[[bytes, str], _Document]:
    """The function that opens a layered file of this name's suffix."""
    openers = {".psd": _open_psd, ".kra": _open_kra, ".ora": _open_ora}
    opener = openers.get(Path(name).suffix.lower())
    if opener is None:
        raise BadInput(f"{name} is not a layered file; pass a .psd, .kra or .ora file, or a folder of flat images.")
    return opener


def _find_layer(document: _Document, name: str) -> _Layer:
    """The topmost layer called `name`, or BadInput listing the layers the file has."""
    for layer in document.layers:
        if layer.name == name:
            return layer
    if not document.layers:
        raise BadInput(f"{document.name} has no pixel layers; put the drawings on pixel layers and save it again.")
    names = list(dict.fromkeys(layer.name for layer in document.layers))
    listed = ", ".join(repr(each) for each in names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    raise BadInput(f"{document.name} has no layer named {name!r}; its layers are: {listed}; pass one of those names.")


def _canvas(size: tuple[int, int], image: Image.Image | None, x: int, y: int) -> Image.Image:
    """A transparent canvas of `size` with `image` (if any) placed with its top-left corner at (x, y)."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    if image is not None and -image.width < x < size[0] and -image.height < y < size[1]:
        canvas.paste(image.convert("RGBA"), (x, y))
    return canvas


# PSD ------------------------------------------------------------------------------------------------


def _open_psd(data: bytes, name: str) -> _Document:
    """Read a PSD's header and layer records; pixels are decoded only when a layer is rendered."""
    size = _psd_canvas(data, name)
    psd = _psd_call(name, lambda: PSDImage.open(io.BytesIO(data), max_alloc_bytes=MAX_PSD_ALLOC))
    layers = [
        _Layer(layer.name, layer, layer.left, layer.top)
        for layer in reversed(list(psd.descendants()))
        if layer.kind == "pixel"
    ]
    return _Document(name, size, layers, lambda layer: _render_psd(name, size, layer))


def _psd_canvas(data: bytes, name: str) -> tuple[int, int]:
    """Check the PSD header (signature, canvas size, colour mode) before anything else is parsed."""
    if len(data) < PSD_HEADER.size or data[:4] != b"8BPS" or data[4:6] not in (b"\0\1", b"\0\2"):
        raise BadInput(f"{name} is not a Photoshop file; export it again as PSD from your drawing program.")
    _, _, _, height, width, depth, mode = PSD_HEADER.unpack_from(data)
    check_size(width, height, name)
    if (mode, depth) not in PSD_READABLE:
        raise BadInput(
            f"{name} is a {depth}-bit {PSD_MODES.get(mode, 'unusual colour mode')} Photoshop file; "
            "convert it to 8-bit RGB (Image > Mode) and add it again."
        )
    return width, height


def _render_psd(name: str, size: tuple[int, int], layer: _Layer) -> Image.Image:
    """Decode one PSD layer's pixels and place them on the canvas."""
    source = layer.source
    if source.width <= 0 or source.height <= 0:
        return _canvas(size, None, 0, 0)
    check_size(source.width, source.height, f"{name} (layer {layer.name!r})")
    image = _psd_call(name, lambda: source.topil(apply_icc=False))
    return _canvas(size, image, layer.x, layer.y)


def _psd_call(name: str, call: Callable[[], Any]) -> Any:
    """Run a psd-tools call, turning its complaints about a broken file into BadInput."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PSDDecompressionWarning)
            return call()
    except (OSError, ValueError, EOFError, struct.error, IndexError, KeyError, UnicodeDecodeError) as error:
        raise BadInput(f"{name} is damaged or cut short ({error}); save it again as PSD.") from None
    except PSDDecompressionWarning as error:
        raise BadInput(f"{name} has damaged pixel data ({error}); save it again as PSD.") from None


# Zip-based files (OpenRaster, Krita) -------------------------------------------------------------------


class _Archive:
    """A zip file held in memory, checked for path tricks and bombs, whose members unpack under caps."""

    def __init__(self, data: bytes, name: str, kind: str, fix: str):
        self.name, self.kind, self.fix = name, kind, fix
        if len(data) > MAX_UNPACKED_BYTES:
            raise BadInput(
                f"{name} is larger than the {MAX_UNPACKED_BYTES // MIB} MiB Apprentice reads safely; {SPLIT}."
            )
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise BadInput(f"{name} is damaged or not {kind} (it is not a complete zip archive); {fix}.") from None
        self._check_members()

    def _check_members(self) -> None:
        """Refuse unsafe member paths, absurd compression ratios and too much declared content."""
        total = 0
        for info in self.zip.infolist():
            if not _safe_member_name(info.filename):
                raise BadInput(f"{self.name} holds a file with an unsafe path ({info.filename!r}); {self.fix}.")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise BadInput(
                    f"{self.name} holds {info.filename!r}, which claims to grow more than {MAX_RATIO}× "
                    f"when unpacked, as zip bombs do; {self.fix}."
                )
            total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise BadInput(
                f"{self.name} unpacks to {total // MIB} MiB, more than the {MAX_UNPACKED_BYTES // MIB} MiB "
                f"Apprentice unpacks safely; {SPLIT}."
            )

    def has(self, member: str) -> bool:
        """Whether the archive holds `member`."""
        return member in self.zip.namelist()

    def read(self, member: str, limit: int = MAX_UNPACKED_BYTES) -> bytes:
        """Unpack `member` in memory, stopping as soon as it yields more than declared or than `limit`."""
        try:
            info = self.zip.getinfo(member)
        except KeyError:
            raise BadInput(f"{self.name} lacks {member!r}, so it is damaged or not {self.kind}; {self.fix}.") from None
        if info.file_size > limit:
            raise BadInput(f"{self.name} holds a {member!r} larger than Apprentice reads safely; {self.fix}.")
        return self._unpack(info)

    def _unpack(self, info: zipfile.ZipInfo) -> bytes:
        """The member's bytes, counted as they come out rather than trusted from its header."""
        chunks, total = [], 0
        try:
            with self.zip.open(info) as stream:
                while chunk := stream.read(MIB):
                    total += len(chunk)
                    if total > info.file_size:
                        raise BadInput(
                            f"{self.name} holds {info.filename!r}, which unpacks to more than its header "
                            f"says, as zip bombs do; {self.fix}."
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, NotImplementedError):
            raise BadInput(
                f"{self.name} is damaged or cut short ({info.filename!r} does not unpack); {self.fix}."
            ) from None
        return b"".join(chunks)

    def xml(self, member: str) -> Element:
        """Parse an XML member with defusedxml: entity declarations and external references are refused."""
        data = self.read(member, MAX_XML_BYTES)
        try:
            return fromstring(data)
        except DefusedXmlException:
            raise BadInput(
                f"{self.name} has a {member} that declares XML entities, which Apprentice refuses for safety; "
                f"{self.fix}."
            ) from None
        except ParseError as error:
            raise BadInput(f"{self.name} has a damaged {member} ({error}); {self.fix}.") from None

    def integer(self, element: Element, attribute: str, member: str, default: str | None = None) -> int:
        """An integer attribute of an XML element, or BadInput naming the member it came from."""
        value = element.get(attribute, default)
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BadInput(
                f"{self.name} has a damaged {member} ({attribute}={value!r} is not a whole number); {self.fix}."
            ) from None


def _safe_member_name(name: str) -> bool:
    """Whether a zip member's path stays inside the archive: relative, forward slashes, no `..`, no drive."""
    parts = name.split("/")
    return bool(name) and not (name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or ":" in parts[0])


def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


# OpenRaster ----------------------------------------------------------------------------------------------


def _open_ora(data: bytes, name: str) -> _Document:
    """Read an OpenRaster file's stack.xml: canvas size and its PNG layers, top to bottom."""
    archive = _Archive(data, name, "an OpenRaster file", "save it again from your drawing program")
    root = archive.xml("stack.xml")
    size = (archive.integer(root, "w", "stack.xml"), archive.integer(root, "h", "stack.xml"))
    check_size(*size, name)
    layers = [
        _Layer(
            element.get("name", ""),
            element.get("src"),
            archive.integer(element, "x", "stack.xml", "0"),
            archive.integer(element, "y", "stack.xml", "0"),
        )
        for element in root.iter()
        if _local(element.tag) == "layer" and element.get("src")
    ]
    return _Document(name, size, layers, lambda layer: _render_ora(archive, size, layer))


def _render_ora(archive: _Archive, size: tuple[int, int], layer: _Layer) -> Image.Image:
    """Decode one OpenRaster layer's PNG and place it on the canvas."""
    image = decode_image(archive.read(layer.source), f"{archive.name} (layer {layer.name!r})")
    return _canvas(size, image, layer.x, layer.y)


# Krita ---------------------------------------------------------------------------------------------------


def _open_kra(data: bytes, name: str) -> _Document:
    """Read a Krita file's maindoc.xml: canvas size and its paint layers, top to bottom."""
    archive = _Archive(data, name, "a Krita file", "save it again from Krita")
    image = next((each for each in archive.xml("maindoc.xml").iter() if _local(each.tag) == "IMAGE"), None)
    if image is None:
        raise BadInput(f"{name} has a maindoc.xml without an image, so it is damaged; save it again from Krita.")
    size = (archive.integer(image, "width", "maindoc.xml"), archive.integer(image, "height", "maindoc.xml"))
    check_size(*size, name)
    folder, space = image.get("name", ""), image.get("colorspacename", "RGBA")
    layers = [
        _Layer(
            element.get("name", ""),
            f"{folder}/layers/{element.get('filename', '')}",
            archive.integer(element, "x", "maindoc.xml", "0"),
            archive.integer(element, "y", "maindoc.xml", "0"),
            element.get("colorspacename", space),
        )
        for element in image.iter()
        if _local(element.tag) == "layer" and element.get("nodetype") == "paintlayer"
    ]
    return _Document(name, size, layers, lambda layer: _render_kra(archive, size, layer))


def _render_kra(archive: _Archive, size: tuple[int, int], layer: _Layer) -> Image.Image:
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


def _krita_default_pixel(archive: _Archive, layer: _Layer, label: str) -> np.ndarray:
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
