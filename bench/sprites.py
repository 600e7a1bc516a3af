"""Real hand-made animation for the in-betweening benchmark: SuperTux creature and Wesnoth unit sprites from Debian.

Fetched once with apt-get into a cache folder and read from there; the art itself never enters the repository.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

LICENCE_NOTE = (
    "SuperTux creature art from Debian's supertux-data 0.6.3: its copyright file gives images/creatures no stanza "
    "of its own, so they fall under the catch-all 'Files: *' (Copyright 2003-2021 SuperTux Devel Team and named "
    "contributors, License GPL-3+); only levels (GPL-2+ or CC-BY-SA-3.0 / CC-BY-SA-4.0), music, fonts and two "
    "editor icons are licensed apart. Use it for local benchmarks only; never commit or ship the frames."
)

WESNOTH_LICENCE_NOTE = (
    "Wesnoth unit art from Debian's wesnoth-1.16-data 1:1.16.9-1: its copyright file singles out only fonts, "
    "bundled scripts and tools, so data/core/images/units falls under the main notice (Copyright 2003-2009 "
    "David White and the Wesnoth contributors it names, 'far more' unlisted; GNU GPL version 2 or at your option "
    "any later version). Use it for local benchmarks only; never commit or ship the frames."
)

CREATURES = Path("usr/share/games/supertux2/images/creatures")
UNITS = Path("usr/share/games/wesnoth/1.16/data/core/images/units")
UNIT_FRAME = re.compile(r"^(?P<name>.+?)-?(?P<k>\d+)\.png$")
FRAME = re.compile(r"^(?P<name>.+)-(?P<k>\d+)\.png$")
IMAGES = re.compile(r"\(images((?:\s+\"[^\"]+\")+)\s*\)")


def supertux_sequences(cache: Path) -> dict[str, list[np.ndarray]]:
    """Animation sequences "creature/NAME" → uint8 RGBA frames in animation order (≥ 4 frames, one size)."""
    root = fetch_supertux(cache) / CREATURES
    orders = sprite_orders(root)
    sequences = {}
    for (folder, name), paths in sorted(numbered_frames(root).items()):
        paths = orders.get(frozenset(paths), paths)
        frames = [np.asarray(Image.open(path).convert("RGBA")) for path in paths]
        if len({frame.shape for frame in frames}) == 1 and any((f != frames[0]).any() for f in frames[1:]):
            sequences[f"{folder}/{name}"] = frames
    return sequences


def fetch_supertux(cache: Path) -> Path:
    """The extracted supertux-data package under cache/supertux, downloaded and unpacked when missing."""
    return fetch_package(cache, "supertux-data", "supertux")


def wesnoth_sequences(cache: Path) -> dict[str, list[np.ndarray]]:
    """Unit animations "faction/NAME" → uint8 RGBA frames in number order (≥ 4 frames, one size).

    Wesnoth keeps each frame in its own file, NAME-1.png or NAME1.png, …, and its unit .cfg files play them as
    ranges (image="…-attack[1~4].png"), so the number order is the drawn order; team colour stays magenta.
    """
    root = fetch_package(cache, "wesnoth-1.16-data", "wesnoth") / UNITS
    sequences = {}
    for (folder, name), paths in sorted(unit_frames(root).items()):
        frames = [np.asarray(Image.open(path).convert("RGBA")) for path in paths]
        if len({frame.shape for frame in frames}) == 1 and any((f != frames[0]).any() for f in frames[1:]):
            sequences[f"{folder}/{name}"] = frames
    return sequences


def wesnoth_unit(key: str) -> str:
    """The unit a wesnoth_sequences key belongs to: its faction folder and the name's first word, variants included.

    Coarse on purpose: "archer+female-bow-attack" is an archer, "dark-adept-magic" and "dark-sorcerer-magic" both
    "dark", and a unit's subfolder joins its faction's, so a split by unit keeps one drawing's variants together.
    """
    return f"{key.split('/')[0]}/{re.split(r'[-+_]', key.rsplit('/', 1)[1])[0]}"


def unit_frames(root: Path) -> dict[tuple[str, str], list[Path]]:
    """Files NAME-1.png (or NAME1.png), … grouped by (folder, NAME): the run from 0 or 1 while consecutive, ≥ 4."""
    found: dict[tuple[str, str], dict[int, Path]] = defaultdict(dict)
    for path in root.rglob("*.png"):
        if match := UNIT_FRAME.match(path.name):
            found[(path.parent.relative_to(root).as_posix(), match["name"])][int(match["k"])] = path
    groups = {}
    for key, numbered in found.items():
        first = min(numbered)
        consecutive = []
        while first + len(consecutive) in numbered:
            consecutive.append(numbered[first + len(consecutive)])
        if first <= 1 and len(consecutive) >= 4:
            groups[key] = consecutive
    return groups


def fetch_package(cache: Path, package: str, name: str) -> Path:
    """The Debian package extracted under cache/name, downloaded with apt-get and unpacked when missing."""
    target = cache / name
    if target.is_dir():
        return target
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise RuntimeError(
            f"apt-get and dpkg-deb are needed to fetch {package}; on a non-Debian system unpack the "
            f"{package} .deb into {target} yourself."
        )
    with tempfile.TemporaryDirectory() as folder:
        run(["apt-get", "download", package], Path(folder))
        deb = next(Path(folder).glob(f"{package}_*.deb"))
        unpacked = Path(folder) / "unpacked"
        run(["dpkg-deb", "-x", str(deb), str(unpacked)], Path(folder))
        cache.mkdir(parents=True, exist_ok=True)
        shutil.move(unpacked, target)
    return target


def run(command: list[str], folder: Path) -> None:
    """Run a command in folder; a failure becomes one sentence naming the command and its error output."""
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed: {done.stderr.strip() or done.stdout.strip()}")


def numbered_frames(root: Path) -> dict[tuple[str, str], list[Path]]:
    """Files NAME-0.png, NAME-1.png, … grouped by (folder, NAME): the run from 0 while K is consecutive, ≥ 4."""
    found: dict[tuple[str, str], dict[int, Path]] = defaultdict(dict)
    for path in root.rglob("*.png"):
        if match := FRAME.match(path.name):
            found[(path.parent.relative_to(root).as_posix(), match["name"])][int(match["k"])] = path.resolve()
    groups = {}
    for key, numbered in found.items():
        consecutive = []
        while len(consecutive) in numbered:
            consecutive.append(numbered[len(consecutive)])
        if len(consecutive) >= 4:
            groups[key] = consecutive
    return groups


def sprite_orders(root: Path) -> dict[frozenset[Path], list[Path]]:
    """Frame order from the .sprite files' (images …) lists: set of files → first-appearance order."""
    orders = {}
    for sprite in root.rglob("*.sprite"):
        for listed in IMAGES.findall(sprite.read_text(errors="replace")):
            paths = [(sprite.parent / name).resolve() for name in re.findall(r"\"([^\"]+)\"", listed)]
            distinct = list(dict.fromkeys(paths))
            orders.setdefault(frozenset(distinct), distinct)
    return orders


