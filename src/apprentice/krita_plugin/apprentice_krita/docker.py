"""The Apprentice docker: workshop status, tasks and their apprentices' cards, Teach, Train (progress, held-out
preview, Stop) and Apply. Reads and writes the document on Krita's UI thread; talks to the workshop in errands.
"""

from __future__ import annotations

from krita import DockWidget, DockWidgetFactory, DockWidgetFactoryBase, Krita

from . import errands, layers
from .qt import QtCore, QtWidgets, in_background, pixmap, sentence, settle
from .workshop import NotRunning, Workshop, start_workshop

DOCKER_ID = "apprentice_docker"
PREVIEW_WIDTH = 260


def all_layers(node: object, depth: int = 0) -> list[tuple[int, object]]:
    """The document's layers top to bottom, with their depth in groups."""
    found = []
    for child in reversed(node.childNodes()):
        found.append((depth, child))
        found += all_layers(child, depth + 1)
    return found


def card_text(apprentice: dict | None) -> str:
    """An apprentice's card: version, held-out score against copying the before, whom it learned from."""
    if apprentice is None:
        return "No apprentice yet: add examples, then Train."
    manifest = apprentice.get("manifest") or {}
    score, copy = apprentice.get("val_psnr"), apprentice.get("identity_psnr")
    lines = [f"<b>Apprentice v{apprentice.get('version', '?')}</b> · {apprentice.get('steps', 0)} steps"]
    if isinstance(score, float):
        lines.append(f"Held-out score {score:.1f} dB" + (f" (copying the before: {copy:.1f} dB)" if copy else ""))
    owners = [
        f"{o.get('name', 'someone')} ({o.get('examples', 0)} ex.)" for o in (manifest.get("owners") or {}).values()
    ]
    lines.append("Learned from " + (", ".join(owners) or "no one listed"))
    if apprentice.get("tainted_by"):
        lines.append("<i>Learned from works since withdrawn: retrain it.</i>")
    return "<br>".join(lines)


