"""A small stand-in for Krita's `krita` module: documents, nodes, selections and the add_blank_frame action,
with Krita's quirks kept (8-bit RGBA pixel data is B,G,R,A; setPixelData does nothing on groups, file and clone
layers; it paints into the keyframe held at the current time)."""

from __future__ import annotations

import sys
import types

PAINTABLE = "paintlayer"


class Rect:
    def __init__(self, x: int, y: int, width: int, height: int) -> None:
        self.box = (x, y, width, height)

    def x(self) -> int:
        return self.box[0]

    def y(self) -> int:
        return self.box[1]

    def width(self) -> int:
        return self.box[2]

    def height(self) -> int:
        return self.box[3]


def cut(canvas: bytes, size: tuple[int, int], x: int, y: int, w: int, h: int, bpp: int) -> bytes:
    """The w × h rectangle at x, y of a canvas of `size`; zeros outside it."""
    width, height = size
    out = bytearray(w * h * bpp)
    for row in range(h):
        for col in range(w):
            cx, cy = x + col, y + row
            if 0 <= cx < width and 0 <= cy < height:
                at = (cy * width + cx) * bpp
                out[(row * w + col) * bpp : (row * w + col + 1) * bpp] = canvas[at : at + bpp]
    return bytes(out)


def paste(canvas: bytearray, size: tuple[int, int], data: bytes, x: int, y: int, w: int, h: int) -> None:
    width, height = size
    for row in range(h):
        for col in range(w):
            cx, cy = x + col, y + row
            if 0 <= cx < width and 0 <= cy < height:
                at = (cy * width + cx) * 4
                canvas[at : at + 4] = data[(row * w + col) * 4 : (row * w + col + 1) * 4]


