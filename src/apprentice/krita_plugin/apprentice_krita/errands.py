"""What the docker's buttons do, each split into its three parts: read the document (Krita's UI thread), talk to
the workshop (a worker thread), write the result into the document (the UI thread again).

No Qt here, so all of it runs in tests with a stand-in `krita` module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import layers
from .pixels import Picture, from_png, to_png
from .workshop import Workshop, WorkshopError

BETWEENS = (1, 3, 7, 15)  # what an in-between apprentice draws between two keys
SPACINGS = {  # how the docker words each spacing → the timing chart it asks for (none: evenly, by `between`)
    "Even": "",
    "Ease in (slow in to the next key)": "ease-in",
    "Ease out (slow out of the key)": "ease-out",
    "Ease in and out": "ease-in-out",
}
FRAME_NUMBER = re.compile(r"-(\d+)\.png$")


@dataclass(frozen=True)
class Applied:
    """What Apply brings back for one layer: the result, the apprentice that made it, and where it goes."""

    region: layers.Region
    picture: Picture
    layer_name: str


@dataclass(frozen=True)
class Inbetweens:
    """What Apply brings back for an in-between task: a picture for each new frame's time."""

    drawn: dict[int, Picture]
    apprentice: str


def example_name(document: object, *layers_used: object) -> str:
    """The example's name in the workshop: the document's file name and the layers it came from."""
    stem = re.sub(r"\.[^./\\]*$", "", (document.fileName() or document.name() or "krita").replace("\\", "/"))
    label = "-".join([stem.rsplit("/", 1)[-1], *(node.name() for node in layers_used)])
    return re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_")[:80] or "krita"


def pair_files(document: object, before: object, after: object) -> list[tuple[str, bytes]]:
    """UI thread: the two layers as X.before.png and X.after.png."""
    before_picture, after_picture = layers.pair(document, before, after)
    name = example_name(document, before, after)
    return [(f"{name}.before.png", to_png(before_picture)), (f"{name}.after.png", to_png(after_picture))]


def frame_files(document: object, node: object) -> list[tuple[str, bytes]]:
    """UI thread: the active layer's keyframes as numbered PNG frames, in order."""
    name = example_name(document, node)
    return [(f"{name}-{n:04d}.png", to_png(picture)) for n, picture in enumerate(layers.frames(document, node), 1)]


def teach(workshop: Workshop, task: str, files: list[tuple[str, bytes]]) -> dict:
    """Worker thread: add the files as examples of the task; the workshop's answer (`added`, `new_works`)."""
    return workshop.add_examples(task, files)


def apprentice_label(workshop: Workshop, task: str, apprentice: str) -> str:
    """The layer name of what an apprentice made: the task and the apprentice's version."""
    versions = {row["id"]: row["version"] for row in workshop.apprentices(task)}
    return f"{task} (apprentice v{versions[apprentice]})" if apprentice in versions else f"{task} ({apprentice[:8]})"


def apply_to(workshop: Workshop, task: str, region: layers.Region, picture: Picture) -> Applied:
    """Worker thread: the task's apprentice applied to the picture."""
    job = workshop.apply(task, [("layer.png", to_png(picture))])
    result = next((r for r in job["results"] if r["output"].endswith(".png")), None)
    if result is None:
        raise WorkshopError(f"The apprentice of '{task}' made no picture; apply it again.")
    made = from_png(workshop.download(result["url"]), result["output"])
    if (made.width, made.height) != (picture.width, picture.height):
        raise WorkshopError(f"The apprentice of '{task}' made a picture of another size; apply it again.")
    return Applied(region, made, apprentice_label(workshop, task, result["apprentice"]))


def key_files(document: object, node: object) -> tuple[list[int], list[tuple[str, bytes]]]:
    """UI thread: the active layer's keyframe times, and the keys as PNG files in order."""
    if node is None:
        raise layers.LayerError("There is no active layer; click the animated layer that holds your keys.")
    times = layers.keyframe_times(document, node)
    if len(times) < 2:
        raise layers.LayerError(f"Layer '{node.name()}' has {len(times)} keyframe(s); draw at least two keys.")
    keys = [layers.read_frame(node, layers.whole(document), time) for time in times]
    return times, [(f"key-{n:04d}.png", to_png(picture)) for n, picture in enumerate(keys, 1)]


def draw_between(
    workshop: Workshop, task: str, times: list[int], keys: list[tuple[str, bytes]], between: int, spacing: str = ""
) -> Inbetweens:
    """Worker thread: the in-betweens the apprentice draws between each two keys, by the time they go to (none
    between two identical keys: the key holds). The frames are timed evenly on the layer; `spacing` (a named
    timing chart: ease-in, ease-out, ease-in-out) places the drawings on them unevenly."""
    if between not in BETWEENS:
        raise WorkshopError(f"An apprentice draws 1, 3, 7 or 15 frames between two keys, not {between}.")
    if spacing not in SPACINGS.values():
        raise WorkshopError(f"'{spacing}' is not a spacing the docker knows; choose one from its list.")
    slots = [time for gap in layers.inbetween_times(times, between) for time in gap]
    job = workshop.apply(task, keys, between, f"{spacing} {between}" if spacing else "")
    drawn = {}
    for result in job["results"]:
        number = FRAME_NUMBER.search(result["output"])
        position = int(number.group(1)) - 1 if number else 0  # 0-based place in the shot: keys every between+1
        if number and position % (between + 1):
            slot = position // (between + 1) * between + position % (between + 1) - 1
            drawn[slots[slot]] = from_png(workshop.download(result["url"]), result["output"])
    return Inbetweens(drawn, job["results"][0]["apprentice"] if job["results"] else "")
