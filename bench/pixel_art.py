"""Real pixel art for the finish benchmark: Dungeon Crawl Stone Soup item and monster sprites from Debian.

Fetched once with apt-get into a cache folder and read from there; the art itself never enters the repository.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from sprites import fetch_package

LICENCE_NOTE = (
    "Sprites from Debian's crawl-tiles-data 2:0.28.0-1.1 (Dungeon Crawl Stone Soup 0.28, tiles cut from "
    "usr/share/crawl/dat/tiles/*.png). Its copyright file (in crawl-common) gives the game as GPL-2+ "
    "(Copyright 1997-2016 Linley Henzell, the dev team, and the contributors) and 'most of tiles' as Public "
    "Domain|CC0, the exact list uncertain: treat them as GPL-2+. Use them for local benchmarks only; never "
    "commit or ship the sprites or the sheets made from them."
)

TILES = Path("usr/share/crawl/dat/tiles")
SHEETS = ("main.png", "player.png", "gui.png", "feat.png")
CELL = 32  # px: each sprite sits centred in a cell this size, with room around it for an outline
OUTLINE = (255, 214, 64, 255)  # the outline step's colour: a selection glow around each sprite
HUE_TURN = 0.4  # the recolour step turns every colour's hue by this share of the circle


def crawl_sprites(cache: Path) -> list[np.ndarray]:
    """Every sprite of 10–28 px a side with hard alpha, cut from the tile sheets by its opaque outline."""
    root = fetch_package(cache, "crawl-tiles-data", "crawl-tiles") / TILES
    found = []
    for name in SHEETS:
        sheet = np.asarray(Image.open(root / name).convert("RGBA"))
        count, labels, stats, _ = cv2.connectedComponentsWithStats((sheet[..., 3] > 0).astype(np.uint8), 8)
        for label in range(1, count):
            x, y, w, h, _ = stats[label]
            if not (10 <= w <= CELL - 4 and 10 <= h <= CELL - 4):
                continue
            sprite = sheet[y : y + h, x : x + w].copy()
            sprite[labels[y : y + h, x : x + w] != label] = 0
            alpha = sprite[..., 3]
            if not ((alpha > 0) & (alpha < 255)).any():
                found.append(sprite)
    return found


def colours_of(sprite: np.ndarray) -> set[tuple[int, ...]]:
    return set(map(tuple, sprite[sprite[..., 3] > 0].tolist()))


def sharing_a_palette(sprites: list[np.ndarray], limit: int) -> list[np.ndarray]:
    """Sprites chosen one by one, each adding the fewest new colours, while they share at most `limit` colours."""
    colours = [colours_of(sprite) for sprite in sprites]
    union, chosen, left = set(), [], set(range(len(sprites)))
    while left:
        best = min(left, key=lambda i: (len(colours[i] - union), -len(colours[i]), i))
        if len(union | colours[best]) > limit:
            break
        union |= colours[best]
        chosen.append(sprites[best])
        left.remove(best)
    return chosen


def saturated_share(sprite: np.ndarray) -> float:
    """The share of the sprite's opaque pixels in a strong colour (saturation over 0.45): what a recolour shows."""
    opaque = sprite[sprite[..., 3] > 0][:, :3].astype(np.float64) / 255
    top, bottom = opaque.max(axis=1), opaque.min(axis=1)
    saturation = np.where(top > 0, (top - bottom) / np.maximum(top, 1e-9), 0.0)
    return float(np.mean(saturation > 0.45))


def sheets(sprites: list[np.ndarray], side: int) -> list[np.ndarray]:
    """The sprites packed side × side to a sheet, each centred in its cell on a transparent ground."""
    made = []
    for start in range(0, len(sprites) - side * side + 1, side * side):
        sheet = np.zeros((side * CELL, side * CELL, 4), dtype=np.uint8)
        for number, sprite in enumerate(sprites[start : start + side * side]):
            h, w = sprite.shape[:2]
            y, x = (number // side) * CELL + (CELL - h) // 2, (number % side) * CELL + (CELL - w) // 2
            sheet[y : y + h, x : x + w] = sprite
        made.append(sheet)
    return made


def outlined(sheet: np.ndarray) -> np.ndarray:
    """The outline step: OUTLINE on every transparent pixel beside an opaque one (4-neighbours)."""
    opaque = sheet[..., 3] > 0
    near = np.zeros_like(opaque)
    near[1:] |= opaque[:-1]
    near[:-1] |= opaque[1:]
    near[:, 1:] |= opaque[:, :-1]
    near[:, :-1] |= opaque[:, 1:]
    after = sheet.copy()
    after[near & ~opaque] = OUTLINE
    return after


def recoloured(sheet: np.ndarray) -> np.ndarray:
    """The recolour step: each opaque colour swapped for the same colour with its hue turned by HUE_TURN."""
    after = sheet.copy()
    for colour in colours_of(sheet):
        h, s, v = colorsys.rgb_to_hsv(*(channel / 255 for channel in colour[:3]))
        swapped = [round(channel * 255) for channel in colorsys.hsv_to_rgb((h + HUE_TURN) % 1.0, s, v)]
        after[(sheet == colour).all(axis=-1)] = [*swapped, 255]
    return after


def pixel_art_pairs(cache: Path, task: str) -> tuple[list, list]:
    """(training, unseen) (before, after) PIL pairs of a pixel-art task: 'outline' or 'recolour'."""
    sprites = crawl_sprites(cache)
    if task == "outline":
        rng = np.random.default_rng(0)
        chosen = [sprites[i] for i in rng.permutation(len(sprites))[: 9 * 15]]
        made = [(sheet, outlined(sheet)) for sheet in sheets(chosen, 3)]
    else:
        colourful = [sprite for sprite in sprites if saturated_share(sprite) >= 0.3]
        made = [(sheet, recoloured(sheet)) for sheet in sheets(sharing_a_palette(colourful, 60), 2)]
    pairs = [(Image.fromarray(before, "RGBA"), Image.fromarray(after, "RGBA")) for before, after in made]
    unseen = max(2, len(pairs) // 5)
    return pairs[:-unseen], pairs[-unseen:]
