"""The web API as the page uses it, in-process (httpx.ASGITransport) on a real workshop; its guards; one real socket."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from apprentice.train.loop import TrainConfig
from apprentice.web.app import create_app

from conftest import ball, drawing_pair
from layered_files import write_ora
from servers import serving

FAST = TrainConfig(patch=32, batch=4, validate_every=3)
ORIGIN = "http://127.0.0.1"
pytestmark = pytest.mark.anyio


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pair_files(*seeds: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart `files` entries named X.before.png / X.after.png, as the page names them."""
    files = []
    for seed in seeds:
        before, after = drawing_pair(seed)
        files.append(("files", (f"p{seed}.before.png", png(before), "image/png")))
        files.append(("files", (f"p{seed}.after.png", png(after), "image/png")))
    return files


def picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def connect(home: Path, base_url: str = ORIGIN, **options) -> httpx.AsyncClient:
    """A client of a fresh app over the workshop at `home`, in-process."""
    app = create_app(home, **options)
    app.state.runs.defaults = FAST
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def client(home: Path) -> httpx.AsyncClient:
    async with connect(home) as client:
        yield client


@pytest.fixture
async def ink(client: httpx.AsyncClient, small_task: str) -> str:
    """The small-network task 'ink' with three uploaded pairs."""
    response = await client.post(f"/api/tasks/{small_task}/examples", files=pair_files(0, 1, 2))
    assert response.status_code == 200, response.text
    return small_task


async def wait_for_training(client: httpx.AsyncClient, task: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = (await client.get(f"/api/tasks/{task}/train")).json()
        if not state["running"]:
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"training '{task}' did not finish in {timeout} s")


async def test_a_task_is_made_filled_shown_and_pruned_from_the_page(client):
    made = await client.post("/api/tasks", json={"name": "cleanup", "augment": "mirror+rotate"})
    assert made.status_code == 201, made.text
    assert made.json()["config"]["augment"] == "mirror+rotate" and made.json()["examples"] == 0
    assert (await client.post("/api/tasks", json={"name": "cleanup"})).status_code == 409
    added = (await client.post("/api/tasks/cleanup/examples", files=pair_files(0, 1))).json()
    assert sorted(added["added"]) == ["p0", "p1"] and added["new_works"] == 4
    assert [task["examples"] for task in (await client.get("/api/tasks")).json()] == [2]
    shown = (await client.get("/api/tasks/cleanup")).json()
    first = shown["example_list"][0]
    assert (first["width"], first["height"]) == (48, 40) and shown["manifest"] is None
    assert set(first["parts"]) == {"before", "after"} and first["parts"]["after"]["consent"] == "own"
    thumb = picture(await client.get(f"/api/works/{first['parts']['before']['work']}/image", params={"size": 24}))
    assert thumb.format == "PNG" and max(thumb.size) == 24
    assert (await client.delete(f"/api/tasks/cleanup/examples/{first['id']}")).status_code == 204
    assert (await client.delete(f"/api/tasks/cleanup/examples/{first['id']}")).status_code == 404
    assert (await client.get("/api/tasks/cleanup")).json()["examples"] == 1


async def test_a_bad_upload_is_refused_in_one_sentence_naming_the_file(client, small_task):
    files = pair_files(0)
    files[0] = ("files", ("p0.before.png", b"not a picture at all", "image/png"))
    response = await client.post(f"/api/tasks/{small_task}/examples", files=files)
    assert response.status_code == 400
    assert response.json()["detail"] == "p0.before.png is not an image Apprentice can read; export it as PNG."
    assert (await client.get(f"/api/tasks/{small_task}")).json()["examples"] == 0
    assert (await client.get("/api/tasks/nosuchtask")).status_code == 404


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if not path.is_dir()}


async def test_upload_names_cannot_climb_out_of_the_upload_folder(client, small_task, home, tmp_path, monkeypatch):
    spool = tmp_path / "spool" / "uploads"  # uploads are saved in a temporary folder made in here
    spool.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    climbing = ["../../../p0.before.png", "/etc/p0.after.png", "..\\..\\..\\p1.before.png", "p1.after.png"]
    files = [(field, (name, *rest)) for name, (field, (_, *rest)) in zip(climbing, pair_files(0, 1), strict=True)]
    before = files_under(tmp_path)
    response = await client.post(f"/api/tasks/{small_task}/examples", files=files)
    evil_names = ("../../evil.png", "/etc/evil.png", "..\\evil.png")
    evil = [("files", (name, png(ball(4)), "image/png")) for name in evil_names]
    refused = await client.post(f"/api/tasks/{small_task}/examples", files=evil)
    assert {path for path in files_under(tmp_path) - before if home not in path.parents} == set()
    assert list(spool.iterdir()) == [], "the upload folder is gone afterwards"
    assert not any(Path(f"/etc/{name}").exists() for name in ("p0.after.png", "evil.png"))
    assert response.status_code == 200 and sorted(response.json()["added"]) == ["p0", "p1"]
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Two uploaded files are both called evil.png; rename one and upload them again."
    names = {row["name"] for row in (await client.get(f"/api/tasks/{small_task}")).json()["example_list"]}
    assert names == {"p0", "p1"}


