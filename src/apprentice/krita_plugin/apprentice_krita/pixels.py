"""Pictures as the plugin passes them around: straight 8-bit RGBA bytes, to and from Krita's B,G,R,A and PNG.

Pure Python (Krita's Python has neither numpy nor Pillow): the PNG reader undoes all five row filters.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {6: 4, 2: 3, 4: 2, 0: 1}  # PNG colour types read: RGBA, RGB, grey + alpha, grey


class PictureError(Exception):
    """A picture the plugin cannot read, in one sentence."""


@dataclass(frozen=True)
class Picture:
    """A width × height picture as straight (not premultiplied) R,G,B,A bytes, row by row."""

    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        if len(self.rgba) != self.width * self.height * 4:
            raise PictureError(f"A {self.width}×{self.height} picture needs {self.width * self.height * 4} bytes.")


def swap_red_blue(data: bytes) -> bytes:
    """B,G,R,A ↔ R,G,B,A: Krita's 8-bit RGBA pixel data is B,G,R,A; the same swap turns it back."""
    out = bytearray(data)
    out[0::4], out[2::4] = data[2::4], data[0::4]
    return bytes(out)


def masked(picture: Picture, mask: bytes) -> Picture:
    """The picture with its alpha multiplied by an 8-bit mask (a selection: 255 selected, 0 not)."""
    out = bytearray(picture.rgba)
    out[3::4] = bytes(a * m // 255 for a, m in zip(picture.rgba[3::4], mask, strict=True))
    return Picture(picture.width, picture.height, bytes(out))


def is_blank(picture: Picture) -> bool:
    """Whether every pixel is fully transparent."""
    return not any(picture.rgba[3::4])


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def to_png(picture: Picture) -> bytes:
    """The picture as an 8-bit RGBA PNG file."""
    stride = picture.width * 4
    rows = b"".join(b"\x00" + picture.rgba[y * stride : (y + 1) * stride] for y in range(picture.height))
    header = struct.pack(">IIBBBBB", picture.width, picture.height, 8, 6, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def from_png(data: bytes, name: str = "the picture") -> Picture:
    """An 8-bit RGB or RGBA PNG (as Apprentice writes them) as a Picture; PictureError for anything else."""
    if not data.startswith(SIGNATURE):
        raise PictureError(f"{name} is not a PNG file; apply the apprentice again.")
    header, compressed, pos = b"", bytearray(), len(SIGNATURE)
    while pos + 8 <= len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body, pos = data[pos + 8 : pos + 8 + length], pos + 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    if len(header) != 13:
        raise PictureError(f"{name} is a truncated PNG file; apply the apprentice again.")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in CHANNELS or interlace:
        raise PictureError(f"{name} is not an 8-bit grey or RGB(A) PNG; the plugin reads only those.")
    channels = CHANNELS[colour]
    rows = unfiltered(zlib.decompress(bytes(compressed)), width * channels, height, channels)
    return Picture(width, height, as_rgba(rows, channels))


def as_rgba(data: bytes, channels: int) -> bytes:
    """Grey, grey + alpha, RGB or RGBA bytes as RGBA."""
    if channels == 4:
        return data
    out = bytearray(b"\xff" * (len(data) // channels * 4))
    for channel in range(3):
        out[channel::4] = data[min(channel, 2 if channels == 3 else 0) :: channels]
    if channels == 2:
        out[3::4] = data[1::2]
    return bytes(out)


def unfiltered(data: bytes, stride: int, height: int, bpp: int) -> bytes:
    """The PNG rows with their filters (none, sub, up, average, Paeth) undone."""
    out, previous = bytearray(), bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = data[start], bytearray(data[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                left, corner = (line[i - bpp], previous[i - bpp]) if i >= bpp else (0, 0)
                line[i] = (line[i] + paeth(left, previous[i], corner)) & 255
        out += line
        previous = line
    return bytes(out)


def paeth(left: int, up: int, up_left: int) -> int:
    guess = left + up - up_left
    near_left, near_up, near_corner = abs(guess - left), abs(guess - up), abs(guess - up_left)
    if near_left <= near_up and near_left <= near_corner:
        return left
    return up if near_up <= near_corner else up_left
