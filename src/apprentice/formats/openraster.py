"""OpenRaster (.ora) files: stack.xml's canvas and PNG layers, one layer rendered on demand."""

from __future__ import annotations

from PIL import Image

from apprentice.formats.archive import Archive, local_name
from apprentice.formats.images import check_size, decode_image
from apprentice.formats.layers import Document, Layer, check_layer_count, on_canvas


def open_ora(data: bytes, name: str) -> Document:
    """Read an OpenRaster file's stack.xml: canvas size and its PNG layers, top to bottom."""
    archive = Archive(data, name, "an OpenRaster file", "save it again from your drawing program")
    root = archive.xml("stack.xml")
    size = (archive.integer(root, "w", "stack.xml"), archive.integer(root, "h", "stack.xml"))
    check_size(*size, name)
    layers = [
        Layer(
            element.get("name", ""),
            element.get("src"),
            archive.integer(element, "x", "stack.xml", "0"),
            archive.integer(element, "y", "stack.xml", "0"),
        )
        for element in root.iter()
        if local_name(element.tag) == "layer" and element.get("src")
    ]
    check_layer_count(len(layers), name)
    return Document(name, size, layers, lambda layer: _render_ora(archive, size, layer))


def _render_ora(archive: Archive, size: tuple[int, int], layer: Layer) -> Image.Image:
    """Decode one OpenRaster layer's PNG and place it on the canvas."""
    image = decode_image(archive.read(layer.source), f"{archive.name} (layer {layer.name!r})")
    return on_canvas(size, image, layer.x, layer.y)
