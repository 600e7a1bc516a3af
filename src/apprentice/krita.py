"""The Krita plugin's installation: copy `krita_plugin/` (package data) into Krita's pykrita folder, or zip it.

The plugin itself never imports Apprentice; it is a client of `apprentice serve` on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from platformdirs import user_data_dir

from apprentice.errors import BadInput

PLUGIN = Path(__file__).parent / "krita_plugin"
NAME = "apprentice_krita"
ENABLE = "Restart Krita, then tick Apprentice in Settings → Configure Krita → Python Plugin Manager and restart again."


def pykrita_folder() -> Path:
    """Where Krita looks for Python plugins: ~/.local/share/krita/pykrita on Linux, the platform's equal elsewhere."""
    return Path(user_data_dir("krita", appauthor=False, roaming=True)) / "pykrita"


def plugin_files() -> list[tuple[Path, str]]:
    """(file, its path inside pykrita) for the .desktop file and every file of the plugin's package."""
    files = [(PLUGIN / f"{NAME}.desktop", f"{NAME}.desktop")]
    package = sorted(p for p in (PLUGIN / NAME).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files + [(path, path.relative_to(PLUGIN).as_posix()) for path in package]


def settings(command: list[str] | None = None) -> bytes:
    """What the plugin reads to start `apprentice serve`: this Apprentice's command and workshop folder."""
    found = {"command": command or [sys.executable, "-m", "apprentice.cli"]}
    if os.environ.get("APPRENTICE_HOME"):
        found["environment"] = {"APPRENTICE_HOME": os.environ["APPRENTICE_HOME"]}
    return json.dumps(found, indent=2).encode()


def install(folder: Path | None = None, command: list[str] | None = None) -> Path:
    """Copy the plugin into Krita's pykrita folder (replacing an older copy); the folder it went to."""
    target = folder or pykrita_folder()
    try:
        shutil.rmtree(target / NAME, ignore_errors=True)
        for source, inside in plugin_files():
            (target / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / inside)
        (target / NAME / "settings.json").write_bytes(settings(command))
    except OSError as error:
        raise BadInput(f"Cannot write the Krita plugin into {target} ({error.strerror}); check that folder.") from None
    return target


def write_zip(path: Path, command: list[str] | None = None) -> Path:
    """The zip Krita's Tools → Scripts → Import Python Plugin from File… takes: the .desktop file and the package."""
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for source, inside in plugin_files():
                archive.write(source, inside)
            archive.writestr(f"{NAME}/settings.json", settings(command))
    except OSError as error:
        raise BadInput(f"Cannot write {path} ({error.strerror}); choose another place with --zip.") from None
    return path
