"""Apply an apprentice to drawings one at a time: each file (or a layer of it) in, one drawing of the same size out.

Outputs keep the input's size and alpha, and carry the apprentice's id and manifest hash in their metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
    """Apply the kind to every drawing the paths name; yield (input, file written) as each is written."""
    todo = sources(paths, options.layer)
    out_dir.mkdir(parents=True, exist_ok=True)
    for number, source in enumerate(todo, start=1):
        target = output_path(source, out_dir)
        if target.resolve() == source.path.resolve():
            raise BadInput(f"Applying would overwrite {source.path}; choose another --out folder.")
        image = layered.read_layer(source.path, source.layer) if source.layer else read_image(source.path)
        before = rgba(image)
        [made] = kind.apply(net, [before], options)
        result = finished_image(finish(made.pixels, [before], finish_of(apprentice)), image, apprentice)
        write_image(result, target, credentials(workshop, apprentice, result, target.suffix))
        yield source, target
        if on_progress:
            on_progress(number, len(todo), str(source))
