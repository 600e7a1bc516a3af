"""Apply an apprentice to key poses in order, for kinds that read their inputs as one sequence (in-betweens).

The kind draws the frames between the keys; they are written as numbered frames, a GIF and/or an APNG.
"""

from __future__ import annotations

import re
from collections import abc
from collections.abc import Callable, Iterator
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


def key_sources(paths: list[Path], layer: str = "") -> list[Source]:
    """The key poses in order: image files, a folder's frames (natural order), an animation's frames, an animated
    layer's keyframes (`layer`, or the only animated one), layers."""
    found: list[Source] = []
    for path in map(Path, paths):
        if not path.exists():
            raise BadInput(f"{path} does not exist; check the spelling of the path.")
        files = sorted((p for p in path.iterdir() if p.is_file()), key=natural_key) if path.is_dir() else [path]
        for file in files:
            inside = frames_in(file, layer)
            if inside is not None:
                found += inside
            elif is_image(file):
                found.append(Source(file))
            elif not path.is_dir():
                raise BadInput(f"{file} is not an image Apprentice can read; export the key poses as PNG.")
    if len(found) < 2:
        raise BadInput(f"{', '.join(map(str, paths))} holds {len(found)} key pose(s); pass at least two, in order.")
    return found


class KeyPoses(abc.Sequence):
    """The key poses as straight-RGBA arrays, read from their files when asked for, those within three of the last
    one asked for kept (a gap reads its keys and the keys around them): a long shot never lies in memory whole."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self._kept: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[each] for each in range(*index.indices(len(self)))]
        if index not in self._kept:
            self._kept = {each: pixels for each, pixels in self._kept.items() if abs(each - index) <= 3}
            self._kept[index] = rgba(read_frame(self.sources[index]))
        return self._kept[index]


def check_keys(sources: list[Source]) -> tuple[Image.Image, bool]:
    """Read every key once, one at a time: the first key, and whether any has alpha; BadInput on a size mismatch."""
    first, alpha = read_frame(sources[0]), False
    for source in sources:
        key = read_frame(source) if source != sources[0] else first
        alpha = alpha or has_alpha(key)
        if key.size != first.size:
            raise BadInput(
                f"{source} is {key.width}×{key.height} but {sources[0]} is {first.width}×{first.height}; "
                "export every key pose at the same size."
            )
    return first, alpha


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
    it, file written) for each drawn frame as it is written, then each animation. Frames stream through one at a
    time; only a GIF or APNG of the shot keeps them all, since it is written whole.
    """
    sources = key_sources(paths, options.layer)
    first, alpha = check_keys(sources)
    mode = sequence_mode(first, alpha, apprentice)
    name = options.shot or (paths[0].name if paths[0].is_dir() else paths[0].stem)
    movies = [out_dir / f"{name}{'.gif' if f == 'gif' else '.png'}" for f in options.formats if f in ("gif", "apng")]
    check_not_overwriting(sources, out_dir, name, movies)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys, how, shown = KeyPoses(sources), finish_of(apprentice), []
    made = kind.apply(net, keys, options, lambda done, total: report(on_progress, done, total))
    for number, output in enumerate(made, start=1):
        image = image_from_rgba(finished(output, keys, how).pixels, mode)
        if "frames" in options.formats:
            target = out_dir / f"{name}-{number:04d}.png"
            write_image(image, target, credentials(workshop, apprentice, image, ".png") if output.drawn else {})
            if output.drawn:
                yield sources[output.source], target
        if movies:
            shown.append(image)
    for target in movies:
        write_sequence(workshop, apprentice, shown, target, options.fps)
        yield sources[0], target


def check_not_overwriting(sources: list[Source], out_dir: Path, name: str, movies: list[Path]) -> None:
    """Refuse before drawing anything when a frame or animation written into out_dir would replace a key pose."""
    frame = re.compile(rf"{re.escape(name)}-\d{{4,}}\.png")
    targets = {target.resolve() for target in movies}
    for source in sources:
        path = source.path.resolve()
        if path in targets or (path.parent == out_dir.resolve() and frame.fullmatch(path.name)):
            raise BadInput(f"Writing the in-betweens would overwrite {source.path}; choose another --out folder.")


def finished(output: Output, keys: abc.Sequence[np.ndarray], how: Finish) -> Output:
    """A drawn frame in the finish the keys' art has (their palette and colours, hard alpha); keys pass as they are."""
    if not output.drawn:
        return output
    around = keys[output.source : output.source + 2]
    return replace(output, pixels=finish(output.pixels, around, how))


def report(on_progress: Callable[[int, int, str], None] | None, done: int, total: int) -> None:
    if on_progress:
        on_progress(done, total, "")


def sequence_mode(first: Image.Image, alpha: bool, apprentice: Apprentice) -> str:
    """The first key's mode, with alpha when any key has it."""
    mode = output_mode(first, apprentice.manifest["output"]["gray"])
    if alpha and mode in ("L", "RGB"):
        mode = "LA" if is_gray(first) else "RGBA"
    return mode


def write_sequence(
    workshop: Workshop, apprentice: Apprentice, images: list[Image.Image], target: Path, fps: float
) -> None:
    """The whole animation in one file, its credentials covering every frame as a reader decodes it."""
    duration = max(20, round(1000 / fps))
    seen = animation.decode_frames(animation.encode_animation(images, target.suffix, duration, {}), str(target))
    animation.write_animation(images, target, duration, credentials(workshop, apprentice, seen, target.suffix))