class Node:
    """A layer over the whole canvas: one BGRA canvas per keyframe (time 0 only, unless animated)."""

    def __init__(self, document: Document, name: str, kind: str = PAINTABLE, model: str = "RGBA", depth: str = "U8"):
        self.document, self._name, self.kind, self.model, self.depth = document, name, kind, model, depth
        self.frames: dict[int, bytearray] = {0: bytearray(document.width() * document.height() * 4)}
        self.animated = False
        self.parent: Node | None = None
        self.children: list[Node] = []

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self.kind

    def colorModel(self) -> str:  # noqa: N802 (Krita's names)
        return self.model

    def colorDepth(self) -> str:  # noqa: N802
        return self.depth

    def parentNode(self) -> Node | None:  # noqa: N802
        return self.parent

    def childNodes(self) -> list[Node]:  # noqa: N802
        return list(self.children)

    def addChildNode(self, child: Node, above: Node | None) -> bool:  # noqa: N802
        child.parent = self
        self.children.insert(self.children.index(above) + 1 if above in self.children else len(self.children), child)
        return True

    def held(self, time: int) -> bytearray:
        earlier = [t for t in self.frames if t <= time]
        return self.frames[max(earlier) if earlier else min(self.frames)]

    def size(self) -> tuple[int, int]:
        return self.document.width(), self.document.height()

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        return cut(self.held(self.document.time), self.size(), x, y, w, h, 4)

    def projectionPixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        return self.pixelData(x, y, w, h)

    def pixelDataAtTime(self, x: int, y: int, w: int, h: int, time: int) -> bytes:  # noqa: N802
        return cut(self.held(time), self.size(), x, y, w, h, 4)

    def setPixelData(self, data: bytes, x: int, y: int, w: int, h: int) -> bool:  # noqa: N802
        if self.kind != PAINTABLE:
            return False  # as in Krita: nothing happens on groups, file and clone layers
        paste(self.held(self.document.time), self.size(), bytes(data), x, y, w, h)
        return True

    def hasKeyframeAtTime(self, time: int) -> bool:  # noqa: N802
        return self.animated and time in self.frames

    def bounds(self) -> Rect:
        width, height = self.size()
        canvas = self.held(self.document.time)
        spots = [(i % width, i // width) for i in range(width * height) if canvas[i * 4 + 3]]
        if not spots:
            return Rect(0, 0, 0, 0)
        xs, ys = [s[0] for s in spots], [s[1] for s in spots]
        return Rect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


class Selection:
    """A selection: its bounds and an 8-bit mask over the canvas."""

    def __init__(self, document: Document, x: int, y: int, w: int, h: int, value: int = 255) -> None:
        self.document, self.rect = document, Rect(x, y, w, h)
        self.mask = bytearray(document.width() * document.height())
        for row in range(y, y + h):
            self.mask[row * document.width() + x : row * document.width() + x + w] = bytes([value]) * w

    def x(self) -> int:
        return self.rect.x()

    def y(self) -> int:
        return self.rect.y()

    def width(self) -> int:
        return self.rect.width()

    def height(self) -> int:
        return self.rect.height()

    def pixelData(self, x: int, y: int, w: int, h: int) -> bytes:  # noqa: N802
        return cut(self.mask, (self.document.width(), self.document.height()), x, y, w, h, 1)


class Document:
    def __init__(self, width: int, height: int, file_name: str = "/art/walk.kra") -> None:
        self.size, self.file_name = (width, height), file_name
        self.root = Node.__new__(Node)
        self.root.document, self.root._name, self.root.kind, self.root.parent, self.root.children = (
            self,
            "root",
            "grouplayer",
            None,
            [],
        )
        self.time, self.active, self.chosen, self.refreshed = 0, None, None, 0
        self.clip = (0, 100)

    def width(self) -> int:
        return self.size[0]

    def height(self) -> int:
        return self.size[1]

    def name(self) -> str:
        return "walk"

    def fileName(self) -> str:  # noqa: N802
        return self.file_name

    def rootNode(self) -> Node:  # noqa: N802
        return self.root

    def createNode(self, name: str, kind: str) -> Node:  # noqa: N802
        return Node(self, name, kind)

    def selection(self) -> Selection | None:
        return self.chosen

    def refreshProjection(self) -> None:  # noqa: N802
        self.refreshed += 1

    def currentTime(self) -> int:  # noqa: N802
        return self.time

    def setCurrentTime(self, time: int) -> None:  # noqa: N802
        self.time = time

    def activeNode(self) -> Node | None:  # noqa: N802
        return self.active

    def setActiveNode(self, node: Node) -> None:  # noqa: N802
        self.active = node

    def fullClipRangeStartTime(self) -> int:  # noqa: N802
        return self.clip[0]

    def fullClipRangeEndTime(self) -> int:  # noqa: N802
        return self.clip[1]


class Action:
    def __init__(self, app: Krita, name: str) -> None:
        self.app, self.name = app, name

    def trigger(self) -> None:
        document = self.app.document
        if self.name == "add_blank_frame" and document is not None and document.active is not None:
            node = document.active
            node.animated = True
            node.frames[document.time] = bytearray(document.width() * document.height() * 4)


class Krita:
    current: Krita | None = None

    def __init__(self) -> None:
        self.document: Document | None = None

    @classmethod
    def instance(cls) -> Krita:
        cls.current = cls.current or Krita()
        return cls.current

    def activeDocument(self) -> Document | None:  # noqa: N802
        return self.document

    def action(self, name: str) -> Action:
        return Action(self, name)


def layer(document: Document, name: str, bgra_frames: dict[int, bytes], kind: str = PAINTABLE, **colour) -> Node:
    """A layer added on top of the document, holding the given B,G,R,A canvases by time (animated if several)."""
    node = Node(document, name, kind, **colour)
    node.frames = {time: bytearray(data) for time, data in bgra_frames.items()}
    node.animated = len(bgra_frames) > 1
    document.root.addChildNode(node, None)
    return node


def as_module() -> types.ModuleType:
    """This stand-in as the module `krita`, as a plugin imports it."""
    module = types.ModuleType("krita")
    module.Krita, module.Document, module.Node, module.Selection = Krita, Document, Node, Selection
    return module


def installed() -> types.ModuleType:
    sys.modules["krita"] = module = as_module()
    return module
