"""`apprentice krita install`: the plugin lands in Krita's pykrita folder, or in a zip Krita can import."""

from __future__ import annotations

import json
import zipfile

from click.testing import CliRunner

from apprentice.cli import main


def test_install_puts_the_plugin_in_kritas_pykrita_folder_and_says_how_to_enable_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["krita", "install"])
    assert result.exit_code == 0, result.output
    pykrita = tmp_path / "data" / "krita" / "pykrita"
    assert f"Installed the Krita plugin in {pykrita}." in result.output
    assert "Settings → Configure Krita → Python Plugin Manager" in result.output
    assert (pykrita / "apprentice_krita.desktop").read_text().count("X-KDE-Library=apprentice_krita") == 1
    for module in ("__init__", "docker", "qt", "layers", "pixels", "workshop", "errands"):
        assert (pykrita / "apprentice_krita" / f"{module}.py").is_file(), module
    settings = json.loads((pykrita / "apprentice_krita" / "settings.json").read_text())
    assert settings["command"][1:] == ["-m", "apprentice.cli"]
    again = CliRunner().invoke(main, ["krita", "install", "--json"])
    assert again.exit_code == 0 and json.loads(again.output) == {"folder": str(pykrita)}


def test_the_zip_holds_the_desktop_file_and_the_package_at_its_root(tmp_path):
    result = CliRunner().invoke(main, ["krita", "install", "--zip", str(tmp_path / "apprentice-krita.zip")])
    assert result.exit_code == 0, result.output
    assert "Import Python Plugin from File" in result.output
    names = zipfile.ZipFile(tmp_path / "apprentice-krita.zip").namelist()
    assert "apprentice_krita.desktop" in names and "apprentice_krita/__init__.py" in names
    assert {name.split("/")[0] for name in names} == {"apprentice_krita.desktop", "apprentice_krita"}
    assert not any("__pycache__" in name for name in names)


def test_an_unwritable_zip_place_is_one_sentence(tmp_path):
    result = CliRunner().invoke(main, ["krita", "install", "--zip", str(tmp_path / "no" / "such" / "p.zip")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Cannot write {tmp_path / 'no' / 'such' / 'p.zip'} (")
    assert result.output.strip().endswith("choose another place with --zip.")
