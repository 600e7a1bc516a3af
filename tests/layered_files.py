"""Write small but real PSD, Krita and OpenRaster files for tests, and zips with tricks in them.

Layers are given top to bottom as a dict of name → RGBA image; `offsets` places a layer's top-left corner.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
from PIL import Image
from psd_tools import PSDImage
from psd_tools.api.layers import PixelLayer

Layers = dict[str, Image.Image]
Offsets = dict[str, tuple[int, int]]
KRITA_DOCTYPE = "<!DOCTYPE DOC PUBLIC '-//KDE//DTD krita 2.0//EN' 'http://www.calligra.org/DTD/krita-2.0.dtd'>"
TILE = 64


def _canvas_size(layers: Layers, size: tuple[int, int] | None) -> tuple[int, int]:
    return size or next(iter(layers.values())).size


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> None:
    """A zip with `members` in order; `mimetype`, if given, is stored uncompressed as the formats ask."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else method)


def declare_size(path: Path, member: str, size: int, packed: int | None = None) -> None:
    """Make the central directory claim that `member` unpacks to `size` bytes (and packs to `packed`)."""
    data = bytearray(path.read_bytes())
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, position + 24, size)
            if packed is not None:
                struct.pack_into("<I", data, position + 20, packed)
        position = data.find(b"PK\x01\x02", position + 46)
    path.write_bytes(bytes(data))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# OpenRaster -------------------------------------------------------------------------------------------


def ora_stack(layers: Layers, offsets: Offsets, size: tuple[int, int], grouped: set[str]) -> bytes:
    """stack.xml for `layers`; those named in `grouped` go into one nested <stack>."""
    root = ElementTree.Element("image", version="0.0.3", w=str(size[0]), h=str(size[1]))
    top = ElementTree.SubElement(root, "stack")
    group = None
    for index, name in enumerate(layers):
        if name in grouped and group is None:
            group = ElementTree.SubElement(top, "stack", name="group")
        parent = group if name in grouped else top
        x, y = offsets.get(name, (0, 0))
        ElementTree.SubElement(parent, "layer", name=name, src=f"data/layer{index}.png", x=str(x), y=str(y))
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ElementTree.tostring(root)


def write_ora(
    path: Path,
    layers: Layers,
    offsets: Offsets | None = None,
    size: tuple[int, int] | None = None,
    grouped: set[str] | None = None,
) -> None:
    """An OpenRaster file: mimetype, stack.xml and one PNG per layer."""
    size = _canvas_size(layers, size)
    members = {"mimetype": b"image/openraster", "stack.xml": ora_stack(layers, offsets or {}, size, grouped or set())}
    for index, image in enumerate(layers.values()):
        members[f"data/layer{index}.png"] = png_bytes(image)
    write_zip(path, members)


# Krita ------------------------------------------------------------------------------------------------


def lzf_compress(data: bytes) -> bytes:
    """A simple valid LZF compressor: greedy 3-byte-hash matches within 8 KiB, literals in runs of ≤ 32."""
    out, literals, recent = bytearray(), bytearray(), {}
    position = 0
    while position < len(data):
        key = data[position : position + 3]
        candidate = recent.get(key) if len(key) == 3 else None
        recent[key] = position
        if candidate is None or position - candidate > 8192:
            literals.append(data[position])
            position += 1
            if len(literals) == 32:
                _flush_literals(out, literals)
            continue
        length = 3
        while length < 264 and position + length < len(data) and data[candidate + length] == data[position + length]:
            length += 1
        _flush_literals(out, literals)
        _emit_reference(out, length, position - candidate)
        position += length
    _flush_literals(out, literals)
    return bytes(out)


def _flush_literals(out: bytearray, literals: bytearray) -> None:
    if literals:
        out.append(len(literals) - 1)
        out += literals
        literals.clear()


def _emit_reference(out: bytearray, length: int, distance: int) -> None:
    stored, offset = length - 2, distance - 1
    if stored < 7:
        out += bytes([stored << 5 | offset >> 8, offset & 255])
    else:
        out += bytes([7 << 5 | offset >> 8, stored - 7, offset & 255])


