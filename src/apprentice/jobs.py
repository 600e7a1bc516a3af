"""Jobs: apply an apprentice to new drawings and write the results, each marked with who made it.

Outputs keep the input's size and alpha, and carry the apprentice's id and manifest hash in their metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import layered
from apprentice.formats.images import has_alpha, image_from_rgba, is_gray, read_image, rgba, write_image
from apprentice.formats.pairs import Source, is_image
from apprentice.kinds.tiling import transform
from apprentice.provenance.credentials import credentials
from apprentice.provenance.manifest import Apprentice, find, load_network
from apprentice.store.apprentices import add_job
from apprentice.store.workshop import Workshop


@dataclass(frozen=True)
class JobResult:
    """One input drawing and the file the apprentice made from it."""

    input: str
    output: str
    apprentice: str

    def to_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "apprentice": self.apprentice}


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


def output_path(source: Source, out_dir: Path) -> Path:
    if source.layer:
        layer = re.sub(r"[^\w\- ]", "_", source.layer)  # a layer name is free text: keep it inside out_dir
        return out_dir / f"{source.path.stem}.{layer}.png"
    return out_dir / source.path.name


def apply_files(
    workshop: Workshop,
    task_name: str,
    paths: list[Path],
    out_dir: Path,
    layer: str = "",
    apprentice_id: str | None = None,
    tile: int = 1024,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[JobResult]:
    """Apply the task's apprentice to every drawing the paths name; write results into out_dir."""
    apprentice = find(workshop, task_name, apprentice_id)
    net, todo = load_network(apprentice), sources(paths, layer)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for number, source in enumerate(todo, start=1):
        target = output_path(source, out_dir)
        if target.resolve() == source.path.resolve():
            raise BadInput(f"Applying would overwrite {source.path}; choose another --out folder.")
        image = layered.read_layer(source.path, source.layer) if source.layer else read_image(source.path)
        made = transform(net, rgba(image), net.margin, tile)
        mode = output_mode(image, apprentice.manifest["output"]["gray"])
        result = image_from_rgba(made, mode)
        write_image(result, target, credentials(workshop, apprentice, result, target.suffix))
        results.append(record_job(workshop, apprentice, source, target))
        if on_progress:
            on_progress(number, len(todo), str(source))
    return results


def record_job(workshop: Workshop, apprentice: Apprentice, source: Source, target: Path) -> JobResult:
    with workshop.catalog.write() as db:
        add_job(db, apprentice.id, str(source), str(target))
    return JobResult(str(source), str(target), apprentice.id)
