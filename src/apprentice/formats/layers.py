"""The shape every layered-file reader returns: a document of pixel layers, and placing a layer on its canvas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from PIL import Image

from apprentice.errors import BadInput

MAX_LAYERS = 1000  # pixel layers in one file; each may become a frame, and a frame is decoded on the whole canvas


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

    def layer(self, name: str) -> Layer | None:
        """The topmost layer called `name`, found without walking the whole stack, or None."""
        return self._by_name.get(name)

    @cached_property
    def _by_name(self) -> dict[str, Layer]:
        return {layer.name: layer for layer in reversed(self.layers)}


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
