"""Apply an apprentice to key poses in order, for kinds that read their inputs as one sequence (in-betweens).

The kind draws the frames between the keys; they are written as numbered frames, a GIF and/or an APNG.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from apprentice.drawings import finish_of, output_mode
from apprentice.errors import BadInput
from apprentice.formats import animation
from apprentice.formats.images import has_alpha, image_from_rgba, is_gray, rgba, write_image
from apprentice.formats.pairs import Source, is_image
from apprentice.formats.sequences import frames_in, natural_key, read_frame
from apprentice.kinds import ApplyOptions, Kind, Output
from apprentice.kinds.finish import Finish, finish
from apprentice.provenance.credentials import credentials
from apprentice.provenance.manifest import Apprentice
from apprentice.store.workshop import Workshop

WRITERS = 2  # frames encoded at once: the network is done by then, so both cores encode


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


def draw_sequence(
    workshop: Workshop,
    apprentice: Apprentice,
    kind: Kind,
    net: nn.Module,
    paths: list[Path],
    out_dir: Path,
    options: ApplyOptions,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> Iterator[tuple[Source, Path]]:
    """Let the kind draw between the key poses; write the frames and animations `options.formats` names.

    Files are named after `options.shot`, else after the folder or file the keys came from; yields (key before
    it, file written) for each drawn frame and each animation.
    """
    sources = key_sources(paths)
    keys = read_keys(sources)
    arrays = [rgba(key) for key in keys]
    made = kind.apply(net, arrays, options, lambda done, total: report(on_progress, done, total))
    made = [finished(output, arrays, finish_of(apprentice)) for output in made]
    images = [image_from_rgba(output.pixels, sequence_mode(keys, apprentice)) for output in made]
    name = options.shot or (paths[0].name if paths[0].is_dir() else paths[0].stem)
    frame_files = [out_dir / f"{name}-{number:04d}.png" for number in range(1, len(images) + 1)]
    movies = [out_dir / f"{name}{'.gif' if f == 'gif' else '.png'}" for f in options.formats if f in ("gif", "apng")]
    inputs = {source.path.resolve() for source in sources}
    for target in [*frame_files, *movies]:
        if target.resolve() in inputs:
            raise BadInput(f"Writing the in-betweens would overwrite {target}; choose another --out folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    if "frames" in options.formats:
        yield from write_frames(workshop, apprentice, made, images, sources, frame_files)
    for target in movies:
        write_sequence(workshop, apprentice, images, target, options.fps)
        yield sources[0], target


def finished(output: Output, keys: list[np.ndarray], how: Finish) -> Output:
    """A drawn frame in the finish the keys' art has (their palette and colours, hard alpha); keys pass as they are."""
    if not output.drawn:
        return output
    around = keys[output.source : output.source + 2]
    return replace(output, pixels=finish(output.pixels, around, how))


def report(on_progress: Callable[[int, int, str], None] | None, done: int, total: int) -> None:
    if on_progress:
        on_progress(done, total, "")


def sequence_mode(keys: list[Image.Image], apprentice: Apprentice) -> str:
    """The first key's mode, with alpha when any key has it."""
    mode = output_mode(keys[0], apprentice.manifest["output"]["gray"])
    if any(has_alpha(key) for key in keys) and mode in ("L", "RGB"):
        mode = "LA" if is_gray(keys[0]) else "RGBA"
    return mode


def write_frames(
    workshop: Workshop,
    apprentice: Apprentice,
    made: list[Output],
    images: list[Image.Image],
    keys: list[Source],
    targets: list[Path],
) -> Iterator[tuple[Source, Path]]:
    """One PNG per frame, numbered in order; the apprentice's frames carry its credentials, keys do not.

    Frames are encoded WRITERS at a time (Pillow lets go of the interpreter while it encodes); yields each drawn
    frame with the key before it, in order, once it is written.
    """

    def write(output: Output, image: Image.Image, target: Path) -> Path:
        write_image(image, target, credentials(workshop, apprentice, image, ".png") if output.drawn else {})
        return target

    with ThreadPoolExecutor(WRITERS, "apprentice-encode") as writers:
        for output, target in zip(made, writers.map(write, made, images, targets), strict=True):
            if output.drawn:
                yield keys[output.source], target


def write_sequence(
    workshop: Workshop, apprentice: Apprentice, images: list[Image.Image], target: Path, fps: float
) -> None:
    """The whole animation in one file, its credentials covering every frame as a reader decodes it."""
    duration = max(20, round(1000 / fps))
    seen = animation.decode_frames(animation.encode_animation(images, target.suffix, duration, {}), str(target))
    animation.write_animation(images, target, duration, credentials(workshop, apprentice, seen, target.suffix))
