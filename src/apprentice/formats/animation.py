"""Animated image files (GIF, APNG, animated WebP): every frame as it displays, read safely.
Writes GIF and APNG that keep every frame, holds included, with metadata as text fields.
"""

from __future__ import annotations

import io
import itertools
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import GifImagePlugin, Image, PngImagePlugin

from apprentice.errors import BadInput
from apprentice.files import write_atomically
from apprentice.formats.images import check_frames, check_size, damaged, decode_image, reading, rgba

ANIMATION_SUFFIXES = {".gif", ".png", ".apng", ".webp"}
MAX_FRAMES = 2000
_DEFAULT_DURATION_MS = 100  # what browsers show a frame for when the file gives no delay or 0

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CACHED_BYTES = 256 * 1024 * 1024  # decoded frames of the last-read file kept for decode_frame
_GIF_COLOURS = 255  # GIF palettes hold 256 entries; index 0 is kept for transparency


# ---------------------------------------------------------------- reading


def frame_count(data: bytes, name: str) -> int:
    """How many frames the file shows (1 for a still image); BadInput when it is damaged or too long.

    The last frame is decoded too, so a file cut short is refused here rather than halfway through a job.
    """
    if data.startswith(_PNG_SIGNATURE):
        return len(_png_frames(data, name)[1])
    with _opened(data, name) as image:
        count = getattr(image, "n_frames", 1)
        image.seek(count - 1)
        image.load()
    return count


def is_animation(path: Path) -> bool:
    """Whether `path` is an animation file with more than one frame (False for anything unreadable)."""
    if Path(path).suffix.lower() not in ANIMATION_SUFFIXES:
        return False
    try:
        with Image.open(path) as image:
            # an APNG's default image, when it is not part of the animation, counts as a frame in Pillow
            return getattr(image, "n_frames", 1) - bool(getattr(image, "default_image", False)) > 1
    except Exception:  # any file Pillow cannot read is simply not an animation
        return False


def decode_frames(data: bytes, name: str) -> list[Image.Image]:
    """Every frame as it displays (disposal and blending applied): canvas-sized RGBA images."""
    return list(_shown_frames(data, name))


def decode_frame(data: bytes, name: str, index: int) -> Image.Image:
    """Frame `index` (from 0) as it displays, as a canvas-sized RGBA image; BadInput when there is none.

    Importing or training reads every frame of one file in turn: the file read last stays open as a `_Reel`,
    so a clip is decoded once, not once per frame, whether or not all its frames fit in memory.
    """
    last = _reels.get("last")
    reel = last if last is not None and last.name == name and last.data == data else _Reel(data, name)
    _reels["last"] = reel  # one assignment: threads never see half of it
    frame = reel.frame(index) if index >= 0 else None
    if frame is not None:
        return frame
    count = frame_count(data, name)
    raise BadInput(
        f"{name} has {count} frame{'s' if count != 1 else ''}, so there is no frame {index}; "
        f"choose a frame from 0 to {count - 1}."
    )


class _Reel:
    """One animated file being read frame by frame: decoded in order once, its latest frames kept.

    Frames are kept while they fit in _CACHED_BYTES (a whole short clip; the last few frames of a long one), so
    reading frames in order, or overlapping runs of them as triplets are, decodes each frame once. Reading a
    frame from before the kept ones starts the decoding again from the first frame.
    """

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self._lock = threading.Lock()
        self._frames: Iterator[Image.Image] | None = None  # decoding starts at the first read
        self._next = 0  # the index of the frame `_frames` yields next
        self._kept: OrderedDict[int, Image.Image] = OrderedDict()
        self._kept_bytes = 0

    def frame(self, index: int) -> Image.Image | None:
        """A copy of frame `index`, or None when the file has no such frame."""
        with self._lock:
            if self._frames is None or (index not in self._kept and index < self._next):
                self._frames, self._next = _shown_frames(self.data, self.name), 0
            while index not in self._kept:
                shown = next(self._frames, None)
                if shown is None:
                    return None
                self._keep(self._next, shown)
                self._next += 1
            return self._kept[index].copy()

    def _keep(self, index: int, frame: Image.Image) -> None:
        """Keep a decoded frame, letting the oldest kept ones go once they no longer fit."""
        if index in self._kept:
            return
        self._kept[index] = frame
        self._kept_bytes += frame.width * frame.height * 4
        while self._kept_bytes > _CACHED_BYTES and len(self._kept) > 1:
            _, gone = self._kept.popitem(last=False)
            self._kept_bytes -= gone.width * gone.height * 4


