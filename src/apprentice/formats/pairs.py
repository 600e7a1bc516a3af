"""Find before/after pairs among the paths a user names, by the naming conventions artists use.

`before/` and `after/` folders with matching file names; `X.before.png` beside `X.after.png`; or one
layered file whose two named layers are the before and the after.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apprentice.errors import BadInput
from apprentice.formats import layered
from apprentice.formats.images import IMAGE_SUFFIXES
from apprentice.formats.layers import part_words


@dataclass(frozen=True)
class Source:
    """Where one image comes from: a flat file, one layer of a layered file, or one frame of an animation."""

    path: Path
    layer: str = ""
    frame: int | None = None

    def __str__(self) -> str:
        if self.frame is not None:
            return f"{self.path} (frame {self.frame + 1})"
        return f"{self.path} ({part_words(self.layer)})" if self.layer else str(self.path)

    @property
    def part(self) -> str:
        """What the catalog stores beside the file's work id to find this image in it: layer name or frame."""
        return str(self.frame) if self.frame is not None else self.layer


@dataclass(frozen=True)
class PairSource:
    name: str
    before: Source
    after: Source


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def role_of(path: Path) -> tuple[str, str] | None:
    """('X', 'before') for X.before.png, ('X', 'after') for X.after.png, else None."""
    stem, dot, role = path.stem.rpartition(".")
    return (stem, role.lower()) if dot and role.lower() in ("before", "after") else None


def find_pairs(paths: list[Path], before_layer: str = "", after_layer: str = "") -> list[PairSource]:
    """Every pair the paths hold, each once; BadInput when a path holds none or half of one."""
    pairs: dict[tuple[Source, Source], PairSource] = {}
    for path in paths:
        for pair in pairs_in(Path(path), before_layer, after_layer):
            pairs.setdefault((pair.before, pair.after), pair)
    return list(pairs.values())


def pairs_in(path: Path, before_layer: str, after_layer: str) -> list[PairSource]:
    if not path.exists():
        raise BadInput(f"{path} does not exist; check the spelling of the path.")
    if path.is_dir():
        found = folder_pairs(path, before_layer, after_layer)
        if not found:
            raise BadInput(
                f"{path} holds no before/after pairs; put them in before/ and after/ sub-folders with the "
                "same file names, or name them X.before.png and X.after.png."
            )
        return found
    if layered.is_layered(path):
        return [layered_pair(path, before_layer, after_layer)]
    return [named_pair(path)]


def folder_pairs(folder: Path, before_layer: str, after_layer: str) -> list[PairSource]:
    if (folder / "before").is_dir() and (folder / "after").is_dir():
        return matched_folders(folder / "before", folder / "after")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    found = [named_pair(p) for p in files if is_image(p) and role_of(p) and role_of(p)[1] == "before"]
    found += [layered_pair(p, before_layer, after_layer) for p in files if layered.is_layered(p)]
    return found


def matched_folders(befores: Path, afters: Path) -> list[PairSource]:
    after_by_stem = {p.stem: p for p in afters.iterdir() if is_image(p) or layered.is_layered(p)}
    pairs = []
    for before in sorted(p for p in befores.iterdir() if is_image(p)):
        after = after_by_stem.get(before.stem)
        if after is None:
            raise BadInput(f"{before} has no partner in {afters}; add an after image with the same name.")
        pairs.append(PairSource(before.stem, Source(before), Source(after)))
    return pairs


def named_pair(path: Path) -> PairSource:
    named = role_of(path)
    if not is_image(path) or named is None:
        raise BadInput(
            f"{path} is not part of a pair; name it X.before{path.suffix} / X.after{path.suffix}, or put it in "
            "a folder with before/ and after/ sub-folders."
        )
    stem, role = named
    other = "after" if role == "before" else "before"
    partners = sorted(path.parent.glob(f"{glob_escape(stem)}.{other}.*"))
    if not partners:
        raise BadInput(f"{path} has no {other} partner; add {stem}.{other}{path.suffix} beside it.")
    before, after = (path, partners[0]) if role == "before" else (partners[0], path)
    return PairSource(stem, Source(before), Source(after))


def layered_pair(path: Path, before_layer: str, after_layer: str) -> PairSource:
    if not before_layer or not after_layer:
        names = ", ".join(f"'{name}'" for name in layered.layer_names(path))
        raise BadInput(
            f"{path} is a layered file; say which layers hold the before and the after with "
            f"--before-layer and --after-layer (its layers are: {names})."
        )
    return PairSource(path.stem, Source(path, before_layer), Source(path, after_layer))


def glob_escape(text: str) -> str:
    return "".join(f"[{char}]" if char in "*?[]" else char for char in text)
