"""The plugin inside a real Krita (Debian's `krita` under Xvfb): teach, train and apply on a new document through
a real workshop, then check the new layer's pixels and name; photographs the docker. Skipped without Krita."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from apprentice.krita import install
from krita_runs import run_krita_until
from test_krita_plugin import bgra, workshop  # noqa: F401 (the fixture: a real workshop on a free port)

from conftest import ball, drawing_pair

CHECK = Path(__file__).parent / "krita_check"
pytestmark = [
    pytest.mark.krita,
    pytest.mark.skipif(not (shutil.which("krita") and shutil.which("xvfb-run")), reason="needs krita and xvfb-run"),
]


def krita_home(tmp_path: Path, address: str) -> dict:
    """A fresh Krita profile with the Apprentice plugin and the check plugin installed and enabled."""
    data, config = tmp_path / "data", tmp_path / "config"
    pykrita = install(data / "krita" / "pykrita")
    settings = json.loads((pykrita / "apprentice_krita" / "settings.json").read_text()) | {"address": address}
    (pykrita / "apprentice_krita" / "settings.json").write_text(json.dumps(settings))
    shutil.copytree(CHECK, pykrita, dirs_exist_ok=True)
    config.mkdir()
    (config / "kritarc").write_text(
        "[python]\nenable_apprentice_krita=true\nenable_apprentice_krita_check=true\n"
        "[General]\nshowCanvasMessages=false\n"
    )
    return os.environ | {"XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(config), "HOME": str(tmp_path)}


def run_krita(environment: dict, out: Path, limit: float = 240.0) -> dict:
    run_krita_until(environment, out, "report.json", limit)
    assert (out / "report.json").exists(), (out / "krita.log").read_text(errors="replace")[-3000:]
    return json.loads((out / "report.json").read_text())


def test_a_real_krita_teaches_trains_and_applies_onto_a_new_layer(workshop, tmp_path, home):  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    before, after = drawing_pair(0)
    for name, image in (("before", before), ("after", after), ("rough", drawing_pair(5)[0])):
        (out / f"{name}.bgra").write_bytes(bgra(image))
    for time_ in range(5):
        (out / f"ball{time_}.bgra").write_bytes(bgra(ball(2 + 6 * time_, size=(48, 40))))
    report = run_krita(krita_home(tmp_path, workshop.address) | {"APPRENTICE_KRITA_CHECK": str(out)}, out)
    assert "error" not in report, report["error"]
    assert report["taught"]["added"] == ["check-sketch-ink"]
    assert report["training"]["error"] is None and report["training"]["apprentice"]
    assert report["group_written"] is False  # Krita's own quirk, which the plugin refuses in one sentence:
    assert report["group_refused"].startswith("Layer 'group' is a grouplayer, which Krita cannot paint into")
    assert report["layers"] == ["Background", "sketch", "ink", "group", "rough", "ink (apprentice v1)"]
    assert report["made"]["name"] == "ink (apprentice v1)" and report["made"]["type"] == "paintlayer"
    [job, tween_job] = sorted((home / "jobs").iterdir())
    [output] = [p for p in job.iterdir() if p.suffix == ".png"]
    drawn = Image.open(output).convert("RGBA")
    x, y, w, h = report["made"]["region"]
    canvas = Image.new("RGBA", (48, 40), (0, 0, 0, 0))
    canvas.paste(drawn, (x, y))
    assert (out / "made.bgra").read_bytes() == bgra(canvas)  # what the apprentice drew, where the layer was
    assert (out / "rough-after.bgra").read_bytes() == bgra(drawing_pair(5)[0])  # the layer itself untouched
    assert report["walk_keys"] == [0, 1, 2, 3, 4] and len(report["tween_taught"]["added"]) == 3
    assert report["tween_training"]["error"] is None
    assert report["tween_added"] == [1, 2, 3] and report["keys_keys"] == [0, 1, 2, 3, 4]
    assert all(report["walk_after"])
    assert (out / "keys-at-0.bgra").read_bytes() == (out / "ball0.bgra").read_bytes()
    assert (out / "keys-at-4.bgra").read_bytes() == (out / "ball4.bgra").read_bytes()
    for when in (1, 2, 3):
        drawn = Image.open(tween_job / f"tween-{when + 1:04d}.png").convert("RGBA")
        assert (out / f"keys-at-{when}.bgra").read_bytes() == bgra(drawn), when
    assert report["docker_found"] and "answers at" in report["docker_status"]
    assert "Apprentice v1" in report["docker_card"]
    shots = Path(os.environ.get("APPRENTICE_SCREENSHOTS", Path(__file__).parent.parent / "artifacts" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    for name in ("krita-window.png", "krita-docker.png"):
        shutil.copyfile(out / name, shots / name)
