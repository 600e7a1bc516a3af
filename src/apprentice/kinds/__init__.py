"""Task kinds: one module per kind, each a small plugin the generic import, training and apply call.

The kinds Apprentice ships are registered here, in one place; a plugin adds one with `register(TheKind())`.
"""

from __future__ import annotations

from apprentice.errors import BadInput, Conflict
from apprentice.kinds.inbetween import InbetweenKind
from apprentice.kinds.kind import AUGMENTATIONS, FoundExample, Inputs, Kind, Output
from apprentice.kinds.options import ApplyOptions
from apprentice.kinds.paired import PairedKind

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_KIND",
    "ApplyOptions",
    "FoundExample",
    "Inputs",
    "Kind",
    "Output",
    "get_kind",
    "kind_names",
    "kinds",
    "register",
    "unregister",
]

DEFAULT_KIND = "paired"  # what a new task is when no kind is named
REGISTRY: dict[str, Kind] = {kind.name: kind for kind in (PairedKind(), InbetweenKind())}


def register(kind: Kind) -> Kind:
    """Make a kind known by its name to every command and page; a name already taken is refused."""
    if kind.name in REGISTRY:
        raise Conflict(f"A task kind called '{kind.name}' is already registered; give the new kind another name.")
    REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Forget a kind a plugin registered (tasks of that kind stay stored, but cannot train or apply)."""
    REGISTRY.pop(name, None)


def kinds() -> list[Kind]:
    """Every registered kind, the shipped ones first, in the order they were registered."""
    return list(REGISTRY.values())


def kind_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_kind(name: str) -> Kind:
    if name not in REGISTRY:
        raise BadInput(f"'{name}' is not a task kind Apprentice knows; use one of: {', '.join(REGISTRY)}.")
    return REGISTRY[name]