def triplets(frames: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Consecutive (previous, middle, next) frames of one sequence, without wrapping around."""
    return [(frames[i - 1], frames[i], frames[i + 1]) for i in range(1, len(frames) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "apprentice-bench")
    parser.add_argument("--set", default="supertux", choices=["supertux", "wesnoth"])
    args = parser.parse_args()
    sequences = (wesnoth_sequences if args.set == "wesnoth" else supertux_sequences)(args.cache)
    all_triplets = [t for frames in sequences.values() for t in triplets(frames)]
    heights = [frames[0].shape[0] for frames in sequences.values()]
    widths = [frames[0].shape[1] for frames in sequences.values()]
    lengths = [len(frames) for frames in sequences.values()]
    still = sum((a == b).all() for a, b, _ in all_triplets) + sum((b == c).all() for _, b, c in all_triplets)
    same_ends = sum((a == c).all() for a, _, c in all_triplets)
    repeating = [key for key, frames in sequences.items() if len({frame.tobytes() for frame in frames}) < len(frames)]
    print(f"{len(sequences)} sequences, {len(all_triplets)} triplets, {min(lengths)}-{max(lengths)} frames each")
    print(f"sizes: height {min(heights)}-{max(heights)} px, width {min(widths)}-{max(widths)} px")
    print(f"triplet neighbour pairs with an unchanged frame: {still} of {2 * len(all_triplets)}")
    print(f"triplets whose first and last frames are identical: {same_ends}")
    print(f"sequences that repeat a frame ({len(repeating)}): {', '.join(repeating)}")
    print(WESNOTH_LICENCE_NOTE if args.set == "wesnoth" else LICENCE_NOTE)


if __name__ == "__main__":
    main()
