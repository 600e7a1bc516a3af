"""What the plugin reads from and writes to a Krita document, without Qt: layers, selections and animation frames.

Krita's 8-bit RGBA pixel data is B,G,R,A; other colour models are refused in one sentence, and so is writing to
layers whose `setPixelData` does nothing (groups, file and clone layers). Call these on Krita's UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pixels import Picture, is_blank, masked, swap_red_blue

READ_FROM_PROJECTION = ("grouplayer", "filelayer", "clonelayer", "vectorlayer", "filllayer", "filterlayer")
WRITABLE = ("paintlayer",)
ADD_FRAME = "add_blank_frame"  # Krita's action that makes a new, empty keyframe at the current time


class LayerError(Exception):
    """A layer or document the plugin cannot use, in one sentence naming it and the fix."""


@dataclass(frozen=True)
class Region:
    """Where a picture sits in the document, in pixels."""

    x: int
    y: int
    width: int
    height: int


def check_readable(node: object) -> None:
    """Refuse layers whose pixels are not 8-bit RGBA."""
    model, depth = node.colorModel(), node.colorDepth()
    if (model, depth) != ("RGBA", "U8"):
        raise LayerError(
            f"Layer '{node.name()}' is {model} {depth}; the apprentice reads 8-bit RGBA only: "
            "convert it with Layer → Convert → Convert Layer Color Space (RGB/Alpha, 8-bit integer)."
        )


def check_writable(node: object) -> None:
    """Refuse layers that Krita will not paint into from a script."""
    if node.type() not in WRITABLE:
        raise LayerError(
            f"Layer '{node.name()}' is a {node.type()}, which Krita cannot paint into from a plugin; "
            "choose a paint layer."
        )
    check_readable(node)


def whole(document: object) -> Region:
    return Region(0, 0, document.width(), document.height())


def overlap(a: Region, b: Region) -> Region:
    x, y = max(a.x, b.x), max(a.y, b.y)
    right, bottom = min(a.x + a.width, b.x + b.width), min(a.y + a.height, b.y + b.height)
    return Region(x, y, max(0, right - x), max(0, bottom - y))


def read(node: object, region: Region) -> Picture:
    """The node's pixels in the region (a group's, file or clone layer's: as shown) as RGBA."""
    check_readable(node)
    reader = node.projectionPixelData if node.type() in READ_FROM_PROJECTION else node.pixelData
    data = bytes(reader(region.x, region.y, region.width, region.height))
    return Picture(region.width, region.height, swap_red_blue(data))


def read_frame(node: object, region: Region, time: int) -> Picture:
    """The node's pixels in the region at one animation frame, as RGBA."""
    check_readable(node)
    data = bytes(node.pixelDataAtTime(region.x, region.y, region.width, region.height, time))
    return Picture(region.width, region.height, swap_red_blue(data))


def write(node: object, region: Region, picture: Picture) -> None:
    """Paint the picture into the node's current frame at the region (Krita takes B,G,R,A)."""
    check_writable(node)
    node.setPixelData(swap_red_blue(picture.rgba), region.x, region.y, region.width, region.height)


def pair(document: object, before: object, after: object) -> tuple[Picture, Picture]:
    """The before and after layers over the whole document, for one example."""
    if before is None or after is None or before == after:
        raise LayerError("Choose two different layers: the before and the after.")
    pictures = read(before, whole(document)), read(after, whole(document))
    for node, picture in zip((before, after), pictures, strict=True):
        if is_blank(picture):
            raise LayerError(f"Layer '{node.name()}' is empty; choose the layer that holds the drawing.")
    return pictures


def selected(document: object, node: object) -> tuple[Region, Picture]:
    """What Apply works on: the selection if there is one, else the whole layer (within the document)."""
    if node is None:
        raise LayerError("There is no active layer; click the layer to apply the apprentice to.")
    selection = document.selection()
    if selection is not None and selection.width() > 0 and selection.height() > 0:
        region = overlap(Region(selection.x(), selection.y(), selection.width(), selection.height()), whole(document))
        picture = read(node, region)
        mask = bytes(selection.pixelData(region.x, region.y, region.width, region.height))
        return region, masked(picture, mask)
    bounds = node.bounds()
    region = overlap(Region(bounds.x(), bounds.y(), bounds.width(), bounds.height()), whole(document))
    if region.width == 0 or region.height == 0:
        raise LayerError(f"Layer '{node.name()}' is empty; draw on it or choose another layer.")
    return region, read(node, region)


def put_above(document: object, node: object, region: Region, picture: Picture, name: str) -> object:
    """A new paint layer called `name` right above `node` holding the picture; nothing else is touched."""
    layer = document.createNode(name, "paintlayer")
    parent = node.parentNode() or document.rootNode()
    parent.addChildNode(layer, node)
    write(layer, region, picture)
    document.refreshProjection()
    return layer


def keyframe_times(document: object, node: object) -> list[int]:
    """The times of the node's keyframes within the document's animation, in order."""
    start, end = document.fullClipRangeStartTime(), document.fullClipRangeEndTime()
    return [time for time in range(start, end + 1) if node.hasKeyframeAtTime(time)]


def frames(document: object, node: object) -> list[Picture]:
    """The active layer's keyframes over the whole document, for an in-between task to learn from."""
    if node is None:
        raise LayerError("There is no active layer; click the animated layer that holds your frames.")
    times = keyframe_times(document, node)
    if len(times) < 3:
        raise LayerError(
            f"Layer '{node.name()}' has {len(times)} keyframe(s); an in-between is learned from three drawings "
            "in a row, so animate at least three."
        )
    return [read_frame(node, whole(document), time) for time in times]


def inbetween_times(keys: list[int], between: int) -> list[list[int]]:
    """For each two keys in a row, the times of the `between` frames drawn between them, spaced evenly."""
    times = []
    for first, second in zip(keys, keys[1:], strict=False):
        if second - first <= between:
            raise LayerError(
                f"The keys at frames {first} and {second} leave room for {second - first - 1} in-between(s), "
                f"not {between}; lower the in-betweens or space the keys out."
            )
        times.append([first + round(n * (second - first) / (between + 1)) for n in range(1, between + 1)])
    return times


def put_inbetweens(
    document: object, node: object, drawn: dict[int, Picture], add_frame: object, settle: object = lambda: None
) -> list[int]:
    """Paint each drawn picture into a new keyframe of `node` at its time; `add_frame()` makes the blank keyframe
    at the current time (Krita's add_blank_frame action), `settle()` lets Krita's event loop apply a change of
    time first. Refuses times that already hold a keyframe."""
    check_writable(node)
    taken = [time for time in drawn if node.hasKeyframeAtTime(time)]
    if taken:
        raise LayerError(f"Frame {taken[0]} of layer '{node.name()}' already holds a drawing; clear it first.")
    was = document.currentTime()
    document.setActiveNode(node)
    for time, picture in sorted(drawn.items()):
        document.setCurrentTime(time)
        settle()
        add_frame()
        settle()
        if not node.hasKeyframeAtTime(time):
            raise LayerError(f"Krita made no keyframe at frame {time} of layer '{node.name()}'; select the layer.")
        write(node, whole(document), picture)
    document.setCurrentTime(was)
    document.refreshProjection()
    return sorted(drawn)
