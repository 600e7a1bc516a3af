"""Apply speed and memory of in-betweening a long, large shot through the CLI: by default 24 keys of 1920×1080 with
`--between 3`. Prints the CLI's own frames per second, the wall time, and the apply process's peak RSS.

Run: python bench/inbetween_apply.py [--keys 24] [--size 1920x1080] [--between 3 | --timing "ease-in 3"]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apprentice.calibration import describe_cpu, read_cpuinfo
from apprentice.demo.cartoons import animation_set

APPRENTICE = str(Path(sys.executable).with_name("apprentice"))
PEAK = "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; " + (
    "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def cli(home: Path, *arguments: str) -> str:
    """One `apprentice` command in the bench's workshop; its output, or the run stops with its error."""
    done = subprocess.run(
        [APPRENTICE, *arguments], env=os.environ | {"APPRENTICE_HOME": str(home)}, text=True, capture_output=True
    )
    if done.returncode:
        sys.exit(f"apprentice {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare(folder: Path, keys: int, size: tuple[int, int]) -> Path:
    """A workshop with an in-between apprentice (default network, two training steps: its weights do not change its
    speed) and `keys` keys of a generated cartoon at `size`, as PNG files."""
    home, walk, shot = folder / "workshop", folder / "walk", folder / "keys"
    cli(home, "init", "--name", "Bench")
    cli(home, "task", "new", "tween", "--kind", "inbetween")
    walk.mkdir()
    for number, frame in enumerate(animation_set(1, seed=1, frames=6)[0]):
        frame.save(walk / f"frame{number:02d}.png")
    cli(home, "add", "tween", str(walk))
    cli(home, "train", "tween", "--steps", "2")
    shot.mkdir()
    for number, frame in enumerate(animation_set(1, seed=3, frames=keys, size=size)[0]):
        frame.save(shot / f"key{number:02d}.png", compress_level=1)
    return home


def apply(home: Path, folder: Path, spacing: list[str]) -> tuple[str, float, int]:
    """Run `apprentice apply` in a process of its own; its output, wall seconds and peak RSS (KiB)."""
    command = [APPRENTICE, "apply", "tween", str(folder / "keys"), "--out", str(folder / "shot"), *spacing]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command],
        env=os.environ | {"APPRENTICE_HOME": str(home)},
        text=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    if done.returncode:
        sys.exit(f"apply failed:\n{done.stdout}{done.stderr}")
    peak = int(re.search(r"peak-rss-kib (\d+)", done.stderr)[1])
    return done.stdout.strip().splitlines()[-1], seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=24)
    parser.add_argument("--size", default="1920x1080")
    spacing = parser.add_mutually_exclusive_group()
    spacing.add_argument("--between", type=int, default=3)
    spacing.add_argument("--timing", default="")
    args = parser.parse_args()
    size = tuple(int(side) for side in args.size.split("x"))
    spaced = ["--timing", args.timing] if args.timing else ["--between", str(args.between)]
    with tempfile.TemporaryDirectory(prefix="apprentice-bench-") as folder:
        home = prepare(Path(folder), args.keys, size)
        said, seconds, peak = apply(home, Path(folder), spaced)
        frames = len(list((Path(folder) / "shot").glob("keys-*.png")))
    whole = frames * size[0] * size[1] * 4 / 2**20
    print(f"CPU: {describe_cpu(read_cpuinfo())}")
    print(f"shot: {args.keys} keys of {size[0]}×{size[1]}, {' '.join(spaced)}: {frames} frames written")
    print(f"CLI: {said}")
    print(
        f"wall: {seconds:.1f} s (with starting Python and loading the apprentice); frames written per second: "
        f"{frames / seconds:.3f}"
    )
    print(
        f"peak RSS of the apply process: {peak / 1024:.0f} MiB (every frame of the shot held at once, as 8-bit "
        f"RGBA alone, would be {whole:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
