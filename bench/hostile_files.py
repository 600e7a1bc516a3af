"""Hostile files at growing sizes: how long reading each one takes, to show that the cost grows linearly.

Each case is built in memory (tests/attack_files.py) at doubling sizes and read the way an import reads it; a
ratio near 2 per doubling is linear, near 4 quadratic. Caps show the sentence the user gets instead.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import attack_files as hostile  # noqa: E402
from apprentice.errors import ApprenticeError  # noqa: E402
from apprentice.imports import add_examples  # noqa: E402
from apprentice.kinds import get_kind  # noqa: E402
from apprentice.provenance.signals import training_reservations  # noqa: E402
from apprentice.store.workshop import Workshop  # noqa: E402

DOUBLINGS = (1000, 2000, 4000, 8000, 16000, 32000)
LAYERS = (125, 250, 500, 1000)
FRAMES = (125, 250, 500, 1000, 2000)
CANVAS = (512, 512)


@dataclass(frozen=True)
class Case:
    """One kind of hostile file: how to build it at a size, what the size counts, and how it is read."""

    name: str
    counts: tuple[int, ...]
    unit: str
    build: Callable[[int], bytes]
    suffix: str
    read: Callable[[Path], object]


def scan(path: Path) -> object:
    return training_reservations(path.read_bytes())


def import_sequence(path: Path) -> object:
    """Import the file as an animation into a fresh workshop: find its frames, cut triplets, store them."""
    with tempfile.TemporaryDirectory() as folder:
        shop = Workshop.init(Path(folder) / "workshop", "Bench")
        try:
            shop.new_task("tween", "inbetween", get_kind("inbetween").default_config())
            return add_examples(shop, "tween", [path])
        finally:
            shop.close()


def xmp_values(count: int) -> bytes:
    return hostile.png_with_xmp(hostile.see_property_xmp(count))


def xmp_chain(count: int) -> bytes:
    return hostile.png_with_xmp(hostile.nested_property_xmp(count))


def gif(count: int) -> bytes:
    return hostile.dotted_gif(count, CANVAS)


def apng(count: int) -> bytes:
    return hostile.dotted_apng(count, CANVAS)


def huge_gif(count: int) -> bytes:
    return hostile.dotted_gif(count, (9_000, 9_000))


CASES = (
    Case("XMP see-property values", DOUBLINGS, "values", xmp_values, ".png", scan),
    Case("XMP nested property chain", DOUBLINGS, "levels", xmp_chain, ".png", scan),
    Case("ORA layers as frames", LAYERS, "layers", hostile.dotted_ora, ".ora", import_sequence),
    Case("KRA layers as frames", LAYERS, "layers", hostile.dotted_kra, ".kra", import_sequence),
    Case("GIF 1×1 frames, 512² canvas", FRAMES, "frames", gif, ".gif", import_sequence),
    Case("APNG 1×1 frames, 512² canvas", FRAMES, "frames", apng, ".png", import_sequence),
    Case("ORA over the layer cap", (5000,), "layers", hostile.dotted_ora, ".ora", import_sequence),
    Case("GIF over the pixel budget", (100,), "frames", huge_gif, ".gif", import_sequence),
    Case("zip of many members", (100_000,), "members", hostile.crowded_zip, ".ora", import_sequence),
)


def measured(case: Case, path: Path, answers: multiprocessing.Queue) -> None:
    """In a child process: read the file once, send back seconds and the sentence of any refusal."""
    started = time.perf_counter()
    try:
        case.read(path)
        said = ""
    except ApprenticeError as error:
        said = str(error)
    answers.put((time.perf_counter() - started, said))


def run_case(case: Case, folder: Path, limit: float) -> list[str]:
    """One row per size; a size that takes longer than `limit` seconds stops the case."""
    rows, before = [], None
    for count in case.counts:
        data = case.build(count)
        path = folder / f"{case.name.split()[0].lower()}-{count}{case.suffix}"
        path.write_bytes(data)
        seconds, said = timed(case, path, limit)
        ratio = f"{seconds / before:5.2f}" if before and seconds else "     "
        shown = f"{seconds:8.3f}" if seconds is not None else f"  >{limit:.0f} (stopped)"
        rows.append(f"{case.name:30} {count:>7} {case.unit:7} {len(data):>10} {shown} {ratio}  {said}")
        print(rows[-1], flush=True)
        if seconds is None:
            break
        before = seconds
    return rows


def timed(case: Case, path: Path, limit: float) -> tuple[float | None, str]:
    answers: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.get_context("fork").Process(target=measured, args=(case, path, answers))
    child.start()
    child.join(limit)
    if child.is_alive():
        child.kill()
        child.join()
        return None, ""
    return answers.get() if not answers.empty() else (None, f"the reader died (exit code {child.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds one size may take before a case stops")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    arguments = parser.parse_args()
    print(f"{'case':30} {'count':>7} {'unit':7} {'bytes':>10} {'seconds':>8} ratio  refusal")
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            if arguments.only.lower() in case.name.lower():
                run_case(case, Path(folder), arguments.limit)


if __name__ == "__main__":
    main()
