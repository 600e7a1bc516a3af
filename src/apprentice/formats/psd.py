"""Photoshop (.psd) files: the header checked first, pixel layers listed, one layer rendered on demand."""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable
from typing import Any

from PIL import Image
from psd_tools import PSDDecompressionWarning, PSDImage

from apprentice.errors import BadInput
from apprentice.formats.images import MAX_PIXELS, check_size
from apprentice.formats.layers import Document, Layer, check_layer_count, on_canvas

MAX_PSD_ALLOC = 16 * MAX_PIXELS  # bytes psd-tools may allocate to render one layer
PSD_HEADER = struct.Struct(">4sH6xHIIHH")
PSD_MODES = {0: "bitmap", 1: "grayscale", 2: "indexed", 3: "RGB", 4: "CMYK", 7: "multichannel", 8: "duotone", 9: "Lab"}
PSD_READABLE = {(1, 8), (1, 16), (3, 8), (3, 16)}  # (mode, depth) that psd-tools renders faithfully with alpha


def open_psd(data: bytes, name: str) -> Document:
    """Read a PSD's header and layer records; pixels are decoded only when a layer is rendered."""
    size = _psd_canvas(data, name)
    psd = _psd_call(name, lambda: PSDImage.open(io.BytesIO(data), max_alloc_bytes=MAX_PSD_ALLOC))
    layers = [
        Layer(layer.name, layer, layer.left, layer.top)
        for layer in reversed(list(psd.descendants()))
        if layer.kind == "pixel"
    ]
    check_layer_count(len(layers), name)
    return Document(name, size, layers, lambda layer: _render_psd(name, size, layer))


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


def _render_psd(name: str, size: tuple[int, int], layer: Layer) -> Image.Image:
    """Decode one PSD layer's pixels and place them on the canvas."""
    source = layer.source
    if source.width <= 0 or source.height <= 0:
        return on_canvas(size, None, 0, 0)
    check_size(source.width, source.height, f"{name} (layer {layer.name!r})")
    image = _psd_call(name, lambda: source.topil(apply_icc=False))
    return on_canvas(size, image, layer.x, layer.y)


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
