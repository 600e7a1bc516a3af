"""Only for tests (tests/test_krita_animation.py): inside a real Krita, draw a ball on an animated layer at
frames 0, 2, 3 and 6 and save the document to $KRITA_WALK_OUT/walk.kra, as tests/files/krita-walk.kra was made.
"""

import os
import time
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

OUT = os.environ.get("KRITA_WALK_OUT", ".")
W, H = 48, 40
KEYS = ((0, 8), (2, 16), (3, 24), (6, 40))  # (frame, the ball's centre x)
MADE: dict = {}


def wait(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def ball(centre: int) -> bytes:
    """A blue ball of radius 6 at (centre, 20) on a transparent canvas, as BGRA bytes."""
    pixels = bytearray(W * H * 4)
    for y in range(H):
        for x in range(W):
            if (x - centre) ** 2 + (y - 20) ** 2 < 36:
                pixels[(y * W + x) * 4 : (y * W + x) * 4 + 4] = bytes([200, 40, 10, 255])
    return bytes(pixels)


def report(text: str) -> None:
    with open(os.path.join(OUT, "done"), "w") as file:
        file.write(text)


def document() -> None:
    """A document with a still layer and the layer to animate; Krita takes new layers in on its own event loop."""
    try:
        app = Krita.instance()
        made = app.createDocument(W, H, "walk", "RGBA", "U8", "", 72.0)
        app.activeWindow().addView(made)
        walk, still = made.createNode("walk", "paintlayer"), made.createNode("still", "paintlayer")
        made.rootNode().addChildNode(walk, None)
        made.rootNode().addChildNode(still, None)
        still.setPixelData(ball(10), 0, 0, W, H)
        MADE.update(document=made, walk=walk)
        QTimer.singleShot(1500, animate)
    except Exception:
        report(traceback.format_exc())


def animate() -> None:
    """Keyframes as an artist makes them: Krita's add_blank_frame at each frame, then paint; then save."""
    try:
        made, walk = MADE["document"], MADE["walk"]
        made.setActiveNode(walk)
        wait(0.5)
        for when, centre in KEYS:
            made.setCurrentTime(when)
            wait(0.3)
            Krita.instance().action("add_blank_frame").trigger()
            wait(0.3)
            walk.setPixelData(ball(centre), 0, 0, W, H)
        made.setCurrentTime(0)
        wait(0.5)
        made.refreshProjection()
        report(str(made.saveAs(os.path.join(OUT, "walk.kra"))))
    except Exception:
        report(traceback.format_exc())


class Save(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:  # noqa: N802 (Krita calls it once the window exists)
        QTimer.singleShot(3000, document)


Krita.instance().addExtension(Save(Krita.instance()))
