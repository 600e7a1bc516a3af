"""Apply an apprentice to drawings one at a time: each file (or a layer of it) in, one drawing of the same size out.

Outputs keep the input's size and alpha, and carry the apprentice's id and manifest hash in their metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from apprentice.errors import BadInput
from apprentice.formats import layered
from apprentice.formats.images import has_alpha, image_from_rgba, indexed_like, is_gray, read_image, rgba, write_image
from apprentice.formats.pairs import Source, is_image
from apprentice.kinds import ApplyOptions, Kind
from apprentice.kinds.finish import Finish, finish
from apprentice.provenance.credentials import credentials
from apprentice.provenance.manifest import Apprentice
from apprentice.store.workshop import Workshop

ALONE_PIXELS = 16_000_000  # a drawing larger than this (4000²) is not overlapped with others: bounded memory


def sources(paths: list[Path], layer: str = "") -> list[Source]:
    """The drawings the paths name: image files, the images in folders, or a layer of layered files."""
    found: list[Source] = []
    for path in map(Path, paths):
        if not path.exists():
            raise BadInput(f"{path} does not exist; check the spelling of the path.")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        found += [source_of(p, layer) for p in files if is_image(p) or layered.is_layered(p) or not path.is_dir()]
    if not found:
        raise BadInput(f"{', '.join(map(str, paths))} holds no drawings to apply the apprentice to; add PNG files.")
    return found


def source_of(path: Path, layer: str) -> Source:
    if layered.is_layered(path):
        if not layer:
            names = ", ".join(f"'{n}'" for n in layered.layer_names(path))
            raise BadInput(f"{path} is a layered file; name the layer to work on with --layer (it has: {names}).")
        return Source(path, layer)
    if not is_image(path):
        raise BadInput(f"{path} is not an image Apprentice can read; export it as PNG.")
    return Source(path)


def output_mode(image: Image.Image, gray_output: bool) -> str:
    """Keep the input's alpha; keep it grayscale when the apprentice's afters were grayscale too."""
    gray = gray_output and is_gray(image)
    return ("LA" if gray else "RGBA") if has_alpha(image) else ("L" if gray else "RGB")


def finish_of(apprentice: Apprentice) -> Finish:
    """The palette, alpha and paper the apprentice's outputs keep, as its training judged them."""
    return Finish.from_dict(apprentice.manifest["output"].get("finish"))


def finished_image(pixels: np.ndarray, image: Image.Image, apprentice: Apprentice) -> Image.Image:
    """The output as a file holds it: in the input's palette when the input is indexed and the colours fit, else
    in the input's mode (see `output_mode`)."""
    return indexed_like(pixels, image) or image_from_rgba(
        pixels, output_mode(image, apprentice.manifest["output"]["gray"])
    )


def output_path(source: Source, out_dir: Path) -> Path:
    if source.layer:
        layer = re.sub(r"[^\w\- ]", "_", source.layer)  # a layer name is free text: keep it inside out_dir
        return out_dir / f"{source.path.stem}.{layer}.png"
    return out_dir / source.path.name


def draw_each(
    workshop: Workshop,
    apprentice: Apprentice,
    kind: Kind,
    net: nn.Module,
    paths: list[Path],
    out_dir: Path,
    options: ApplyOptions,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> Iterator[tuple[Source, Path]]:
    """Apply the kind to every drawing the paths name; yield (input, file written) as each is written.

    A pipeline of three stages, one drawing each: the next drawing is decoded and the last one finished, encoded
    and written on their own threads while the network draws this one (Pillow, NumPy and PyTorch let go of the
    interpreter while they work). A drawing over ALONE_PIXELS goes through on its own, so memory stays bounded
    by one large page. A drawing that cannot be read is passed over; once the others are written, the first such
    is named in the BadInput raised.
    """
    todo = sources(paths, options.layer)
    targets = [target_of(source, out_dir) for source in todo]
    out_dir.mkdir(parents=True, exist_ok=True)
    unread: list[BadInput] = []
    with ThreadPoolExecutor(1, "apprentice-decode") as reader, ThreadPoolExecutor(1, "apprentice-encode") as writer:
        reading, writing = reader.submit(read_drawing, todo[0]), None
        for number, target in enumerate(targets):
            try:
                image, before = reading.result()
            except BadInput as error:  # one damaged file costs the artist that drawing, not the whole batch
                unread.append(error)
                if number + 1 < len(todo):
                    reading = reader.submit(read_drawing, todo[number + 1])
                continue
            alone = before.shape[0] * before.shape[1] > ALONE_PIXELS
            if alone and writing is not None:
                yield from written(writing, todo, on_progress)
                writing = None
            if number + 1 < len(todo) and not alone:
                reading = reader.submit(read_drawing, todo[number + 1])
            [made] = kind.apply(net, [before], options)
            if writing is not None:
                yield from written(writing, todo, on_progress)
            writing = number, writer.submit(write_drawing, workshop, apprentice, made.pixels, before, image, target)
            del image, before, made
            if alone:
                yield from written(writing, todo, on_progress)
                writing = None
                if number + 1 < len(todo):
                    reading = reader.submit(read_drawing, todo[number + 1])
        if writing is not None:
            yield from written(writing, todo, on_progress)
    if unread:
        raise BadInput(passed_over(unread, len(todo), out_dir))


def passed_over(unread: list[BadInput], count: int, out_dir: Path) -> str:
    """One sentence: how many drawings were written, and the first that could not be read with its fix."""
    first = str(unread[0]).rstrip(".")
    more = f" ({len(unread) - 1} more could not be read either)" if len(unread) > 1 else ""
    return f"Wrote {count - len(unread)} of {count} drawings to {out_dir}; {first}{more}."


def target_of(source: Source, out_dir: Path) -> Path:
    """Where the drawing made from `source` goes; never over the source itself."""
    target = output_path(source, out_dir)
    if target.resolve() == source.path.resolve():
        raise BadInput(f"Applying would overwrite {source.path}; choose another --out folder.")
    return target


def read_drawing(source: Source) -> tuple[Image.Image, np.ndarray]:
    """The drawing as straight RGBA, and one pixel of it as its file holds it: its mode, palette and transparency say
    how the output is stored, and the rest of the decoded file need not be held while the network draws."""
    image = layered.read_layer(source.path, source.layer) if source.layer else read_image(source.path)
    return image.crop((0, 0, 1, 1)), rgba(image)


def write_drawing(
    workshop: Workshop, apprentice: Apprentice, made: np.ndarray, before: np.ndarray, image: Image.Image, target: Path
) -> Path:
    """Finish what the network drew, as the input's file keeps it, and write it with its credentials."""
    result = finished_image(finish(made, [before], finish_of(apprentice)), image, apprentice)
    write_image(result, target, credentials(workshop, apprentice, result, target.suffix))
    return target


def written(
    writing: tuple[int, Future], todo: list[Source], on_progress: Callable[[int, int, str], None] | None
) -> Iterator[tuple[Source, Path]]:
    """(input, file written) once `writing` (the drawing's index in `todo`, its write) is done; progress after it."""
    index, future = writing
    yield todo[index], future.result()
    if on_progress:
        on_progress(index + 1, len(todo), str(todo[index]))
