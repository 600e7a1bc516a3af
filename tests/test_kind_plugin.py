"""A task kind is one module and one `register` line: the test-only `invert` kind goes through the CLI and the page.

No shell knows its name; ApplyOptions, the one object both shells hand to `jobs.apply`, survives JSON unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.errors import BadInput, Conflict
from apprentice.kinds import ApplyOptions, get_kind, kind_names, register, unregister
from apprentice.provenance.credentials import check
from invert_kind import InvertKind, inverted_pair
from test_web_api import connect, picture, png, wait_for_training

SRC = Path(__file__).parent.parent / "src" / "apprentice"
SHELLS = [SRC / "cli.py", SRC / "web" / "api.py", SRC / "web" / "outputs.py", SRC / "export.py", SRC / "jobs.py"]


@pytest.fixture
def invert():
    """The `invert` kind, registered for one test and forgotten after it."""
    kind = register(InvertKind())
    yield kind
    unregister(kind.name)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def run(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def inverted_folder(folder: Path, count: int) -> Path:
    for side in ("before", "after"):
        (folder / side).mkdir(parents=True)
    for number in range(count):
        before, after = inverted_pair(number)
        before.save(folder / "before" / f"p{number}.png")
        after.save(folder / "after" / f"p{number}.png")
    return folder


def test_a_registered_kind_is_created_trained_and_applied_from_the_command_line(home, tmp_path, invert):
    run("init")
    assert "(invert) created" in run("task", "new", "negative", "--kind", "invert")
    added = json.loads(run("add", "negative", inverted_folder(tmp_path / "pairs", 3), "--json"))
    assert sorted(added["added"]) == ["p0", "p1", "p2"]
    manifest = json.loads(run("train", "negative", "--steps", "3", "--json"))
    assert manifest["kind"] == "invert" and manifest["training"]["steps"] == 3
    (tmp_path / "new").mkdir()
    Image.new("RGB", (70, 50), "white").save(tmp_path / "new" / "page.png")
    jobs = json.loads(run("apply", "negative", tmp_path / "new", "--out", tmp_path / "out", "--json"))
    assert [Path(job["output"]).name for job in jobs] == ["page.png"] and jobs[0]["apprentice"] == manifest["id"]
    assert Image.open(jobs[0]["output"]).size == (70, 50)
    shop_check = json.loads(run("provenance", jobs[0]["output"], "--json"))[0]
    assert shop_check["claims"]["id"] == manifest["id"] and shop_check["pixels_match"]


@pytest.mark.anyio
async def test_a_registered_kind_is_created_trained_and_applied_from_the_page(home, shop, invert):
    async with connect(home) as client:
        made = await client.post("/api/tasks", json={"name": "negative", "kind": "invert"})
        assert made.status_code == 201 and made.json()["kind"] == "invert", made.text
        files = [
            ("files", (f"p{seed}.{side}.png", png(image), "image/png"))
            for seed in range(3)
            for side, image in zip(("before", "after"), inverted_pair(seed), strict=True)
        ]
        added = (await client.post("/api/tasks/negative/examples", files=files)).json()
        assert sorted(added["added"]) == ["p0", "p1", "p2"]
        assert (await client.post("/api/tasks/negative/train", json={"steps": 3})).status_code == 202
        state = await wait_for_training(client, "negative")
        assert state["error"] is None and state["apprentice"]
        page = ("files", ("page.png", png(Image.new("RGB", (70, 50), "white")), "image/png"))
        applied = (await client.post("/api/tasks/negative/apply", files=[page])).json()
        [result] = applied["results"]
        assert result["input"] == "page.png" and result["apprentice"] == state["apprentice"]
        assert picture(await client.get(result["url"])).size == (70, 50)
        written = shop.root / "jobs" / applied["job"] / result["output"]
        assert check(shop, written)["claims"]["id"] == state["apprentice"]


def test_the_command_line_offers_kinds_registered_after_it_was_imported(invert):
    helped = " ".join(CliRunner().invoke(main, ["task", "new", "--help"]).output.split())
    assert "--kind [paired|inbetween|invert]" in helped
    assert "paired: learn a before → after step; inbetween: learn to draw the frame between two key poses" in helped
    assert "invert: learn to invert a drawing's colours." in helped
    refused = CliRunner().invoke(main, ["task", "new", "x", "--kind", "sepia"])
    assert refused.exit_code == 2 and "'sepia' is not one of 'paired', 'inbetween', 'invert'" in refused.output


def test_a_kind_registered_twice_is_refused_and_an_unregistered_one_is_unknown(invert):
    with pytest.raises(Conflict, match="A task kind called 'invert' is already registered"):
        register(InvertKind())
    unregister("invert")
    assert kind_names() == ("paired", "inbetween")
    with pytest.raises(BadInput, match="'invert' is not a task kind Apprentice knows; use one of: paired, inbetween."):
        get_kind("invert")


def test_no_module_of_apprentice_names_the_plugin_kind():
    plugin = re.compile(r"""["']invert["']|InvertKind|invert_kind""")
    named = [path for path in SRC.rglob("*.py") if plugin.search(path.read_text())]
    assert named == []


@pytest.mark.parametrize("path", SHELLS, ids=lambda path: path.name)
def test_shells_and_the_apply_workflow_never_branch_on_a_kind_name(path):
    text = path.read_text()
    assert not re.search(r"""kind\s*==|["'](paired|inbetween)["']""", text)


def test_apply_options_survive_a_round_trip_through_json():
    options = ApplyOptions("ink", "ab12", 3, ("frames", "gif", "apng"), 24.0, "walk", 256)
    assert ApplyOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    assert ApplyOptions.from_dict(ApplyOptions().to_dict()) == ApplyOptions()


def test_apply_options_refuse_unknown_fields_and_formats():
    with pytest.raises(BadInput, match="'speed' is not an apply option"):
        ApplyOptions.from_dict({"speed": 2})
    with pytest.raises(BadInput, match="'mp4' is not an output format Apprentice writes; use frames, gif, apng."):
        ApplyOptions(formats=("frames", "mp4"))