_reels: dict[str, _Reel] = {}  # "last" → the animated file decode_frame read last


def frame_durations(data: bytes, name: str) -> list[int]:
    """How long each frame shows, in milliseconds; 100 where the file gives no delay or a delay of 0."""
    if data.startswith(_PNG_SIGNATURE):
        return [frame.duration_ms for frame in _png_frames(data, name)[1]]
    durations = []
    with _opened(data, name) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()  # WebP sets a frame's duration only once it is decoded
            durations.append(round(image.info.get("duration") or _DEFAULT_DURATION_MS))
    return durations


def read_animation_metadata(path: Path) -> dict[str, str]:
    """The text fields that `write_animation` wrote into a file (empty when there are none)."""
    with Image.open(path) as image:
        if image.format == "PNG":
            return {key: str(value) for key, value in image.text.items()}
        comment = image.info.get("comment", b"")
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", "replace")
    return dict(line.split("=", 1) for line in comment.split("\n") if "=" in line)


def _shown_frames(data: bytes, name: str) -> Iterator[Image.Image]:
    """The frames one by one as they display; PNG goes through our compositor, the rest through Pillow's."""
    if data.startswith(_PNG_SIGNATURE):
        yield from _composited_png(data, name)
        return
    with _opened(data, name) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)  # Pillow composites GIF (disposal, transparency) and WebP frames as they show
            yield _rgba_image(image)


@contextmanager
def _opened(data: bytes, name: str) -> Iterator[Image.Image]:
    """The file opened lazily by Pillow, canvas and frame count checked before any frame is decoded."""
    with reading(name), Image.open(io.BytesIO(data)) as image:
        check_size(image.width, image.height, name)
        _check_frame_count(getattr(image, "n_frames", 1), name)
        check_frames(getattr(image, "n_frames", 1), image.size, name)
        yield image


def _check_frame_count(count: int, name: str) -> None:
    if count > MAX_FRAMES:
        raise BadInput(
            f"{name} has {count} frames, more than the {MAX_FRAMES} Apprentice reads from one file; "
            "cut it into shorter clips."
        )


def _rgba_image(image: Image.Image) -> Image.Image:
    """A decoded frame as a standalone RGBA image (16-bit grays scaled the way flat images are)."""
    return Image.fromarray(rgba(image))


# ---------------------------------------------------------------- APNG, composited by us
#
# Pillow composites APNG frames itself, but blends OP_OVER frames with Image.paste(frame, mask=frame),
# which also blends the alpha channel: a half-transparent pixel over a transparent one comes out a
# quarter opaque, over an opaque one no longer opaque. Antialiased line art on a transparent canvas
# would lose its edges, so PNG files are split into their frames here and composited as the APNG
# specification says (OP_OVER is Porter-Duff "over": Image.alpha_composite).


class _PngFrame(NamedTuple):
    box: tuple[int, int, int, int]  # where the frame lies on the canvas: left, top, right, bottom
    duration_ms: int
    dispose: int  # 0: leave, 1: clear to transparent, 2: restore what was there before
    blend: int  # 0: replace, 1: draw over
    png: bytes  # the frame's own pixels as a standalone PNG file


def _composited_png(data: bytes, name: str) -> Iterator[Image.Image]:
    size, frames = _png_frames(data, name)
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    for frame in frames:
        pixels = _rgba_image(decode_image(frame.png, name))
        keep = frame.dispose == PngImagePlugin.Disposal.OP_PREVIOUS
        underneath = canvas.crop(frame.box) if keep else None
        if frame.blend == PngImagePlugin.Blend.OP_OVER:
            canvas.alpha_composite(pixels, frame.box[:2])
        else:
            canvas.paste(pixels, frame.box[:2])
        yield canvas.copy()
        if frame.dispose == PngImagePlugin.Disposal.OP_BACKGROUND:
            canvas.paste((0, 0, 0, 0), frame.box)
        elif underneath is not None:
            canvas.paste(underneath, frame.box[:2])


