"""The one module that names the Qt binding (PyQt5 in Krita 5; PyQt6 when Krita 6 comes), and the errand runner
that keeps the workshop's requests off Krita's UI thread and hands their results back to it by signal.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from .layers import LayerError
from .pixels import PictureError
from .workshop import WorkshopError

try:
    from PyQt5 import QtCore, QtGui, QtWidgets

    BINDING = "PyQt5"
except ImportError:
    from PyQt6 import QtCore, QtGui, QtWidgets

    BINDING = "PyQt6"

__all__ = ["BINDING", "QtCore", "QtGui", "QtWidgets", "in_background", "pixmap", "sentence", "settle"]
KNOWN = (WorkshopError, LayerError, PictureError)
Signal = QtCore.pyqtSignal


class Delivery(QtCore.QObject):
    """Lives on the UI thread; its signals, emitted by a worker, run their slots there."""

    done = Signal(object)
    failed = Signal(object)


class Errand(QtCore.QRunnable):
    """One piece of blocking work on Qt's thread pool."""

    def __init__(self, work: Callable[[], object], delivery: Delivery) -> None:
        super().__init__()
        self.work, self.delivery = work, delivery

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as error:  # delivered to the docker, which shows one sentence
            if not isinstance(error, KNOWN):
                traceback.print_exc()
            self.delivery.failed.emit(error)
        else:
            self.delivery.done.emit(result)


PENDING: set[Delivery] = set()  # deliveries wait here until their errand reports


def in_background(work: Callable[[], object], done: Callable[[object], None], failed: Callable[[object], None]) -> None:
    """Run `work` on a worker thread; then `done(result)` or `failed(error)` on the UI thread."""
    delivery = Delivery()
    PENDING.add(delivery)
    delivery.done.connect(done)
    delivery.failed.connect(failed)
    delivery.done.connect(lambda _: PENDING.discard(delivery))
    delivery.failed.connect(lambda _: PENDING.discard(delivery))
    QtCore.QThreadPool.globalInstance().start(Errand(work, delivery))


def settle(seconds: float = 0.2) -> None:
    """Let Krita's event loop run for a moment: it applies a change of the current time there."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QtWidgets.QApplication.processEvents()
        time.sleep(0.01)


def sentence(error: object) -> str:
    """What the docker shows for an error: its own sentence, or where to look for a bug's details."""
    if isinstance(error, KNOWN):
        return str(error)
    return f"Something went wrong in the plugin ({error!r}); Krita's log has the details."


def pixmap(png: bytes, width: int) -> QtGui.QPixmap:
    """A PNG as a pixmap at most `width` wide."""
    image = QtGui.QImage.fromData(png)
    if image.width() > width:
        image = image.scaledToWidth(width, QtCore.Qt.TransformationMode.SmoothTransformation)
    return QtGui.QPixmap.fromImage(image)
