"""Layered files (PSD, Krita .kra, OpenRaster .ora): the names of their pixel layers, and one layer as pixels.

Zip-based files are read wholly in memory, unpacked under size caps and never written to disk. The file opened
last stays open, so reading its layers one after another (as frames, or as the parts of many examples) parses
it once, not once per layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats.archive import MAX_UNPACKED_BYTES
from apprentice.formats.krita import open_kra
from apprentice.formats.layers import Document, Layer
from apprentice.formats.openraster import open_ora
from apprentice.formats.psd import open_psd

LAYERED_SUFFIXES = {".psd", ".kra", ".ora"}


@dataclass(frozen=True)
class _Opened:
    """A layered file kept open: what identifies its file (path and status, or name and bytes), the document,
    and a lock so that threads render its layers one at a time."""

    key: tuple
    document: Document
    lock: threading.Lock = field(default_factory=threading.Lock)


_last: dict[str, _Opened] = {}  # "last" → the file opened last; replaced in one assignment, so threads never see half


def is_layered(path: Path) -> bool:
    """Whether `path` names a layered file Apprentice reads (by its suffix)."""
    return Path(path).suffix.lower() in LAYERED_SUFFIXES


def layer_names(path: Path) -> list[str]:
    """Names of the pixel layers, top to bottom as the layer panel shows them.

    Groups are flattened to the pixel layers inside them; other kinds of layer (text, vector, filter,
    adjustment, file layers) are left out.
    """
    return [layer.name for layer in open_layered(path).layers]


def open_layered(path: Path) -> Document:
    """The layered file at `path`, opened (its layers listed, none decoded); kept while the file is unchanged."""
    return _opened_file(Path(path)).document


def read_layer(path: Path, name: str) -> Image.Image:
    """The pixel layer called `name` as an RGBA image of the full canvas, transparent where it has no pixels.

    The layer's own pixels are placed at its offset; its opacity, visibility, blend mode and masks are
    ignored. Where two layers share the name, the topmost is read.
    """
    return _render(_opened_file(Path(path)), name)


def decode_layer(data: bytes, name: str, layer: str) -> Image.Image:
    """`read_layer` for a layered file already in memory; `name` (its file name) picks the format and names it."""
    opener = _opener(name)
    return _render(_kept(("bytes", name, data), lambda: opener(data, name)), layer)


def _render(opened: _Opened, name: str) -> Image.Image:
    layer = _find_layer(opened.document, name)
    with opened.lock:
        return opened.document.render(layer)


def _opened_file(path: Path) -> _Opened:
    """The file at `path`, opened again only when its size, modification time or inode changed."""
    _opener(str(path))
    try:
        status = path.stat()
    except OSError as error:
        raise BadInput(f"{path} cannot be read ({error.strerror}); check that it exists.") from None
    return _kept(("file", str(path), status.st_mtime_ns, status.st_size, status.st_ino), lambda: _load(path))


def _kept(key: tuple, open_document: Callable[[], Document]) -> _Opened:
    """The document opened last when `key` names the same file (bytes compare by identity, then content)."""
    last = _last.get("last")
    if last is not None and last.key == key:
        return last
    opened = _Opened(key, open_document())
    _last["last"] = opened
    return opened


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
    layer = document.layer(name)
    if layer is not None:
        return layer
    if not document.layers:
        raise BadInput(f"{document.name} has no pixel layers; put the drawings on pixel layers and save it again.")
    names = list(dict.fromkeys(layer.name for layer in document.layers))
    listed = ", ".join(repr(each) for each in names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    raise BadInput(f"{document.name} has no layer named {name!r}; its layers are: {listed}; pass one of those names.")
