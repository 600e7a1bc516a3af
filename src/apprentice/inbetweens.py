"""Draw in-betweens between the artist's key poses and write them as frames, a GIF or an APNG.

N in-betweens (1, 3, 7, …) are drawn the way animators chart them: the middle first (the breakdown), then
the middles of each half, so the apprentice only ever does what it learned: the frame halfway between two.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from apprentice.errors import BadInput
from apprentice.formats import animation
from apprentice.formats.images import has_alpha, image_from_rgba, is_gray, rgba, write_image
from apprentice.formats.pairs import Source, is_image
from apprentice.formats.sequences import frames_in, natural_key, read_frame
from apprentice.jobs import JobResult, output_mode, record_job
from apprentice.kinds.tiling import transform
from apprentice.provenance.credentials import credentials
from apprentice.provenance.manifest import Apprentice, find, load_network
from apprentice.store.workshop import Workshop

DEPTHS = {1: 1, 3: 2, 7: 3, 15: 4}  # in-betweens per key pair → halvings


def key_sources(paths: list[Path]) -> list[Source]:
    """The key poses in order: image files, a folder's frames (natural order), an animation's frames, layers."""
    found: list[Source] = []
    for path in map(Path, paths):
        if not path.exists():
            raise BadInput(f"{path} does not exist; check the spelling of the path.")
        files = sorted((p for p in path.iterdir() if p.is_file()), key=natural_key) if path.is_dir() else [path]
        for file in files:
            inside = frames_in(file)
            if inside is not None:
                found += inside
            elif is_image(file):
                found.append(Source(file))
            elif not path.is_dir():
                raise BadInput(f"{file} is not an image Apprentice can read; export the key poses as PNG.")
    if len(found) < 2:
        raise BadInput(f"{', '.join(map(str, paths))} holds {len(found)} key pose(s); pass at least two, in order.")
    return found


def read_keys(sources: list[Source]) -> list[Image.Image]:
    keys = [read_frame(source) for source in sources]
    for source, key in zip(sources, keys, strict=True):
        if key.size != keys[0].size:
            raise BadInput(
                f"{source} is {key.width}×{key.height} but {sources[0]} is {keys[0].width}×{keys[0].height}; "
                "export every key pose at the same size."
            )
    return keys


def halfway(net: nn.Module, first: np.ndarray, last: np.ndarray, tile: int) -> np.ndarray:
    """The drawing halfway between two straight-RGBA frames; a hold stays a hold."""
    if np.array_equal(first, last):
        return first.copy()
    return transform(net, np.concatenate([first, last], axis=-1), net.margin, tile)


def fill(
    net: nn.Module, keys: list[np.ndarray], between: int, tile: int, on_pair: Callable[[], None]
) -> list[np.ndarray]:
    """All frames: each key followed by its `between` in-betweens, drawn by halving; ends on the last key."""
    if between not in DEPTHS:
        raise BadInput(f"--between {between} cannot be drawn by halving; use 1, 3, 7 or 15.")
    frames = list(keys)
    for _ in range(DEPTHS[between]):
        halved = [frames[0]]
        for first, last in zip(frames, frames[1:], strict=False):
            halved += [halfway(net, first, last, tile), last]
            on_pair()
        frames = halved
    return frames


def apply_between(
    workshop: Workshop,
    task_name: str,
    paths: list[Path],
    out_dir: Path,
    between: int = 1,
    formats: tuple[str, ...] = ("frames",),
    fps: float = 12.0,
    apprentice_id: str | None = None,
    tile: int = 1024,
    on_progress: Callable[[int, int, str], None] | None = None,
    shot: str | None = None,
) -> list[JobResult]:
    """Draw `between` in-betweens between each pair of consecutive keys; write frames, a GIF and/or an APNG.

    Files are named after `shot`, else after the folder or file the keys came from.
    """
    if between not in DEPTHS:
        raise BadInput(f"--between {between} cannot be drawn by halving; use 1, 3, 7 or 15.")
    apprentice = find(workshop, task_name, apprentice_id)
    net, sources = load_network(apprentice), key_sources(paths)
    keys = read_keys(sources)
    total, done = between * (len(keys) - 1), [0]  # each halving pass draws one frame in every gap

    def tick() -> None:
        done[0] += 1
        if on_progress:
            on_progress(done[0], total, "")

    frames = fill(net, [rgba(key) for key in keys], between, tile, tick)
    mode = output_mode(keys[0], apprentice.manifest["output"]["gray"])
    if any(has_alpha(key) for key in keys) and mode in ("L", "RGB"):
        mode = "LA" if is_gray(keys[0]) else "RGBA"
    images = [image_from_rgba(frame, mode) for frame in frames]
    out_dir.mkdir(parents=True, exist_ok=True)
    name = shot or (Path(paths[0]).name if Path(paths[0]).is_dir() else Path(paths[0]).stem)
    frame_files = [out_dir / f"{name}-{number:04d}.png" for number in range(1, len(images) + 1)]
    movies = [out_dir / f"{name}{'.gif' if f == 'gif' else '.png'}" for f in formats if f in ("gif", "apng")]
    inputs = {source.path.resolve() for source in sources}
    for target in [*frame_files, *movies]:
        if target.resolve() in inputs:
            raise BadInput(f"Writing the in-betweens would overwrite {target}; choose another --out folder.")
    results = write_frames(workshop, apprentice, images, sources, between, frame_files) if "frames" in formats else []
    for target in movies:
        write_sequence(workshop, apprentice, images, target, fps)
        results.append(record_job(workshop, apprentice, sources[0], target))
    return results


def write_frames(
    workshop: Workshop,
    apprentice: Apprentice,
    images: list[Image.Image],
    keys: list[Source],
    between: int,
    targets: list[Path],
) -> list[JobResult]:
    """One PNG per frame, numbered in order; the apprentice's frames carry its credentials, keys do not.

    Each drawn frame is recorded as a job whose input is the key before it.
    """
    results = []
    for number, (image, target) in enumerate(zip(images, targets, strict=True), start=1):
        drawn = (number - 1) % (between + 1) != 0
        write_image(image, target, credentials(workshop, apprentice, image, ".png") if drawn else {})
        if drawn:
            results.append(record_job(workshop, apprentice, keys[(number - 1) // (between + 1)], target))
    return results


def write_sequence(
    workshop: Workshop, apprentice: Apprentice, images: list[Image.Image], target: Path, fps: float
) -> None:
    """The whole animation in one file, its credentials covering every frame as a reader decodes it."""
    duration = max(20, round(1000 / fps))
    seen = animation.decode_frames(animation.encode_animation(images, target.suffix, duration, {}), str(target))
    animation.write_animation(images, target, duration, credentials(workshop, apprentice, seen, target.suffix))
