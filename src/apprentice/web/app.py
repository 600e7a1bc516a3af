"""The web app: the page, its static files and the JSON API over one workshop folder.

`create_app(home)` builds it; `apprentice serve` runs it with uvicorn on 127.0.0.1. The API is described at
/openapi.json (no /docs page: FastAPI's loads its JavaScript from a CDN).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from apprentice.errors import ApprenticeError, BadInput, Conflict, NotFound, Unreachable, Withdrawn
from apprentice.store.workshop import Workshop
from apprentice.web import api, guild_peers, guilds, outputs
from apprentice.web.guild_sync import BackgroundSync, interval
from apprentice.web.security import WorkshopGuard
from apprentice.web.training import TrainingRuns

STATIC = Path(__file__).parent / "static"
STATUS = {BadInput: 400, NotFound: 404, Conflict: 409, Withdrawn: 409, Unreachable: 502}


def create_app(home: Path, allowed_hosts: list[str] | None = None, max_upload_mb: int = 200) -> FastAPI:
    """The workshop at `home` (made if it is new) as a web app that answers only to `allowed_hosts`."""
    Workshop.init(home).close()
    runs = TrainingRuns(home)
    syncing = BackgroundSync(home, interval())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        syncing.start()
        yield
        await run_in_threadpool(syncing.stop)
        await run_in_threadpool(runs.stop_all)  # runs stop and publish what they have

    app = FastAPI(
        title="Apprentice workshop",
        version=version("apprentice"),
        description="Your workshop's tasks, examples, training and jobs, on your own machine.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's /docs and /redoc load JavaScript from a CDN into the workshop's origin
        redoc_url=None,
    )
    app.state.home, app.state.runs, app.state.challenges = home, runs, guild_peers.Challenges()
    app.add_middleware(WorkshopGuard, allowed_hosts=allowed_hosts, max_upload_mb=max_upload_mb)
    app.add_exception_handler(ApprenticeError, apprentice_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(api.router)
    app.include_router(outputs.router)
    app.include_router(guilds.router)
    app.include_router(guild_peers.router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.add_api_route("/", page, include_in_schema=False)
    return app


def page() -> FileResponse:
    """The single page of the workshop."""
    if not (STATIC / "index.html").is_file():
        raise NotFound(f"{STATIC / 'index.html'} is missing; reinstall Apprentice.")
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def apprentice_error(request: Request, error: Exception) -> JSONResponse:
    """A user-caused error: its one sentence, with 400, 404 or 409 by its kind."""
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    return JSONResponse({"detail": str(error)}, status_code=status)


async def invalid_request(request: Request, error: Exception) -> JSONResponse:
    """A request the API's types refuse, in one sentence rather than FastAPI's list."""
    first = error.errors()[0] if isinstance(error, RequestValidationError) and error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form"))
    problem = first.get("msg", "unreadable").lower()
    detail = f"The request's {where or 'body'} is not valid ({problem}); fix it and send it again."
    return JSONResponse({"detail": detail}, status_code=400)