def krita_tiles(image: Image.Image, origin: tuple[int, int], default: bytes, compressed: bool) -> bytes:
    """Krita's tiled layer data for `image` placed at device coordinates `origin` (which may be negative).

    Tiles that hold only the default pixel are left out, as Krita does.
    """
    bgra = np.asarray(image.convert("RGBA"))[..., [2, 1, 0, 3]]
    left, top = origin
    chunks = []
    for ty in range(top // TILE * TILE, top + image.height, TILE):
        for tx in range(left // TILE * TILE, left + image.width, TILE):
            tile = np.empty((TILE, TILE, 4), np.uint8)
            tile[...] = np.frombuffer(default, np.uint8)
            _copy_into_tile(tile, bgra, tx - left, ty - top)
            if not (tile == np.frombuffer(default, np.uint8)).all():
                payload = _tile_payload(tile, compressed)
                chunks.append(f"{tx},{ty},LZF,{len(payload)}\n".encode() + payload)
    header = f"VERSION 2\nTILEWIDTH {TILE}\nTILEHEIGHT {TILE}\nPIXELSIZE 4\nDATA {len(chunks)}\n".encode()
    return header + b"".join(chunks)


def _copy_into_tile(tile: np.ndarray, bgra: np.ndarray, x: int, y: int) -> None:
    """Copy the part of `bgra` that falls in a tile whose corner sits at (x, y) of the image."""
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + TILE, bgra.shape[1]), min(y + TILE, bgra.shape[0])
    if x0 < x1 and y0 < y1:
        tile[y0 - y : y1 - y, x0 - x : x1 - x] = bgra[y0:y1, x0:x1]


def _tile_payload(tile: np.ndarray, compressed: bool) -> bytes:
    """Flag 1 + LZF of the planar bytes when that is smaller, else flag 0 + the interleaved bytes."""
    if compressed:
        packed = lzf_compress(tile.transpose(2, 0, 1).tobytes())
        if len(packed) < tile.size:
            return b"\x01" + packed
    return b"\x00" + tile.tobytes()


def krita_maindoc(layers: Layers, offsets: Offsets, size: tuple[int, int], grouped: set[str], space: str) -> bytes:
    """maindoc.xml for `layers`; those named in `grouped` go into one group layer."""
    doc = ElementTree.Element("DOC", xmlns="http://www.calligra.org/DTD/krita", kritaVersion="5.2.2")
    image = ElementTree.SubElement(
        doc,
        "IMAGE",
        name="page",
        width=str(size[0]),
        height=str(size[1]),
        colorspacename=space,
        mime="application/x-kra",
    )
    top = ElementTree.SubElement(image, "layers")
    group = None
    for index, name in enumerate(layers):
        if name in grouped and group is None:
            node = ElementTree.SubElement(
                top, "layer", name="group", nodetype="grouplayer", filename="group", x="0", y="0"
            )
            group = ElementTree.SubElement(node, "layers")
        x, y = offsets.get(name, (0, 0))
        ElementTree.SubElement(
            group if name in grouped else top,
            "layer",
            name=name,
            nodetype="paintlayer",
            filename=f"layer{index}",
            x=str(x),
            y=str(y),
            colorspacename=space,
        )
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n' + KRITA_DOCTYPE + "\n"
    return declaration.encode() + ElementTree.tostring(doc)


def write_kra(
    path: Path,
    layers: Layers,
    compressed: bool = True,
    offsets: Offsets | None = None,
    size: tuple[int, int] | None = None,
    grouped: set[str] | None = None,
    device_origin: tuple[int, int] = (0, 0),
    default_pixels: dict[str, bytes] | None = None,
    colour_space: str = "RGBA",
) -> None:
    """A Krita file whose layers store their pixels in Krita's tiled format.

    Each layer's pixels sit at `device_origin` inside its paint device, and the node's x, y are chosen so
    that they land at `offsets[name]` on the canvas; `default_pixels` gives a layer's BGRA fill.
    """
    size, offsets, default_pixels = _canvas_size(layers, size), offsets or {}, default_pixels or {}
    maindoc = krita_maindoc(layers, _node_offsets(layers, offsets, device_origin), size, grouped or set(), colour_space)
    members = {"mimetype": b"application/x-krita", "maindoc.xml": maindoc}
    for index, (name, image) in enumerate(layers.items()):
        default = default_pixels.get(name, bytes(4))
        members[f"page/layers/layer{index}"] = krita_tiles(image, device_origin, default, compressed)
        members[f"page/layers/layer{index}.defaultpixel"] = default
    write_zip(path, members)


def _node_offsets(layers: Layers, offsets: Offsets, device_origin: tuple[int, int]) -> Offsets:
    return {
        name: (offsets.get(name, (0, 0))[0] - device_origin[0], offsets.get(name, (0, 0))[1] - device_origin[1])
        for name in layers
    }


# Photoshop --------------------------------------------------------------------------------------------


def write_psd(path: Path, layers: Layers, offsets: Offsets | None = None, size: tuple[int, int] | None = None) -> None:
    """A PSD with one pixel layer per entry, built with psd-tools (which stacks each new layer on top)."""
    offsets = offsets or {}
    psd = PSDImage.new("RGBA", _canvas_size(layers, size))
    for name, image in reversed(layers.items()):
        left, top = offsets.get(name, (0, 0))
        PixelLayer.frompil(image.convert("RGBA"), psd, name, top=top, left=left)
    psd.save(path)


KEYFRAMES_DOCTYPE = (
    "<!DOCTYPE keyframes PUBLIC '-//KDE//DTD krita-keyframes 1.0//EN' "
    "'http://www.calligra.org/DTD/krita-keyframes-1.0.dtd'>"
)


def write_animated_kra(
    path: Path,
    animated: dict[str, dict[int, Image.Image]],
    still: Layers | None = None,
    size: tuple[int, int] | None = None,
    frame_names: dict[int, str] | None = None,
    keyframes_name: str | None = None,
) -> None:
    """A Krita file laid out as Krita 5 saves an animated document (tests/files/krita-walk.kra, saved by Krita 5.1.5).

    Each animated layer (name → time → drawing, top to bottom) keeps its first keyframe's tiles in its own file
    `layerN`, later ones in `layerN.f1`, `layerN.f2`…, each with a `.defaultpixel`, and lists them in
    `layerN.keyframes.xml` (time, frame file, offset); `still` layers go below them. `frame_names` and
    `keyframes_name` override the names the XML gives, as a hostile file would.
    """
    still = still or {}
    size = size or next(iter(next(iter(animated.values())).values())).size
    doc = ElementTree.Element("DOC", xmlns="http://www.calligra.org/DTD/krita", kritaVersion="5.1.5")
    image = ElementTree.SubElement(
        doc, "IMAGE", name="walk", width=str(size[0]), height=str(size[1]), colorspacename="RGBA"
    )
    top = ElementTree.SubElement(image, "layers")
    members = {"mimetype": b"application/x-krita"}
    for index, (name, frames) in enumerate([*animated.items(), *((name, {0: pic}) for name, pic in still.items())]):
        node = f"layer{index + 2}"
        attributes = {"name": name, "nodetype": "paintlayer", "filename": node, "x": "0", "y": "0"}
        if name in animated:
            attributes["keyframes"] = keyframes_name or f"{node}.keyframes.xml"
            members[f"walk/layers/{node}.keyframes.xml"] = _keyframes_xml(node, frames, frame_names or {})
        ElementTree.SubElement(top, "layer", colorspacename="RGBA", **attributes)
        for number, picture in enumerate(frames.values()):
            member = f"walk/layers/{node}" + (f".f{number}" if number else "")
            members[member] = krita_tiles(picture, (0, 0), bytes(4), True)
            members[f"{member}.defaultpixel"] = bytes(4)
    animation = ElementTree.SubElement(image, "animation")
    ElementTree.SubElement(animation, "framerate", type="value", value="24")
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n' + KRITA_DOCTYPE + "\n"
    members["maindoc.xml"] = declaration.encode() + ElementTree.tostring(doc)
    write_zip(path, {"mimetype": members.pop("mimetype"), "maindoc.xml": members.pop("maindoc.xml"), **members})


def _keyframes_xml(node: str, frames: dict[int, Image.Image], names: dict[int, str]) -> bytes:
    root = ElementTree.Element("keyframes", xmlns="http://www.calligra.org/DTD/krita-keyframes")
    channel = ElementTree.SubElement(root, "channel", name="content")
    for number, time in enumerate(frames):
        frame = names.get(time, node + (f".f{number}" if number else ""))
        key = ElementTree.SubElement(channel, "keyframe", time=str(time), frame=frame, **{"color-label": "0"})
        ElementTree.SubElement(key, "offset", type="point", x="0", y="0")
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n' + KEYFRAMES_DOCTYPE + "\n"
    return declaration.encode() + ElementTree.tostring(root)
