"""Pictures for the page: thumbnails of works and the training preview strip, as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

PANEL = 320  # the longest side of each picture in the preview strip
GAP = 4


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def thumbnail(image: Image.Image, size: int) -> bytes:
    """The image as a PNG whose longest side is at most `size`, keeping transparency."""
    small = image.convert("RGBA")
    small.thumbnail((size, size))
    return png_bytes(small)


def on_paper(picture: np.ndarray, size: int) -> Image.Image:
    """A uint8 RGBA array laid over white paper, scaled down to fit `size`."""
    image = Image.fromarray(np.ascontiguousarray(picture))
    image.thumbnail((size, size))
    paper = Image.new("RGBA", image.size, "white")
    return Image.alpha_composite(paper, image.convert("RGBA")).convert("RGB")


def preview_strip(pictures: tuple[np.ndarray, ...], size: int = PANEL) -> bytes:
    """Held-out pictures (before, apprentice, after) side by side over white, with grey gaps, as a PNG."""
    panels = [on_paper(picture, size) for picture in pictures]
    width = sum(panel.width for panel in panels) + GAP * (len(panels) - 1)
    strip = Image.new("RGB", (width, max(panel.height for panel in panels)), (200, 200, 200))
    x = 0
    for panel in panels:
        strip.paste(panel, (x, 0))
        x += panel.width + GAP
    return png_bytes(strip)