def _png_frames(data: bytes, name: str) -> tuple[tuple[int, int], list[_PngFrame]]:
    """The canvas size and every frame of a PNG file: one for a still PNG, acTL's frames for an APNG."""
    chunks = list(_png_chunks(data, name))
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise damaged(name, "no PNG header")
    header = chunks[0][1]
    size = struct.unpack(">II", header[:8])
    check_size(*size, name)
    if not any(kind == b"acTL" for kind, _ in chunks):
        return size, [_PngFrame((0, 0, *size), _DEFAULT_DURATION_MS, 0, 0, data)]
    # the palette and its transparency are all a frame needs beside the header to decode on its own
    palette = b"".join(_chunk(kind, body) for kind, body in chunks if kind in (b"PLTE", b"tRNS"))
    frames, control, pieces = [], b"", []
    for kind, body in [*chunks[1:], (b"fcTL", b"")]:  # a last empty fcTL closes the last frame
        if kind == b"fcTL":
            if control:
                frames.append(_png_frame(control, pieces, header, palette, size, name))
            control, pieces = body, []
        elif (kind == b"IDAT" and control) or kind == b"fdAT":  # an IDAT before any fcTL is not shown
            pieces.append(body if kind == b"IDAT" else body[4:])
    if not frames:
        raise damaged(name, "an animated PNG without frames")
    _check_frame_count(len(frames), name)
    check_frames(len(frames), size, name)
    return size, frames


def _png_frame(
    control: bytes, pieces: list[bytes], header: bytes, palette: bytes, size: tuple[int, int], name: str
) -> _PngFrame:
    """One APNG frame from its fcTL chunk and image data, as a standalone PNG file placed on the canvas."""
    if len(control) != 26 or not pieces:
        raise damaged(name, "a frame without its control chunk or its pixels")
    _, width, height, left, top, delay, denominator, dispose, blend = struct.unpack(">IIIIIHHBB", control)
    box = (left, top, left + width, top + height)
    if not (width and height and box[2] <= size[0] and box[3] <= size[1] and dispose < 3 and blend < 2):
        raise damaged(name, f"a frame at {box} on a {size[0]}×{size[1]} canvas")
    png = b"".join(
        [
            _PNG_SIGNATURE,
            _chunk(b"IHDR", struct.pack(">II", width, height) + header[8:]),
            palette,
            _chunk(b"IDAT", b"".join(pieces)),
            _chunk(b"IEND", b""),
        ]
    )
    duration_ms = round(1000 * delay / (denominator or 100)) or _DEFAULT_DURATION_MS
    return _PngFrame(box, duration_ms, dispose, blend, png)


def _png_chunks(data: bytes, name: str) -> Iterator[tuple[bytes, bytes]]:
    """(kind, body) of every chunk up to IEND, each checked against its CRC."""
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(crc) < 4:
            break
        if zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            raise damaged(name, f"the {kind.decode('latin-1')} chunk fails its checksum")
        yield kind, body
        if kind == b"IEND":
            return
        position += 12 + length
    raise damaged(name, "the file ends before its last chunk")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# ---------------------------------------------------------------- writing


def write_animation(
    frames: list[Image.Image], path: Path, duration_ms: int | list[int], metadata: dict[str, str]
) -> None:
    """Write `frames` as an endlessly looping GIF (.gif) or APNG (.png, .apng) atomically, with `metadata`."""
    write_atomically(Path(path), encode_animation(frames, Path(path).suffix, duration_ms, metadata))


def encode_animation(
    frames: list[Image.Image], suffix: str, duration_ms: int | list[int], metadata: dict[str, str]
) -> bytes:
    """`frames` as the bytes of an endlessly looping GIF (.gif) or APNG (.png, .apng), with `metadata`.

    Every frame is kept, a held (repeated) frame included. GIF keeps up to 255 flat colours per frame exactly
    (more are reduced without dithering) and alpha as on/off at 128; APNG keeps every pixel exactly.
    """
    frames = [frame.convert("RGBA") for frame in frames]
    durations = duration_ms if isinstance(duration_ms, list) else [duration_ms] * len(frames)
    if not frames or len(durations) != len(frames) or len({frame.size for frame in frames}) != 1:
        raise ValueError("write_animation needs frames of one size and one duration for each frame")
    suffix = suffix.lower()
    if suffix == ".gif":
        return _encode_gif(frames, durations, metadata)
    if suffix in (".png", ".apng"):
        return _encode_apng(frames, durations, metadata)
    raise ValueError(f"write_animation writes .gif, .png or .apng files, not {suffix or 'no suffix'}")


