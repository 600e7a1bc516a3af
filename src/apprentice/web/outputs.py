"""Jobs from the page: apply a task's apprentice to uploaded drawings, then download the results one by one or zipped.

Each job writes into its own folder, `<workshop>/jobs/<job id>/`; downloads never reach outside it.
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse, Response

from apprentice.errors import NotFound, PartlyDone
from apprentice.jobs import apply
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.web.api import Shop
from apprentice.web.uploads import saved, without_folder

router = APIRouter(prefix="/api")
JOB_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{8}")
FORMATS = ("frames", "gif", "apng")  # a sequence the page gets back: its frames, a GIF and an APNG to play


def new_job_id() -> str:
    """The time it started and a random part: '20250101-120000-1f2e3d4c'."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def job_folder(home: Path, job: str) -> Path:
    if not JOB_ID.fullmatch(job) or not (home / "jobs" / job).is_dir():
        raise NotFound(f"There is no job {job} in this workshop; apply the apprentice again.")
    return home / "jobs" / job


def job_file(home: Path, job: str, name: str) -> Path:
    path = job_folder(home, job) / name
    if name != Path(name).name or name.startswith(".") or not path.is_file():
        raise NotFound(f"Job {job} made no file called {name}; apply the apprentice again.")
    return path


@router.post("/tasks/{name}/apply")
def apply_to_uploads(
    name: str,
    shop: Shop,
    files: Annotated[list[UploadFile], File(description="drawings, or layered files with `layer`")],
    layer: Annotated[str, Form()] = "",
    apprentice: Annotated[str, Form(description="an apprentice id; the newest when empty")] = "",
    between: Annotated[int, Form(description="tasks that take key poses: drawings between each two (1, 3, 7, 15)")] = 1,
    timing: Annotated[str, Form(description="tasks that take key poses: a timing chart instead of `between`")] = "",
) -> dict:
    """Apply the task's apprentice to the uploaded drawings (for kinds that take key poses: the keys, in name order)."""
    job = new_job_id()
    out_dir = shop.root / "jobs" / job
    options = ApplyOptions(
        layer=layer, apprentice=apprentice or None, between=between, timing=timing, formats=FORMATS, shot=name
    )
    in_order = get_kind(shop.task(name).kind).uploads_in_order  # uploaded key poses: one sequence, in name order
    problem = ""
    with saved(files) as paths:
        folder = paths[0].parent
        try:
            results = apply(shop, name, [folder] if in_order and len(paths) > 1 else paths, out_dir, options)
        except PartlyDone as error:  # the drawings made are the artist's to download; the sentence names the rest
            results, problem = error.results, without_folder(str(error), folder).replace(str(out_dir), "this job")
        finally:
            with suppress(OSError):
                out_dir.rmdir()  # only when nothing was made
    entries = [result_entry(job, r.to_dict(), folder) for r in results]
    return {"job": job, "results": entries} | ({"error": problem} if problem else {})


def result_entry(job: str, result: dict, folder: Path) -> dict:
    output = Path(result["output"]).name
    return {
        "input": without_folder(result["input"], folder),
        "output": output,
        "apprentice": result["apprentice"],
        "url": f"/api/jobs/{job}/files/{quote(output)}",
    }


@router.get("/jobs/{job}/files/{name}", response_class=FileResponse)
def download_output(job: str, name: str, shop: Shop) -> FileResponse:
    """One output file of a job."""
    return FileResponse(job_file(shop.root, job, name), filename=name)


@router.get("/jobs/{job}/zip", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def download_job(job: str, shop: Shop) -> Response:
    """Every output of a job in one zip file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in job_folder(shop.root, job).iterdir() if p.is_file()):
            archive.write(path, path.name)
    headers = {"Content-Disposition": f'attachment; filename="apprentice-job-{job}.zip"'}
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)
