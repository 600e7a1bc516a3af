"""The shape every layered-file reader returns: a document of pixel layers, and placing a layer on its canvas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from PIL import Image

from apprentice.errors import BadInput

MAX_LAYERS = 1000  # pixel layers in one file; each may become a frame, and a frame is decoded on the whole canvas
MAX_KEYFRAMES = 2000  # keyframes of all animated layers of one file together, as many as an animated file's frames
KEYFRAME = "\x1f"  # joins an animated layer's name and a keyframe's time in a part: XML 1.0 names never hold it


@dataclass(frozen=True)
class Layer:
    """One pixel layer as its file describes it: name, where its pixels live, offset on the canvas."""

    name: str
    source: Any  # a zip member name (ORA, KRA) or a psd-tools layer (PSD)
    x: int = 0
    y: int = 0
    colour_space: str = "RGBA"


@dataclass(frozen=True)
class Document:
    """An opened layered file: its name for messages, canvas size, pixel layers top to bottom, how to render one."""

    name: str
    size: tuple[int, int]
    layers: list[Layer]
    render: Callable[[Layer], Image.Image]
    keyframes: dict[str, dict[int, Layer]] = field(default_factory=dict)  # animated layer → time → its drawing

    def layer(self, name: str) -> Layer | None:
        """The topmost layer called `name`, or one keyframe of an animated layer (`keyframe_part`), or None."""
        layer, mark, time = name.partition(KEYFRAME)
        if mark:
            return self.keyframes.get(layer, {}).get(int(time)) if time.isdigit() else None
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Layer]:
        return {layer.name: layer for layer in reversed(self.layers)}


def keyframe_part(layer: str, time: int) -> str:
    """How a part names the drawing an animated layer shows from keyframe `time` on."""
    return f"{layer}{KEYFRAME}{time}"


def part_words(part: str) -> str:
    """A part in words for a message: "layer 'walk'", or "layer 'walk', keyframe at frame 3"."""
    layer, mark, time = part.partition(KEYFRAME)
    return f"layer '{layer}', keyframe at frame {time}" if mark else f"layer '{layer}'"


def check_layer_count(count: int, name: str) -> None:
    """Refuse a file with more pixel layers than MAX_LAYERS, before any layer is decoded."""
    if count > MAX_LAYERS:
        raise BadInput(
            f"{name} has {count:,} layers; Apprentice reads at most {MAX_LAYERS:,} — merge or remove layers "
            "and add it again."
        )


def on_canvas(size: tuple[int, int], image: Image.Image | None, x: int, y: int) -> Image.Image:
    """A transparent canvas of `size` with `image` (if any) placed with its top-left corner at (x, y)."""
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    if image is not None and -image.width < x < size[0] and -image.height < y < size[1]:
        canvas.paste(image.convert("RGBA"), (x, y))
    return canvas
