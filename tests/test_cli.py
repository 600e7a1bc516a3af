"""The `apprentice` command end to end, as a user types it, and README kept true to it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from apprentice.cli import main
from apprentice.kinds.timing import NAMES

from conftest import ball, write_pair_folder


def run(*args: str) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_whole_loop_from_the_command_line(home, tmp_path):
    assert "Workshop ready" in run("init", "--name", "Ada")
    assert "Workshop ready" in run("init")  # idempotent
    run("task", "new", "ink", "--augment", "mirror+rotate")
    added = json.loads(run("add", "ink", write_pair_folder(tmp_path / "pairs", 3), "--json"))
    assert sorted(added["added"]) == ["p0", "p1", "p2"]
    manifest = json.loads(run("train", "ink", "--steps", "4", "--json"))
    assert manifest["training"]["steps"] == 4
    (tmp_path / "new").mkdir()
    Image.new("RGB", (70, 50), "white").save(tmp_path / "new" / "page.png")
    jobs = json.loads(run("apply", "ink", tmp_path / "new", "--out", tmp_path / "out", "--json"))
    assert jobs[0]["apprentice"] == manifest["id"] and Path(jobs[0]["output"]).exists()
    listed = json.loads(run("list", "--json"))
    assert listed[0]["name"] == "ink" and listed[0]["examples"] == 3 and len(listed[0]["apprentices"]) == 1
    shown = json.loads(run("show", "ink", "--json"))
    assert shown["manifest"]["id"] == manifest["id"] and len(shown["example_list"]) == 6
    assert "ink" in run("list") and "apprentice #1" in run("show", "ink")


def test_a_user_error_is_one_sentence_without_a_traceback(home, tmp_path):
    run("init")
    result = CliRunner().invoke(main, ["add", "nosuchtask", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: There is no task named 'nosuchtask'; create it with `apprentice task new nosuchtask`."
    )
    assert "Traceback" not in result.output


def test_commands_before_init_say_to_run_init(home):
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 1 and "apprentice init" in result.output


def commands(group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names += commands(command, f"{prefix}{name} ") if hasattr(command, "commands") else [prefix + name]
    return names


@pytest.mark.parametrize("command", commands(main))
def test_every_command_is_in_readme(command):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"`apprentice {command}" in readme


def test_consent_retrain_and_provenance_from_the_command_line(home, tmp_path):
    run("init", "--name", "Ada")
    run("task", "new", "ink")
    folder = write_pair_folder(tmp_path / "pairs", 3)
    run("add", "ink", folder)
    first = json.loads(run("train", "ink", "--steps", "3", "--json"))
    changes = json.loads(run("consent", folder / "after" / "p1.png", "--scope", "withdrawn", "--json"))
    assert changes[0]["scope"] == "withdrawn" and changes[0]["verified"]
    assert "tainted" in run("list") and "tainted" in run("show", "ink")
    second = json.loads(run("retrain", "ink", "--json"))
    assert second["lineage"]["successor_of"] == first["id"]
    (tmp_path / "new").mkdir()
    Image.new("RGB", (30, 30), "white").save(tmp_path / "new" / "page.png")
    run("apply", "ink", tmp_path / "new", "--out", tmp_path / "out")
    checked = json.loads(run("provenance", tmp_path / "out" / "page.png", "--json"))
    assert checked[0]["claims"]["id"] == second["id"] and checked[0]["pixels_match"]


def test_in_betweening_from_the_command_line(home, tmp_path):
    run("init")
    run("task", "new", "tween", "--kind", "inbetween")
    frames = [ball(2 + 4 * i) for i in range(6)]
    frames[0].save(tmp_path / "walk.gif", save_all=True, append_images=frames[1:], duration=80)
    assert json.loads(run("add", "tween", tmp_path / "walk.gif", "--json"))["added"][0] == "walk 001"
    assert "cross-fading the keys scores" in run("train", "tween", "--steps", "2")
    (tmp_path / "keys").mkdir()
    frames[0].save(tmp_path / "keys" / "k1.png")
    frames[4].save(tmp_path / "keys" / "k2.png")
    made = json.loads(run("apply", "tween", tmp_path / "keys", "--out", tmp_path / "out", "--gif", "--json"))
    assert [Path(m["output"]).name for m in made] == ["keys-0002.png", "keys.gif"]
    assert "made by apprentice" in run("provenance", tmp_path / "out" / "keys.gif")
    said = run("apply", "tween", tmp_path / "keys", "--out", tmp_path / "eased", "--timing", "ease-in 3")
    assert re.search(r"Drew 3 in-between\(s\) in \d+\.\d s: \d+\.\d\d frames per second\.", said)
    assert len(list((tmp_path / "eased").glob("keys-*.png"))) == 5
    refused = CliRunner().invoke(main, ["apply", "tween", str(tmp_path / "keys"), "--out", "x", "--timing", "1/2,1/4"])
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "Error: The positions in '1/2,1/4' do not rise from the first key to the second; write them in order."
    )


def test_every_named_spacing_of_a_timing_chart_is_in_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "--timing" in readme
    for name in NAMES:
        assert f"`{name} " in readme, name


@pytest.mark.parametrize(("command", "setting"), [("apply", "applying"), ("serve", "applying"), ("train", "training")])
def test_each_command_sets_the_heap_for_what_it_does(home, monkeypatch, command, setting):
    """apply's tiles need their activations reused from the heap (1.5–2.8× faster); training on a large set needs
    freed decode buffers handed back (train/process.py)."""
    chosen = []
    monkeypatch.setattr("apprentice.cli.ready_for_applying", lambda: chosen.append("applying"))
    monkeypatch.setattr("apprentice.cli.ready_for_training", lambda: chosen.append("training"))
    CliRunner().invoke(main, [command, "--help"])
    assert chosen == [setting]