async def test_the_layers_of_a_layered_upload_are_listed(client, tmp_path):
    layers = {"ink": Image.new("RGBA", (20, 20), "black"), "sketch": Image.new("RGBA", (20, 20), "gray")}
    write_ora(tmp_path / "page.ora", layers)
    response = await client.post("/api/layers", files={"file": ("page.ora", (tmp_path / "page.ora").read_bytes())})
    assert response.json() == {"layers": ["ink", "sketch"]}
    refused = await client.post("/api/layers", files={"file": ("page.png", png(layers["ink"]))})
    assert refused.status_code == 400 and refused.json()["detail"].startswith("page.png is not a layered file")


async def test_training_from_the_page_publishes_an_apprentice_that_applies_and_downloads(client, ink):
    started = await client.post(f"/api/tasks/{ink}/train", json={"steps": 6})
    assert started.status_code == 202 and started.json()["running"]
    state = await wait_for_training(client, ink)
    assert state["error"] is None and state["step"] == 6 and state["apprentice"]
    assert [point["step"] for point in state["history"]] == [1, 2, 3, 4, 5, 6]
    assert state["history"][2]["val_psnr"] is not None and state["history"][3]["val_psnr"] is None
    strip = picture(await client.get(state["preview_url"]))
    assert strip.width > strip.height > 0
    page = ("files", ("page.png", png(Image.new("RGB", (70, 50), "white")), "image/png"))
    applied = (await client.post(f"/api/tasks/{ink}/apply", files=[page])).json()
    result = applied["results"][0]
    assert result["input"] == "page.png" and result["apprentice"] == state["apprentice"]
    assert picture(await client.get(result["url"])).size == (70, 50)
    zipped = zipfile.ZipFile(io.BytesIO((await client.get(f"/api/jobs/{applied['job']}/zip")).content))
    assert zipped.namelist() == [result["output"]]
    cards = (await client.get(f"/api/tasks/{ink}/apprentices")).json()
    assert cards[0]["id"] == state["apprentice"] and cards[0]["manifest"]["training"]["steps"] == 6
    assert (await client.get(f"/api/tasks/{ink}")).json()["manifest"]["id"] == state["apprentice"]
    broken = ("files", ("broken.png", png(Image.new("RGB", (70, 50), "white"))[:60], "image/png"))
    partly = await client.post(f"/api/tasks/{ink}/apply", files=[page, broken])
    assert partly.status_code == 200 and [r["input"] for r in partly.json()["results"]] == ["page.png"]
    assert partly.json()["error"].startswith("Wrote 1 of 2 drawings to this job; broken.png is damaged or cut short")


async def test_a_run_cannot_start_twice_and_stopping_keeps_the_best_so_far(client, ink):
    assert (await client.get(f"/api/tasks/{ink}/train/preview.png")).status_code == 404
    assert (await client.post(f"/api/tasks/{ink}/train", json={"minutes": 5})).status_code == 202
    again = await client.post(f"/api/tasks/{ink}/train", json={"steps": 3})
    assert again.status_code == 409 and "already training" in again.json()["detail"]
    assert (await client.post(f"/api/tasks/{ink}/train/stop")).json()["stopping"] is True
    state = await wait_for_training(client, ink)
    assert state["error"] is None and state["apprentice"] and not state["stopping"]


