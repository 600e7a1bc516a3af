"""Layered files (PSD, Krita .kra, OpenRaster .ora): the names of their pixel layers, and one layer as pixels.

Zip-based files are read wholly in memory, unpacked under size caps and never written to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats.archive import MAX_UNPACKED_BYTES
from apprentice.formats.krita import open_kra
from apprentice.formats.layers import Document, Layer
from apprentice.formats.openraster import open_ora
from apprentice.formats.psd import open_psd

LAYERED_SUFFIXES = {".psd", ".kra", ".ora"}


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


def _load(path: Path) -> Document:
    """Read a layered file into memory (refusing other suffixes and oversized zips first) and open it."""
    opener = _opener(str(path))
    limit = None if path.suffix.lower() == ".psd" else MAX_UNPACKED_BYTES + 1
    try:
        with path.open("rb") as file:
            data = file.read(limit)
    except OSError as error:
        raise BadInput(f"{path} cannot be read ({error.strerror}); check that it exists.") from None
    return opener(data, str(path))


def _opener(name: str) -> Callable[[bytes, str], Document]:
    """The function that opens a layered file of this name's suffix."""
    openers = {".psd": open_psd, ".kra": open_kra, ".ora": open_ora}
    opener = openers.get(Path(name).suffix.lower())
    if opener is None:
        raise BadInput(f"{name} is not a layered file; pass a .psd, .kra or .ora file, or a folder of flat images.")
    return opener


def _find_layer(document: Document, name: str) -> Layer:
    """The topmost layer called `name`, or BadInput listing the layers the file has."""
    for layer in document.layers:
        if layer.name == name:
            return layer
    if not document.layers:
        raise BadInput(f"{document.name} has no pixel layers; put the drawings on pixel layers and save it again.")
    names = list(dict.fromkeys(layer.name for layer in document.layers))
    listed = ", ".join(repr(each) for each in names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    raise BadInput(f"{document.name} has no layer named {name!r}; its layers are: {listed}; pass one of those names.")
