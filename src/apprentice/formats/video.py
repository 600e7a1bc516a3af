"""Video files (MP4, MOV, MKV, WebM, AVI) as frame sequences, read offline with PyAV (the optional `video` extra).

Size, frame count and bytes are checked before any frame is decoded; frames are decoded in order, the recent kept.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats.images import check_frames, check_size

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}
MAX_FRAMES = 2000  # as many as one animated file's
MAX_VIDEO_BYTES = 512 * 1024 * 1024
KEPT_FRAMES = 4  # decoded frames kept: a triplet and the next frame, so frames read in overlapping runs decode once


def is_video(path: Path) -> bool:
    """Whether `path` names a video file (by its suffix)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def frame_count(data: bytes, name: str) -> int:
    """How many frames the video shows; BadInput when it is damaged, too large or too long, before decoding any."""
    with _opened(data, name) as (_, stream):
        return _checked_count(stream, data, name)


def decode_frame(data: bytes, name: str, index: int) -> Image.Image:
    """Frame `index` (from 0) as an RGBA image; the video read last stays open, so frames in order decode once."""
    last = _clips.get("last")
    clip = last if last is not None and last.name == name and last.data == data else _Clip(data, name)
    _clips["last"] = clip
    frame = clip.frame(index) if index >= 0 else None
    if frame is None:
        count = frame_count(data, name)
        raise BadInput(f"{name} has {count} frames, so there is no frame {index}; choose one from 0 to {count - 1}.")
    return frame


class _Clip:
    """One video being read frame by frame, in order; reading a frame before the kept ones starts again."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self._lock = threading.Lock()
        self._frames: Iterator[Image.Image] | None = None
        self._next = 0
        self._kept: OrderedDict[int, Image.Image] = OrderedDict()

    def frame(self, index: int) -> Image.Image | None:
        with self._lock:
            if self._frames is None or (index not in self._kept and index < self._next):
                self._frames, self._next = _decoded(self.data, self.name), 0
            while index not in self._kept:
                frame = next(self._frames, None)
                if frame is None:
                    return None
                self._kept[self._next] = frame
                self._next += 1
                if len(self._kept) > KEPT_FRAMES:
                    self._kept.popitem(last=False)
            return self._kept[index].copy()


_clips: dict[str, _Clip] = {}  # "last" → the video decode_frame read last


def _decoded(data: bytes, name: str) -> Iterator[Image.Image]:
    """Every frame in order as RGBA, each checked to keep the size the video declared."""
    av = _av(name)
    with _opened(data, name) as (container, stream):
        size = (stream.codec_context.width, stream.codec_context.height)
        try:
            for number, frame in enumerate(container.decode(stream)):
                if number >= MAX_FRAMES:
                    return  # frame_count refused such a file when it was added
                if (frame.width, frame.height) != size:
                    raise BadInput(
                        f"{name} changes size from {size[0]}×{size[1]} to {frame.width}×{frame.height} partway; "
                        "export it again at one size."
                    )
                yield Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA")
        except Exception as error:  # GeneratorExit passes by without touching PyAV, even at interpreter exit
            if isinstance(error, av.FFmpegError):
                raise BadInput(f"{name} is damaged or cut short partway; export the video again.") from None
            raise


class _opened:  # noqa: N801 - used as a context manager like a function
    """The video's container and first video stream, its size checked; BadInput for anything unreadable."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name

    def __enter__(self) -> tuple[Any, Any]:
        av = _av(self.name)
        if len(self.data) > MAX_VIDEO_BYTES:
            raise BadInput(f"{self.name} is larger than the 512 MiB Apprentice reads; cut it into shorter clips.")
        try:
            self.container = av.open(io.BytesIO(self.data), metadata_errors="ignore")
        except (av.FFmpegError, ValueError, OSError):
            raise BadInput(f"{self.name} is damaged or not a video Apprentice can read; export it as MP4.") from None
        if not self.container.streams.video:
            self.container.close()
            raise BadInput(f"{self.name} holds no video; export the animation as a video or as PNG frames.")
        stream = self.container.streams.video[0]
        try:
            check_size(stream.codec_context.width, stream.codec_context.height, self.name)
        except BadInput:
            self.container.close()
            raise
        return self.container, stream

    def __exit__(self, *_: object) -> None:
        self.container.close()


def _checked_count(stream: Any, data: bytes, name: str) -> int:
    """The frames the video holds, counted from its packets (its header may not say, or may lie), at most MAX_FRAMES."""
    av = _av(name)
    count = 0
    try:
        with av.open(io.BytesIO(data), metadata_errors="ignore") as container:
            for packet in container.demux(container.streams.video[0]):
                count += packet.size > 0
                if count > MAX_FRAMES:
                    raise BadInput(
                        f"{name} has more than {MAX_FRAMES} frames, more than Apprentice reads from one file; "
                        "cut it into shorter clips."
                    )
            declared = declared_frames(container, container.streams.video[0])
    except av.FFmpegError:
        raise BadInput(f"{name} is damaged or cut short; export the video again.") from None
    if count < declared - 1:  # a frame of rounding in a length given in seconds
        raise BadInput(f"{name} is cut short: it says it shows {declared} frames but holds {count}; export it again.")
    check_frames(count, (stream.codec_context.width, stream.codec_context.height), name)
    return count


def declared_frames(container: Any, stream: Any) -> int:
    """How many frames the video says it shows: its stream's count, else its length times its frame rate (the
    container's length only when it holds nothing but the video, as a sound track may run longer); 0 if unsaid."""
    if stream.frames:
        return int(stream.frames)
    rate = stream.average_rate or stream.guessed_rate
    if not rate:
        return 0
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration and len(container.streams) == 1:
        seconds = container.duration / 1_000_000  # in FFmpeg's microseconds
    else:
        return 0
    return round(seconds * float(rate))


def _av(name: str = "this video") -> ModuleType:
    """PyAV, or BadInput saying how to install the `video` extra that brings it."""
    try:
        import av
    except ImportError:
        raise BadInput(
            f"{name} is a video, and reading videos needs the video extra; install it with "
            "pip install 'apprentice[video]' and add it again."
        ) from None
    return av