async def test_training_state_streams_as_server_sent_events_until_the_run_ends(client, ink):
    await client.post(f"/api/tasks/{ink}/train", json={"steps": 4})
    async with client.stream("GET", f"/api/tasks/{ink}/train/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in stream.aiter_lines()]
    states = [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]
    assert states and not states[-1]["running"] and states[-1]["apprentice"]


async def test_a_training_error_is_one_sentence_in_the_state(client, small_task):
    assert (await client.post(f"/api/tasks/{small_task}/train", json={"steps": 2})).status_code == 202
    state = await wait_for_training(client, small_task)
    assert state["error"].startswith("The task 'ink' has no examples yet") and state["apprentice"] is None


async def test_a_request_the_types_refuse_gets_one_sentence(client, small_task):
    response = await client.post(f"/api/tasks/{small_task}/train", json={"steps": 0})
    assert response.status_code == 400 and response.json()["detail"].startswith("The request's steps is not valid")


async def test_job_downloads_stay_inside_their_job(client):
    for url in (
        "/api/jobs/20250101-000000-00000000/zip",
        "/api/jobs/..%2F..%2Fcatalog.sqlite/zip",
        "/api/jobs/20250101-000000-00000000/files/..%2Fidentity.key",
    ):
        assert (await client.get(url)).status_code == 404


async def test_another_site_cannot_change_the_workshop(client):
    refused = await client.post("/api/tasks", json={"name": "x"}, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Cross-origin requests may not change this workshop."}
    assert (await client.post("/api/tasks", json={"name": "x"}, headers={"Origin": ORIGIN})).status_code == 201


async def test_a_foreign_host_name_is_refused(home):
    async with connect(home, "http://evil.example") as client:
        response = await client.get("/api/tasks")
    assert response.status_code == 400 and "evil.example" in response.json()["detail"]


async def test_another_machine_reaches_only_the_guild_part_of_the_workshop(home):
    app = create_app(home, ["127.0.0.1", "0.0.0.0"])
    transport = httpx.ASGITransport(app=app, client=("192.168.1.7", 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://192.168.1.5:8765") as lan:
        page = await lan.get("/api/tasks", headers={"Host": "127.0.0.1"})
        peers = await lan.get(f"/guild/{'0' * 64}/heads")
    assert page.status_code == 403 and "/guild/" in page.json()["detail"]
    assert peers.status_code == 404, "the guild's part answers (this node is in no such guild)"


async def test_an_upload_over_the_cap_is_refused_whether_or_not_it_says_its_size(home, small_task):
    url, files = f"/api/tasks/{small_task}/examples", {"files": ("a.before.png", b"x" * (1024 * 1024 + 1))}
    form = httpx.Request("POST", ORIGIN + url, files=files)
    body = form.read()

    async def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    async with connect(home, max_upload_mb=1) as client:
        declared = await client.post(url, files=files)
        streamed = await client.post(url, content=chunks(), headers={"Content-Type": form.headers["Content-Type"]})
    assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["detail"].startswith("The upload is over the 1 MB")


def test_the_server_answers_on_a_real_socket(home):
    with serving(create_app(home)) as port:
        response = httpx.get(f"http://127.0.0.1:{port}/api/tasks")
    assert response.status_code == 200 and response.json() == []


async def test_an_inbetween_task_learns_from_uploaded_frames_and_draws_between_uploaded_keys(client):
    made = await client.post("/api/tasks", json={"name": "tween", "kind": "inbetween"})
    assert made.status_code == 201, made.text
    frames = [("files", (f"f{n}.png", png(ball(2 + 5 * n)), "image/png")) for n in range(1, 6)]
    added = (await client.post("/api/tasks/tween/examples", files=frames)).json()
    assert len(added["added"]) == 3  # five uploaded frames in name order: three in-betweens to learn
    assert (await client.post("/api/tasks/tween/train", json={"steps": 3})).status_code == 202
    state = await wait_for_training(client, "tween")
    assert state["error"] is None and state["apprentice"]
    keys = [("files", (name, png(ball(x)), "image/png")) for name, x in (("a.png", 2), ("b.png", 26))]
    applied = (await client.post("/api/tasks/tween/apply", files=keys, data={"between": "3"})).json()
    drawn = [result for result in applied["results"] if result["output"].startswith("tween-")]
    assert [r["output"] for r in drawn] == ["tween-0002.png", "tween-0003.png", "tween-0004.png"]
    assert picture(await client.get(drawn[0]["url"])).size == (48, 32)
    assert [r["output"] for r in applied["results"][-2:]] == ["tween.gif", "tween.png"]  # a GIF and an APNG
    apng = Image.open(io.BytesIO((await client.get(applied["results"][-1]["url"])).content))
    assert apng.format == "PNG" and apng.n_frames == 5  # key, three in-betweens, key
    charted = (await client.post("/api/tasks/tween/apply", files=keys, data={"timing": "ease-out 2"})).json()
    assert [r["output"] for r in charted["results"]] == ["tween-0002.png", "tween-0003.png", "tween.gif", "tween.png"]
    refused = await client.post("/api/tasks/tween/apply", files=keys, data={"timing": "3/4,1/4"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "The positions in '3/4,1/4' do not rise from the first key to the second; write them in order."
    )