class ApprenticeDocker(DockWidget):
    """What an artist sees of Apprentice inside Krita."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Apprentice")
        self.workshop = Workshop()
        self.tasks: list[dict] = []
        self.preview_url: str | None = None
        self.starting = 0
        self.build()
        self.poll = QtCore.QTimer(self)
        self.poll.setInterval(1000)
        self.poll.timeout.connect(self.check_training)
        QtCore.QTimer.singleShot(0, self.refresh)

    def build(self) -> None:
        root = QtWidgets.QWidget(self)
        column = QtWidgets.QVBoxLayout(root)
        self.status = self.label("Looking for your workshop on 127.0.0.1…")
        self.start_button = self.button("Start workshop", self.start)
        self.refresh_button = self.button("Refresh", self.refresh)
        column.addWidget(self.status)
        column.addLayout(self.row(self.start_button, self.refresh_button))
        self.task_box = QtWidgets.QComboBox()
        self.task_box.currentIndexChanged.connect(self.show_task)
        column.addLayout(self.row(QtWidgets.QLabel("Task"), self.task_box, self.button("New…", self.new_task)))
        self.card = self.label("")
        column.addWidget(self.card)
        column.addWidget(self.teach_group())
        column.addWidget(self.train_group())
        column.addWidget(self.apply_group())
        self.message = self.label("")
        column.addWidget(self.message)
        column.addStretch(1)
        scroll = QtWidgets.QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(root)
        self.setWidget(scroll)

    def label(self, text: str) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel(text)
        label.setWordWrap(True)
        return label

    def button(self, text: str, action: object) -> QtWidgets.QPushButton:
        button = QtWidgets.QPushButton(text)
        button.clicked.connect(action)
        return button

    def row(self, *widgets: QtWidgets.QWidget) -> QtWidgets.QHBoxLayout:
        line = QtWidgets.QHBoxLayout()
        for widget in widgets:
            line.addWidget(widget)
        return line

    def teach_group(self) -> QtWidgets.QGroupBox:
        group = QtWidgets.QGroupBox("Teach")
        form = QtWidgets.QFormLayout(group)
        self.before_box, self.after_box = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        self.pair_rows = [("Before", self.before_box), ("After", self.after_box)]
        for text, box in self.pair_rows:
            form.addRow(text, box)
        self.teach_button = self.button("Add as an example", self.teach)
        form.addRow(self.teach_button)
        self.examples = self.label("")
        form.addRow(self.examples)
        return group

    def train_group(self) -> QtWidgets.QGroupBox:
        group = QtWidgets.QGroupBox("Train")
        form = QtWidgets.QFormLayout(group)
        self.minutes = QtWidgets.QDoubleSpinBox()
        self.minutes.setRange(0.5, 600)
        self.minutes.setValue(5)
        self.minutes.setSuffix(" min")
        form.addRow("For", self.minutes)
        self.train_button, self.stop_button = self.button("Train", self.train), self.button("Stop", self.stop)
        self.stop_button.setEnabled(False)
        form.addRow(self.row(self.train_button, self.stop_button))
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress_text = self.label("")
        self.preview = self.label("")
        form.addRow(self.progress)
        form.addRow(self.progress_text)
        form.addRow(self.preview)
        return group

    def apply_group(self) -> QtWidgets.QGroupBox:
        group = QtWidgets.QGroupBox("Apply")
        form = QtWidgets.QFormLayout(group)
        self.between = QtWidgets.QComboBox()
        self.between.addItems([str(n) for n in errands.BETWEENS])
        self.between_label = QtWidgets.QLabel("In-betweens")
        form.addRow(self.between_label, self.between)
        self.spacing = QtWidgets.QComboBox()
        self.spacing.addItems(list(errands.SPACINGS))
        self.spacing_label = QtWidgets.QLabel("Spacing")
        form.addRow(self.spacing_label, self.spacing)
        self.apply_button = self.button("Apply to the active layer", self.apply)
        form.addRow(self.apply_button)
        return group

    # what the docker shows

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #c0392b;" if error else "")
        self.message.setText(text)

    def failed(self, error: object) -> None:
        self.say(sentence(error), error=True)
        if isinstance(error, NotRunning):
            self.show_offline(str(error))

    def show_offline(self, text: str) -> None:
        self.status.setText(text)
        self.start_button.setVisible(True)

    def task_row(self) -> dict | None:
        index = self.task_box.currentIndex()
        return self.tasks[index] if 0 <= index < len(self.tasks) else None

    def in_betweens(self) -> bool:
        return (self.task_row() or {}).get("kind") == "inbetween"

    def refresh(self) -> None:
        in_background(self.workshop.tasks, self.show_tasks, self.failed)

    def show_tasks(self, tasks: object) -> None:
        self.starting = 0
        self.status.setText(f"Your workshop answers at {self.workshop.address}.")
        self.start_button.setVisible(False)
        chosen = (self.task_row() or {}).get("name")
        self.tasks = list(tasks)
        self.task_box.blockSignals(True)
        self.task_box.clear()
        self.task_box.addItems([f"{t['name']} ({t['kind']}, {t['examples']} examples)" for t in self.tasks])
        names = [t["name"] for t in self.tasks]
        self.task_box.setCurrentIndex(names.index(chosen) if chosen in names else 0)
        self.task_box.blockSignals(False)
        self.show_task()

    def show_task(self) -> None:
        task = self.task_row()
        self.fill_layers()
        for widget in (
            self.before_box,
            self.after_box,
            self.form_label(self.before_box),
            self.form_label(self.after_box),
        ):
            if widget is not None:
                widget.setVisible(not self.in_betweens())
        for widget in (self.between, self.between_label, self.spacing, self.spacing_label):
            widget.setVisible(self.in_betweens())
        self.teach_button.setText("Add the active layer's frames" if self.in_betweens() else "Add as an example")
        self.apply_button.setText(
            "Draw in-betweens on the active layer" if self.in_betweens() else "Apply to the active layer"
        )
        if task is None:
            self.card.setText("No task yet: press New… to make one.")
            return
        name = task["name"]
        in_background(lambda: (self.workshop.apprentices(name), self.workshop.task(name)), self.show_card, self.failed)
        self.preview_url = None
        self.check_training()

    def form_label(self, field: QtWidgets.QWidget) -> QtWidgets.QWidget | None:
        form = field.parentWidget().layout() if field.parentWidget() else None
        return form.labelForField(field) if isinstance(form, QtWidgets.QFormLayout) else None

    def show_card(self, found: object) -> None:
        apprentices, task = found
        self.card.setText(card_text(apprentices[0] if apprentices else None))
        names = [example["name"] for example in task.get("example_list", [])]
        what = "in-between" if task.get("kind") == "inbetween" else "pair"
        self.examples.setText(
            f"{len(names)} {what}{'' if len(names) == 1 else 's'}: "
            + ", ".join(names[:12])
            + ("…" if len(names) > 12 else "")
        )

    def canvasChanged(self, canvas: object) -> None:  # noqa: N802 (Krita calls it)
        self.fill_layers()

    def fill_layers(self) -> None:
        document = Krita.instance().activeDocument()
        found = all_layers(document.rootNode()) if document else []
        self.layer_nodes = [node for _, node in found]
        for box in (self.before_box, self.after_box):
            box.clear()
            box.addItems(["  " * depth + node.name() for depth, node in found])
        if len(found) > 1:
            self.before_box.setCurrentIndex(1)  # a sketch usually lies under its clean version

    # what the buttons do

    def new_task(self) -> None:
        name, chosen = QtWidgets.QInputDialog.getText(self, "New task", "Name of the step (say, cleanup or flats):")
        if not chosen or not name.strip():
            return
        kinds = ["paired (before → after)", "inbetween (key poses → in-betweens)"]
        kind, chosen = QtWidgets.QInputDialog.getItem(self, "New task", "What it learns:", kinds, 0, False)
        if chosen:
            work = lambda: self.workshop.new_task(name.strip(), kind.split()[0])  # noqa: E731
            in_background(work, lambda _: self.refresh(), self.failed)

    def start(self) -> None:
        try:
            start_workshop()
        except Exception as error:
            self.failed(error)
            return
        self.status.setText("Starting your workshop…")
        self.starting = 10
        QtCore.QTimer.singleShot(2000, self.retry)

    def retry(self) -> None:
        if self.starting:
            self.starting -= 1
            in_background(self.workshop.tasks, self.show_tasks, lambda _: QtCore.QTimer.singleShot(2000, self.retry))

    def document_and_layer(self) -> tuple[object, object]:
        document = Krita.instance().activeDocument()
        if document is None:
            raise layers.LayerError("Open a document first; the apprentice works on its layers.")
        return document, document.activeNode()

    def teach(self) -> None:
        task = self.task_row()
        try:
            document, node = self.document_and_layer()
            if task is None:
                raise layers.LayerError("Make a task first with New….")
            if self.in_betweens():
                files = errands.frame_files(document, node)
            else:
                before = self.layer_nodes[self.before_box.currentIndex()] if self.layer_nodes else None
                after = self.layer_nodes[self.after_box.currentIndex()] if self.layer_nodes else None
                files = errands.pair_files(document, before, after)
        except Exception as error:
            self.failed(error)
            return
        self.say("Adding the example…")
        in_background(lambda: errands.teach(self.workshop, task["name"], files), self.taught, self.failed)

    def taught(self, answer: object) -> None:
        added = answer.get("added", [])
        self.say(f"Added {len(added)} example(s)." if added else "Those layers were already an example.")
        self.refresh()

    def train(self) -> None:
        task = self.task_row()
        if task is None:
            return
        minutes = self.minutes.value()
        in_background(lambda: self.workshop.train(task["name"], minutes=minutes), self.show_training, self.failed)

    def stop(self) -> None:
        task = self.task_row()
        if task is not None:
            in_background(lambda: self.workshop.stop(task["name"]), self.show_training, self.failed)

    def check_training(self) -> None:
        task = self.task_row()
        if task is None:
            self.poll.stop()
            return
        name, shown = task["name"], self.preview_url

        def look() -> tuple[dict, bytes | None]:
            state = self.workshop.training(name)
            url = state.get("preview_url")
            return state, self.workshop.download(url) if url and url != shown else None

        in_background(look, self.show_progress, self.failed)

    def show_training(self, state: object) -> None:
        self.show_progress((state, None))

    def show_progress(self, found: object) -> None:
        state, preview = found
        running = bool(state.get("running"))
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not state.get("stopping"))
        if running and not self.poll.isActive():
            self.poll.start()
        target, step = state.get("target_steps"), state.get("step") or 0
        elapsed, remaining = state.get("elapsed") or 0, state.get("remaining")
        done = step / target if target else elapsed / (elapsed + remaining) if remaining else 0
        self.progress.setValue(round(100 * done) if running else (100 if state.get("apprentice") else 0))
        score = state.get("val_psnr")
        text = f"Step {step}" + (f" · held-out {score:.1f} dB" if isinstance(score, float) else "")
        self.progress_text.setText(state.get("error") or (text + (f" · {state['note']}" if state.get("note") else "")))
        if preview:
            self.preview_url = state.get("preview_url")
            self.preview.setPixmap(pixmap(preview, PREVIEW_WIDTH))
            self.preview.setToolTip("Held out: before | apprentice | after")
        if not running and self.poll.isActive():
            self.poll.stop()
            self.refresh()

    def apply(self) -> None:
        task = self.task_row()
        try:
            document, node = self.document_and_layer()
            if task is None:
                raise layers.LayerError("Make a task and train its apprentice first.")
            if self.in_betweens():
                self.apply_between(task["name"], document, node)
                return
            region, picture = layers.selected(document, node)
        except Exception as error:
            self.failed(error)
            return
        self.say("Applying the apprentice…")
        work = lambda: errands.apply_to(self.workshop, task["name"], region, picture)  # noqa: E731
        in_background(work, lambda applied: self.put_result(document, node, applied), self.failed)

    def put_result(self, document: object, node: object, applied: errands.Applied) -> None:
        try:
            layers.put_above(document, node, applied.region, applied.picture, applied.layer_name)
        except Exception as error:
            self.failed(error)
            return
        self.say(f"The result is on the new layer '{applied.layer_name}'.")

    def apply_between(self, task: str, document: object, node: object) -> None:
        layers.check_writable(node)
        times, keys = errands.key_files(document, node)
        between, spacing = int(self.between.currentText()), errands.SPACINGS[self.spacing.currentText()]
        layers.inbetween_times(times, between)  # refuse keys too close before sending anything
        self.say("Drawing the in-betweens…")
        work = lambda: errands.draw_between(self.workshop, task, times, keys, between, spacing)  # noqa: E731
        in_background(work, lambda found: self.put_frames(document, node, found), self.failed)

    def put_frames(self, document: object, node: object, found: errands.Inbetweens) -> None:
        try:
            add_frame = Krita.instance().action(layers.ADD_FRAME).trigger
            made = layers.put_inbetweens(document, node, found.drawn, add_frame, settle)
        except Exception as error:
            self.failed(error)
            return
        self.say(f"Drew {len(made)} in-between(s) on '{node.name()}' at frames {', '.join(map(str, made))}.")


def register() -> None:
    """Tell Krita about the docker (Settings → Dockers → Apprentice)."""
    factory = DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, ApprenticeDocker)
    Krita.instance().addDockWidgetFactory(factory)
