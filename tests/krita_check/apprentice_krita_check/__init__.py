"""Only for tests (tests/test_krita_real.py): inside a real Krita, teach, train and apply through the Apprentice
plugin on a new document, photograph the docker, and write what Krita's layers hold to $APPRENTICE_KRITA_CHECK.
"""

import json
import os
import time
import traceback
from pathlib import Path

from apprentice_krita import errands, layers, pixels
from apprentice_krita.qt import settle
from apprentice_krita.workshop import Workshop
from krita import Extension, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

OUT = Path(os.environ.get("APPRENTICE_KRITA_CHECK", "."))
W, H = 48, 40


def wait(seconds: float) -> None:
    """Let Krita's event loop run (the docker's errands report through it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def paint(document, name: str, raw: str, kind: str = "paintlayer"):
    node = document.createNode(name, kind)
    document.rootNode().addChildNode(node, None)
    node.setPixelData((OUT / raw).read_bytes(), 0, 0, W, H)
    return node


def trained(workshop: Workshop, task: str) -> dict:
    workshop.train(task, steps=3)
    deadline = time.monotonic() + 120
    while (state := workshop.training(task))["running"] and time.monotonic() < deadline:
        wait(0.2)
    return state


def pair_loop(app, report: dict) -> None:
    document = app.createDocument(W, H, "check", "RGBA", "U8", "", 72.0)
    app.activeWindow().addView(document)
    sketch, ink = paint(document, "sketch", "before.bgra"), paint(document, "ink", "after.bgra")
    group = paint(document, "group", "before.bgra", "grouplayer")
    report["group_written"] = bool(group.setPixelData((OUT / "after.bgra").read_bytes(), 0, 0, W, H))
    try:
        layers.write(group, layers.whole(document), pixels.Picture(W, H, bytes(W * H * 4)))
    except layers.LayerError as refused:
        report["group_refused"] = str(refused)
    document.refreshProjection()
    workshop = Workshop()
    workshop.new_task("ink")
    report["taught"] = errands.teach(workshop, "ink", errands.pair_files(document, sketch, ink))
    report["training"] = trained(workshop, "ink")
    rough = paint(document, "rough", "rough.bgra")
    region, picture = layers.selected(document, rough)
    applied = errands.apply_to(workshop, "ink", region, picture)
    made = layers.put_above(document, rough, applied.region, applied.picture, applied.layer_name)
    wait(0.5)
    report["layers"] = [node.name() for node in document.rootNode().childNodes()]
    report["made"] = {"name": made.name(), "type": made.type(), "region": list(vars(applied.region).values())}
    (OUT / "made.bgra").write_bytes(bytes(made.pixelData(0, 0, W, H)))
    (OUT / "rough-after.bgra").write_bytes(bytes(rough.pixelData(0, 0, W, H)))
    app.activeWindow().showView(app.activeWindow().views()[0])


def keyframes(document, node, frames: dict[int, str]):
    """Keyframes painted as an artist would: select the layer, Krita's add_blank_frame at each time, then paint."""
    add_frame = Krita.instance().action(layers.ADD_FRAME).trigger
    document.setActiveNode(node)
    wait(0.5)
    for when, raw in frames.items():
        document.setCurrentTime(when)
        wait(0.3)
        add_frame()
        wait(0.3)
        node.setPixelData((OUT / raw).read_bytes(), 0, 0, W, H)
    document.setCurrentTime(0)
    return node


SHOT: dict = {}


def new_shot(app) -> None:
    """A document with two empty layers; Krita's layer list takes them in only back in its own event loop."""
    document = app.createDocument(W, H, "shot", "RGBA", "U8", "", 72.0)
    app.activeWindow().addView(document)
    for name in ("walk", "keys"):
        SHOT[name] = document.createNode(name, "paintlayer")
        document.rootNode().addChildNode(SHOT[name], None)
    SHOT["document"] = document


def inbetween_loop(app, report: dict) -> None:
    document = SHOT["document"]
    walk = keyframes(document, SHOT["walk"], {t: f"ball{t}.bgra" for t in range(5)})
    report["walk_keys"] = layers.keyframe_times(document, walk)
    workshop = Workshop()
    workshop.new_task("tween", "inbetween")
    report["tween_taught"] = errands.teach(workshop, "tween", errands.frame_files(document, walk))
    report["tween_training"] = trained(workshop, "tween")
    keys = keyframes(document, SHOT["keys"], {0: "ball0.bgra", 4: "ball4.bgra"})
    times, files = errands.key_files(document, keys)
    found = errands.draw_between(workshop, "tween", times, files, 3)
    document.setActiveNode(keys)
    wait(0.3)
    add_frame = app.action(layers.ADD_FRAME).trigger
    report["tween_added"] = layers.put_inbetweens(document, keys, found.drawn, add_frame, settle)
    report["keys_keys"] = layers.keyframe_times(document, keys)
    for when in range(5):
        (OUT / f"keys-at-{when}.bgra").write_bytes(bytes(keys.pixelDataAtTime(0, 0, W, H, when)))
    report["walk_after"] = [
        bytes(walk.pixelDataAtTime(0, 0, W, H, t)) == (OUT / f"ball{t}.bgra").read_bytes() for t in range(5)
    ]
    document.setModified(False)


def photograph(app, report: dict) -> None:
    """The docker beside the document: shown, refreshed, then grabbed with Qt."""
    window = app.activeWindow().qwindow()
    docker = next((d for d in app.dockers() if d.objectName() == "apprentice_docker"), None)
    report["docker_found"] = docker is not None
    if docker is None:
        return
    for other in app.dockers():
        if other is not docker and other.objectName() != "KisLayerBox":
            other.hide()
    docker.show()
    docker.raise_()
    window.resize(1400, 900)
    docker.refresh()
    wait(4)
    docker.fill_layers()
    wait(1)
    report["docker_status"] = docker.status.text()
    report["docker_card"] = docker.card.text()
    window.grab().save(str(OUT / "krita-window.png"))
    docker.widget().widget().grab().save(str(OUT / "krita-docker.png"))  # the whole docker, scrolled or not


REPORT: dict = {}


def guarded(step) -> bool:
    try:
        step(Krita.instance(), REPORT)
    except Exception:
        REPORT["error"] = traceback.format_exc()
        (OUT / "report.json").write_text(json.dumps(REPORT, indent=2, default=str))
        return False
    return True


def run() -> None:
    """Pairs first; the shot's layers are made, then used after Krita's own event loop has taken them in."""
    if guarded(pair_loop) and guarded(lambda app, _: new_shot(app)):
        QTimer.singleShot(1500, finish)


def finish() -> None:
    if guarded(inbetween_loop) and guarded(photograph):
        (OUT / "report.json").write_text(json.dumps(REPORT, indent=2, default=str))


class Check(Extension):
    def setup(self) -> None:
        pass

    def createActions(self, window) -> None:  # noqa: N802 (Krita calls it once the window exists)
        QTimer.singleShot(3000, run)


Krita.instance().addExtension(Check(Krita.instance()))