def _encode_apng(frames: list[Image.Image], durations: list[int], metadata: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "PNG",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=0,
        disposal=_held_frame_disposals(frames),
        blend=PngImagePlugin.Blend.OP_SOURCE,
        pnginfo=info,
    )
    return buffer.getvalue()


def _held_frame_disposals(frames: list[Image.Image]) -> list[int]:
    """APNG dispose ops that keep Pillow from merging a held frame into the one before it.

    Pillow's APNG writer drops a frame identical to the previous one (adding its duration) when both have
    the same dispose and blend ops. Giving a held frame OP_BACKGROUND where the frame before has OP_NONE
    (and OP_NONE otherwise) keeps it a frame of its own; Pillow writes the frame after it against the
    cleared canvas, so every frame still displays exactly as given.
    """
    disposals = [PngImagePlugin.Disposal.OP_NONE]
    for before, frame in itertools.pairwise(frames):
        held = frame.tobytes() == before.tobytes() and disposals[-1] == PngImagePlugin.Disposal.OP_NONE
        disposals.append(PngImagePlugin.Disposal.OP_BACKGROUND if held else PngImagePlugin.Disposal.OP_NONE)
    return disposals


def _encode_gif(frames: list[Image.Image], durations: list[int], metadata: dict[str, str]) -> bytes:
    """A GIF written frame by frame with Pillow's GIF encoder (`getheader`, `getdata`), never merged.

    Pillow's `save(save_all=True)` always merges a frame identical to the one before into it (adding the
    durations; `optimize=False` does not stop it), so a held frame would vanish. Each frame here is the
    whole canvas with its own palette, index 0 transparent, disposed to the background (index 0) after
    it shows: transparent pixels stay transparent in every reader.
    """
    indexed = [_indexed(frame) for frame in frames]
    header, _ = GifImagePlugin.getheader(indexed[0].copy(), info={"loop": 0, "comment": _gif_comment(metadata)})
    parts = list(header)
    for frame, duration in zip(indexed, durations, strict=True):
        # GIF counts delays in hundredths of a second
        parts += GifImagePlugin.getdata(
            frame, duration=round(duration / 10) * 10, transparency=0, disposal=2, include_color_table=True
        )
    return b"".join([*parts, b";"])


def _indexed(frame: Image.Image) -> Image.Image:
    """An RGBA frame as a palette image: index 0 for alpha below 128, up to 255 colours for the rest."""
    pixels = np.asarray(frame)
    opaque = pixels[..., 3] >= 128
    colours = pixels[..., :3].copy()
    keys = _colour_keys(colours)
    if len(np.unique(keys[opaque])) > _GIF_COLOURS:
        colours[~opaque] = colours[opaque][0]  # so the palette is spent on pixels that show
        reduced = Image.fromarray(colours).quantize(
            _GIF_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        keys = _colour_keys(np.asarray(reduced.convert("RGB")))
    palette = np.unique(keys[opaque])
    indices = np.where(opaque, np.searchsorted(palette, keys) + 1, 0).astype(np.uint8)
    image = Image.frombytes("P", frame.size, indices.tobytes())
    rgb = np.stack([palette >> 16, palette >> 8 & 255, palette & 255], axis=1).astype(np.uint8)
    image.putpalette(b"\0\0\0" + rgb.tobytes())
    return image


def _colour_keys(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 colours → H×W int32 keys (0xRRGGBB), which sort and compare as whole colours."""
    rgb = rgb.astype(np.int32)
    return rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]


def _gif_comment(metadata: dict[str, str]) -> str:
    """The metadata as "key=value" lines, the form read_animation_metadata parses back."""
    for key, value in metadata.items():
        if "=" in key or "\n" in key or "\n" in value:
            raise ValueError(f"GIF metadata keys hold no '=' or line break, values no line break: {key!r}")
    return "\n".join(f"{key}={value}" for key, value in metadata.items())
