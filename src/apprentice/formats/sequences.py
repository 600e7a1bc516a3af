"""Find animation sequences and key/in-between/key triplets among the paths a user names.

A sequence is a folder of numbered frames, an animated GIF/APNG/WebP, or a layered file whose layers
are its frames (bottom layer first, as animators stack them); `X.key1.png`, `X.inbetween.png` and
`X.key2.png` name one explicit triplet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import animation, layered
from apprentice.formats.images import decode_image
from apprentice.formats.pairs import Source, glob_escape, is_image

TRIPLET_ROLES = ("key1", "inbetween", "key2")


@dataclass(frozen=True)
class Sequence:
    """An ordered run of frames from one place; `explicit` when it is a named key/in-between/key triplet."""

    name: str
    frames: list[Source]
    explicit: bool = False


def natural_key(path: Path) -> list:
    """Sort frame2 before frame10: digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def triplet_role(path: Path) -> tuple[str, str] | None:
    """('X', 'key1') for X.key1.png and likewise for inbetween and key2, else None."""
    stem, dot, role = path.stem.rpartition(".")
    return (stem, role.lower()) if dot and role.lower() in TRIPLET_ROLES else None


def find_sequences(paths: list[Path]) -> list[Sequence]:
    """Every sequence and explicit triplet the paths hold; BadInput when a path holds none."""
    found: dict[tuple, Sequence] = {}
    for path in map(Path, paths):
        for sequence in sequences_in(path):
            found.setdefault(tuple(sequence.frames), sequence)
    return list(found.values())


def sequences_in(path: Path) -> list[Sequence]:
    if not path.exists():
        raise BadInput(f"{path} does not exist; check the spelling of the path.")
    if path.is_dir():
        found = folder_sequences(path)
        if not found:
            raise BadInput(
                f"{path} holds no animation; put each sequence's numbered frames in a folder, or add GIF or APNG "
                "files, or name a triplet X.key1.png, X.inbetween.png, X.key2.png."
            )
        return found
    return [file_sequence(path)]


def folder_sequences(folder: Path) -> list[Sequence]:
    """The folder's own frames as one sequence, its animated and layered files and triplets, and its sub-folders'."""
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=natural_key)
    found = [file_sequence(p) for p in files if layered.is_layered(p) or animation.is_animation(p)]
    found += [triplet(p) for p in files if is_image(p) and triplet_role(p) and triplet_role(p)[1] == "key1"]
    frames = [p for p in files if is_image(p) and not triplet_role(p) and not animation.is_animation(p)]
    if frames:
        found.append(Sequence(folder.name, [Source(p) for p in frames]))
    for sub in sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key):
        found += folder_sequences(sub)
    return found


def file_sequence(path: Path) -> Sequence:
    if layered.is_layered(path):
        names = layered.layer_names(path)
        return Sequence(path.stem, [Source(path, name) for name in reversed(names)])
    if triplet_role(path):
        return triplet(path)
    if animation.is_animation(path):
        count = animation.frame_count(path.read_bytes(), str(path))
        return Sequence(path.stem, [Source(path, frame=index) for index in range(count)])
    if is_image(path):
        raise BadInput(
            f"{path} is a single drawing; an in-between example needs a sequence: pass the folder of its "
            "frames, a GIF or APNG, or name a triplet X.key1.png, X.inbetween.png, X.key2.png."
        )
    raise BadInput(f"{path} is not an image or animation Apprentice can read; export it as PNG frames or a GIF.")


def triplet(path: Path) -> Sequence:
    stem, _ = triplet_role(path)
    parts = []
    for role in TRIPLET_ROLES:
        matches = sorted(path.parent.glob(f"{glob_escape(stem)}.{role}.*"))
        if not matches:
            raise BadInput(f"{path} is part of a triplet but {stem}.{role}{path.suffix} is missing; add it beside it.")
        parts.append(Source(matches[0]))
    return Sequence(stem, parts, explicit=True)


def read_frame(source: Source) -> Image.Image:
    """One frame of a sequence as an image: a flat file, a layer, or a frame of an animated file."""
    if source.layer:
        return layered.read_layer(source.path, source.layer)
    try:
        data = source.path.read_bytes()
    except OSError as error:
        raise BadInput(f"{source.path} cannot be read ({error.strerror}); check its permissions.") from None
    if source.frame is not None:
        return animation.decode_frame(data, str(source.path), source.frame)
    return decode_image(data, str(source.path))
