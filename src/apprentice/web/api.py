"""The JSON API for tasks, their examples and apprentices, works' pictures and training; each route calls the core.

Errors are the core's ApprenticeErrors, answered as {"detail": one sentence} by the app (400, 404 or 409).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from apprentice.errors import NotFound
from apprentice.formats.layered import layer_names
from apprentice.formats.parts import decode_part
from apprentice.imports import add_examples, remove_example
from apprentice.kinds import AUGMENTATIONS, DEFAULT_KIND, get_kind
from apprentice.kinds.finish import SETTINGS as FINISH_SETTINGS
from apprentice.store.workshop import Workshop
from apprentice.train.distil import student_budget
from apprentice.train.loop import Budget
from apprentice.train.settings import new_task_config, set_finish
from apprentice.views import apprentice_cards, examples, newest_manifest, summary, work_name
from apprentice.web.pictures import thumbnail
from apprentice.web.training import TrainingRuns, events
from apprentice.web.uploads import saved

router = APIRouter(prefix="/api")


def open_workshop(request: Request) -> Iterator[Workshop]:
    """The workshop for one request, on its own connections (the training threads have theirs)."""
    shop = Workshop.open(request.app.state.home)
    try:
        yield shop
    finally:
        shop.close()


def training_runs(request: Request) -> TrainingRuns:
    return request.app.state.runs


Shop = Annotated[Workshop, Depends(open_workshop)]
Runs = Annotated[TrainingRuns, Depends(training_runs)]


class NewTask(BaseModel):
    """A task to create, as `apprentice task new` takes it."""

    name: str  # the core says which names can be tasks
    kind: str = DEFAULT_KIND  # the core says which kinds are registered
    augment: Literal[AUGMENTATIONS] = "mirror"
    finish: dict[str, str] = {}  # palette, alpha, paper: auto, on or off (the core checks them)


class FinishSettings(BaseModel):
    """How a task's apprentice finishes its drawings, as `apprentice task set` takes it; aspects left out stay."""

    palette: Literal[FINISH_SETTINGS] | None = None
    alpha: Literal[FINISH_SETTINGS] | None = None
    paper: Literal[FINISH_SETTINGS] | None = None


class TrainRequest(BaseModel):
    """How long to train, as `apprentice train` takes it; neither minutes nor steps means 5 minutes."""

    minutes: float | None = Field(default=None, gt=0)
    steps: int | None = Field(default=None, gt=0)
    seed: int = 0
    fresh: bool = False
    student_minutes: float | None = Field(default=None, ge=0)  # then a faster student; None: as `train` decides


@router.get("/tasks")
def list_tasks(shop: Shop) -> list[dict]:
    """Every task with its settings, number of examples and apprentices (as `apprentice list --json`)."""
    return [summary(shop, task.name) for task in shop.tasks()]


@router.post("/tasks", status_code=201)
def new_task(body: NewTask, shop: Shop) -> dict:
    """Create a task."""
    config = new_task_config(get_kind(body.kind).default_config(), body.augment, body.finish)
    shop.new_task(body.name, body.kind, config)
    return summary(shop, body.name)


@router.put("/tasks/{name}/finish")
def set_task_finish(name: str, body: FinishSettings, shop: Shop) -> dict:
    """Force the task's palette, alpha or paper on or off, or back to auto; the next training run uses it."""
    set_finish(shop, name, body.model_dump(exclude_none=True))
    return summary(shop, name)


@router.get("/tasks/{name}")
def show_task(name: str, shop: Shop) -> dict:
    """One task with every example's parts and the newest apprentice's manifest (or null)."""
    return summary(shop, name) | {"example_list": examples(shop, name), "manifest": newest_manifest(shop, name)}


@router.post("/tasks/{name}/examples")
def add_uploaded_examples(
    name: str,
    shop: Shop,
    files: Annotated[list[UploadFile], File(description="X.before.png + X.after.png pairs, or layered files")],
    before_layer: Annotated[str, Form()] = "",
    after_layer: Annotated[str, Form()] = "",
    mine: Annotated[bool, Form()] = False,
) -> dict:
    """Add examples from uploaded files, all or nothing (as `apprentice add`)."""
    options = {"before_layer": before_layer, "after_layer": after_layer, "mine": mine}
    in_order = get_kind(shop.task(name).kind).uploads_in_order  # still frames as one sequence, in name order
    with saved(files) as paths:
        return add_examples(shop, name, [paths[0].parent] if in_order else paths, options).to_dict()


@router.delete("/tasks/{name}/examples/{example_id}", status_code=204)
def remove_one_example(name: str, example_id: int, shop: Shop) -> Response:
    """Take an example out of the task; its works stay stored."""
    remove_example(shop, name, example_id)
    return Response(status_code=204)


@router.post("/layers")
def list_layers(file: Annotated[UploadFile, File(description="a .psd, .kra or .ora file")]) -> dict:
    """The pixel layers of an uploaded layered file, top to bottom, for choosing the before and after."""
    with saved([file]) as [path]:
        return {"layers": layer_names(path)}


@router.get("/works/{work_id}/image", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def work_image(
    work_id: str, shop: Shop, layer: str = "", size: Annotated[int, Query(ge=16, le=2048)] = 256
) -> Response:
    """A PNG thumbnail of a stored work (one layer of it, for layered works), longest side at most `size`."""
    picture = decode_part(shop.blobs.get(work_id), work_name(shop, work_id), layer)
    headers = {"Cache-Control": "private, max-age=31536000, immutable"}  # a work id is its content's hash
    return Response(thumbnail(picture, size), media_type="image/png", headers=headers)


@router.get("/tasks/{name}/apprentices")
def list_apprentices(name: str, shop: Shop) -> list[dict]:
    """Every apprentice of the task, newest first: catalog row, taint and manifest."""
    return apprentice_cards(shop, name)


@router.post("/tasks/{name}/train", status_code=202)
def start_training(name: str, body: TrainRequest, shop: Shop, runs: Runs) -> dict:
    """Start training in the background (resuming from the checkpoint unless `fresh`); 409 while one runs."""
    shop.task(name)
    student = student_budget(body.minutes, body.steps, body.student_minutes)
    return runs.start(name, Budget(body.steps, body.minutes), body.seed, body.fresh, student)


@router.post("/tasks/{name}/train/stop")
def stop_training(name: str, shop: Shop, runs: Runs) -> dict:
    """Stop the run after its current step; the best apprentice so far is published."""
    shop.task(name)
    return runs.of(name).stop()


@router.get("/tasks/{name}/train")
def training_state(name: str, shop: Shop, runs: Runs) -> dict:
    """The task's training state: running, step, loss, held-out scores, history, preview, error, apprentice."""
    shop.task(name)
    return runs.of(name).snapshot()[1]


@router.get("/tasks/{name}/train/events", response_class=StreamingResponse)
def training_events(name: str, request: Request, shop: Shop, runs: Runs) -> StreamingResponse:
    """The training state as Server-Sent Events (`data: {json}`), each time it changes, until the run ends."""
    shop.task(name)
    stream = events(runs, name, request.is_disconnected)
    return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/tasks/{name}/train/preview.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def training_preview(name: str, shop: Shop, runs: Runs) -> Response:
    """The latest held-out preview: before | apprentice | after."""
    shop.task(name)
    preview = runs.of(name).preview
    if preview is None:
        raise NotFound(f"'{name}' has no preview yet; one appears at the run's first held-out check.")
    return Response(preview, media_type="image/png", headers={"Cache-Control": "no-store"})
