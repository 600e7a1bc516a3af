"""Find animation sequences and key/in-between/key triplets among the paths a user names.

A sequence is a folder of numbered frames, an animated GIF/APNG/WebP, a video, an animated layer of a Krita file (its
keyframes), or a layered file whose layers are its frames (bottom layer first, as animators stack them);
`X.key1.png`, `X.inbetween.png` and `X.key2.png` name one explicit triplet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from apprentice.errors import BadInput
from apprentice.formats import animation, layered, video
from apprentice.formats.images import check_frames, decode_image
from apprentice.formats.layers import keyframe_part
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
    return file_sequence(path)


def folder_sequences(folder: Path) -> list[Sequence]:
    """The folder's own frames as one sequence, its animated and layered files and triplets, and its sub-folders'."""
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=natural_key)
    found, frames = [], []
    for path in files:
        inside = file_sequences(path)  # opened once: is it layered or animated?
        if inside is not None:
            found += inside
        elif is_image(path) and triplet_role(path):
            found += [triplet(path)] if triplet_role(path)[1] == "key1" else []
        elif is_image(path):
            frames.append(Source(path))
    if frames:
        found.append(Sequence(folder.name, frames))
    for sub in sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key):
        found += folder_sequences(sub)
    return found


def file_sequences(path: Path) -> list[Sequence] | None:
    """The sequences one file holds: each animated layer's keyframes, else its frames or layers; None for a still."""
    animated = animated_layers(path) if layered.is_layered(path) else []
    if animated:
        return [Sequence(f"{path.stem} {name}", keyframes_of(path, name)) for name in animated]
    inside = frames_in(path)
    return None if inside is None else [Sequence(path.stem, inside)]


def animated_layers(path: Path) -> list[str]:
    """The layers of a layered file that change drawing over time (two keyframes or more), bottom first."""
    document = layered.open_layered(path)
    check_frames(sum(map(len, document.keyframes.values())), document.size, str(path), "keyframes")
    return [name for name, frames in reversed(document.keyframes.items()) if len(frames) > 1]


def keyframes_of(path: Path, layer: str) -> list[Source]:
    """An animated layer's drawings in time order: one per keyframe, each shown until the next."""
    return [Source(path, keyframe_part(layer, time)) for time in layered.open_layered(path).keyframes[layer]]


def frames_in(path: Path, layer: str = "") -> list[Source] | None:
    """The frames a file holds: an animated layer's keyframes (`layer`, or the only one), a layered file's layers
    (bottom layer first), or an animated file's frames; None for any other file."""
    if layered.is_layered(path):
        animated = animated_layers(path)
        if layer in animated or (animated and not layer and len(animated) == 1):
            return keyframes_of(path, layer or animated[0])
        if animated:
            names = ", ".join(repr(name) for name in animated[:30])
            if layer:
                raise BadInput(
                    f"{path} has no animated layer {layer!r}; name one of its animated layers ({names}) with --layer."
                )
            raise BadInput(f"{path} has several animated layers ({names}); say which holds the keys with --layer.")
        document = layered.open_layered(path)
        check_frames(len(document.layers), document.size, str(path), "layers")
        return [Source(path, each.name) for each in reversed(document.layers)]
    if video.is_video(path):
        count = video.frame_count(read_bytes(path), str(path))
    elif path.suffix.lower() in (".gif", ".webp"):  # usually animated: count (and so check) every frame
        count = animation.frame_count(read_bytes(path), str(path))
    else:
        count = animation.frame_count(read_bytes(path), str(path)) if animation.is_animation(path) else 1
    return [Source(path, frame=index) for index in range(count)] if count > 1 else None


def read_bytes(path: Path) -> bytes:
    """The file's bytes; the same bytes object again while the file is unchanged, so that the frames of one
    animation are read from disk once and the decoder's cache recognises them without comparing them."""
    try:
        status = path.stat()
        key = (str(path), status.st_mtime_ns, status.st_size, status.st_ino)
        last = _last_read.get("last")
        if last is not None and last[0] == key:
            return last[1]
        data = path.read_bytes()
    except OSError as error:
        raise BadInput(f"{path} cannot be read ({error.strerror}); check its permissions.") from None
    _last_read["last"] = (key, data)
    return data


_last_read: dict[str, tuple[tuple, bytes]] = {}  # "last" → (path and status, bytes) of the file read last


def file_sequence(path: Path) -> list[Sequence]:
    inside = file_sequences(path)
    if inside is not None:
        return inside
    if triplet_role(path):
        return [triplet(path)]
    if is_image(path):
        raise BadInput(
            f"{path} is a single drawing; an in-between example needs a sequence: pass the folder of its "
            "frames, a GIF or APNG, or name a triplet X.key1.png, X.inbetween.png, X.key2.png."
        )
    raise BadInput(f"{path} is not an image, animation or video Apprentice can read; export it as PNG frames or a GIF.")


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
    data = read_bytes(source.path)
    if source.frame is not None:
        decode = video.decode_frame if video.is_video(source.path) else animation.decode_frame
        return decode(data, str(source.path), source.frame)
    return decode_image(data, str(source.path))
