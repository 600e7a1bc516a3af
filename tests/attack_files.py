"""Hostile files made in code, small on disk but costly to read naively: many layers, many frames, XMP chains.

Shared by the tests that prove the readers' work grows linearly and by the benchmark bench/hostile_files.py.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

VOCAB = "http://ns.useplus.org/ldf/vocab/"
SEE_PROPERTY = VOCAB + "DMI-PROHIBITED-SEEPROPERTY"
XMP_NAMESPACES = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
    'xmlns:tdm="http://www.w3.org/ns/tdmrep/"'
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def xmp_packet(body: str) -> bytes:
    """A complete XMP packet whose rdf:RDF holds `body`."""
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {XMP_NAMESPACES}>{body}</rdf:RDF></x:xmpmeta>').encode()


def see_property_xmp(count: int) -> bytes:
    """`count` descriptions, each a distinct 'see property' data-mining value with its own other constraint."""
    return xmp_packet(
        "".join(
            f'<rdf:Description plus:DataMining="{index}/DMI-PROHIBITED-SEEPROPERTY">'
            f"<plus:OtherConstraints>licence {index}</plus:OtherConstraints></rdf:Description>"
            for index in range(count)
        )
    )


def nested_property_xmp(depth: int) -> bytes:
    """A chain of `depth` plus:DataMining elements each inside the one before, each holding some text."""
    opening = "".join(f"<plus:DataMining>{SEE_PROPERTY} " for _ in range(depth))
    return xmp_packet(f"<rdf:Description>{opening}{'</plus:DataMining>' * depth}</rdf:Description>")


def png_with_xmp(packet: bytes) -> bytes:
    """A 1×1 PNG carrying `packet` in an iTXt XML:com.adobe.xmp chunk."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    body = b"XML:com.adobe.xmp\0\0\0\0\0" + packet
    pixels = zlib.compress(b"\0\0\0\0\0")
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"iTXt", body) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def dot_png() -> bytes:
    """A 1×1 opaque black RGBA PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\xff")) + chunk(b"IEND", b"")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def dotted_ora(layers: int, canvas: tuple[int, int] = (64, 64)) -> bytes:
    """An OpenRaster file of `layers` layers, each a 1×1 dot at its own place: every layer a different frame."""
    width = canvas[0]
    elements = "".join(
        f'<layer name="dot {index}" src="data/{index}.png" x="{index % width}" y="{index // width % canvas[1]}"/>'
        for index in range(layers)
    )
    stack = f'<image version="0.0.3" w="{canvas[0]}" h="{canvas[1]}"><stack>{elements}</stack></image>'.encode()
    dot = dot_png()
    members = {"mimetype": b"image/openraster", "stack.xml": stack}
    members |= {f"data/{index}.png": dot for index in range(layers)}
    return zip_bytes(members)


def dotted_kra(layers: int, canvas: tuple[int, int] = (64, 64)) -> bytes:
    """A Krita file of `layers` paint layers, each one raw 64×64 tile holding a dot at its own place."""
    width = canvas[0]
    elements = "".join(
        f'<layer name="dot {index}" nodetype="paintlayer" filename="layer{index}" colorspacename="RGBA" '
        f'x="{index % width}" y="{index // width % canvas[1]}"/>'
        for index in range(layers)
    )
    maindoc = (
        '<DOC xmlns="http://www.calligra.org/DTD/krita"><IMAGE name="page" '
        f'width="{canvas[0]}" height="{canvas[1]}" colorspacename="RGBA"><layers>{elements}</layers></IMAGE></DOC>'
    ).encode()
    tile = bytearray(64 * 64 * 4)
    tile[3] = 255  # one opaque black pixel in the tile's corner
    payload = b"\0" + bytes(tile)
    data = b"VERSION 2\nTILEWIDTH 64\nTILEHEIGHT 64\nPIXELSIZE 4\nDATA 1\n" + f"0,0,LZF,{len(payload)}\n".encode()
    members = {"mimetype": b"application/x-krita", "maindoc.xml": maindoc}
    for index in range(layers):
        members[f"page/layers/layer{index}"] = data + payload
        members[f"page/layers/layer{index}.defaultpixel"] = bytes(4)
    return zip_bytes(members)


def dotted_gif(frames: int, canvas: tuple[int, int]) -> bytes:
    """A GIF of `frames` 1×1 frames on a large canvas, each leaving a dot where it lands (so every frame differs)."""
    width, height = canvas
    parts = [b"GIF89a", struct.pack("<HHBBB", width, height, 0x80, 0, 0), b"\xff\xff\xff\0\0\0"]
    parts.append(b"!\xff\x0bNETSCAPE2.0\x03\x01\0\0\0")
    for index in range(frames):
        x, y = index % width, index // width % height
        parts.append(b"!\xf9\x04\x04\x0a\0\0\0")  # leave the frame in place, 100 ms, no transparency
        parts.append(b"," + struct.pack("<HHHHB", x, y, 1, 1, 0))
        parts.append(b"\x02\x02\x4c\x01\0")  # LZW, code size 2: clear, index 1 (black), end
    return b"".join([*parts, b";"])


def dotted_apng(frames: int, canvas: tuple[int, int]) -> bytes:
    """An APNG of a transparent canvas, then `frames` - 1 frames of a 1×1 dot each drawn over what was there."""
    width, height = canvas
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    blank = zlib.compress(bytes(width * 4 + 1) * height, 9)
    parts = [PNG_SIGNATURE, chunk(b"IHDR", header), chunk(b"acTL", struct.pack(">II", frames, 0))]
    parts.append(chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0)))
    parts.append(chunk(b"IDAT", blank))
    dot = zlib.compress(b"\0\0\0\0\xff")
    for index in range(1, frames):
        x, y = index % width, index // width % height
        control = struct.pack(">IIIIIHHBB", 2 * index - 1, 1, 1, x, y, 1, 10, 0, 1)
        parts += [chunk(b"fcTL", control), chunk(b"fdAT", struct.pack(">I", 2 * index) + dot)]
    parts.append(chunk(b"IEND", b""))
    return b"".join(parts)


def crowded_zip(members: int) -> bytes:
    """An OpenRaster-looking zip of one tiny layer and `members` - 2 empty members beside it."""
    stack = b'<image version="0.0.3" w="4" h="4"><stack><layer name="a" src="a.png"/></stack></image>'
    found = {"mimetype": b"image/openraster", "stack.xml": stack, "a.png": dot_png()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in found.items():
            archive.writestr(name, data)
        for index in range(members - len(found)):
            archive.writestr(f"e/{index}", b"")
    return buffer.getvalue()
