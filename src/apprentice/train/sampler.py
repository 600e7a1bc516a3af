"""Random training patches with the augmentations a task allows, reproducible from (seed, step) alone.

Because a batch depends only on the seed and the step number, a resumed run sees exactly the batches
an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch


def pad_to(array: np.ndarray, size: int) -> np.ndarray:
    """Pad with transparent pixels so both sides are at least `size`."""
    height, width = array.shape[:2]
    extra = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
    return np.pad(array, extra) if extra[0][1] or extra[1][1] else array


def augment(pair: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    """Mirror left-right ('mirror'), or also rotate by quarter turns ('mirror+rotate'); 'none' keeps it."""
    if how == "none":
        return pair
    if rng.random() < 0.5:
        pair = pair[:, ::-1]
    if how == "mirror+rotate":
        pair = np.rot90(pair, k=int(rng.integers(4)), axes=(0, 1))
    return pair


POOL_BYTES = 512 * 2**20  # decoded examples held at once; a larger set streams through this pool
ROTATE = 4  # steps between one example leaving the pool and the next coming in


class PatchSampler:
    """Batches of (input, target) patches cut at the same place from each training example.

    `examples` may decode lazily (`examples[i]` reads from the store): when all of them would take more
    than `budget` bytes decoded, only a pool that fits is held, and it moves through a shuffled order
    of all examples one example every `ROTATE` steps. Which examples are in the pool, like everything
    else in a batch, follows from (seed, step) alone.
    """

    def __init__(
        self,
        examples: Sequence[tuple[np.ndarray, np.ndarray]],
        patch: int,
        batch: int,
        how: str,
        focus: float = 0.0,
        reverse: bool = False,
        areas: list[int] | None = None,
        budget: int | None = None,
    ) -> None:
        self.examples, self.patch, self.batch, self.how, self.focus = examples, patch, batch, how, focus
        self.reverse = reverse
        first = examples[0]
        self.input_channels = first[0].shape[-1]
        if areas is None:
            areas = [x.shape[0] * x.shape[1] for x, _ in examples]
        self.areas = np.array([max(area, patch * patch) for area in areas], dtype=np.float64)
        bytes_per_pixel = (first[0].shape[-1] + first[1].shape[-1]) * first[0].itemsize
        fits = int((budget or POOL_BYTES) // (bytes_per_pixel * self.areas.mean()))
        self.pool_size = len(examples) if fits >= len(examples) else max(1, fits)
        self.pool: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # example index → (stack, changed pixels)

    @property
    def streaming(self) -> bool:
        return self.pool_size < len(self.examples)

    def members(self, seed: int, step: int) -> list[int]:
        """The examples a batch at this step draws from: all, or the pool's window of the shuffled order."""
        if not self.streaming:
            return list(range(len(self.examples)))
        start = step // ROTATE
        return [self.order(seed, position) for position in range(start, start + self.pool_size)]

    def order(self, seed: int, position: int) -> int:
        """The example at a position of the endless shuffled order: a fresh shuffle every pass."""
        count = len(self.examples)
        return int(shuffle(seed, position // count, count)[position % count])

    def load(self, members: list[int]) -> None:
        """Keep exactly the members decoded: drop the others, decode the new ones."""
        wanted = set(members)
        for index in [i for i in self.pool if i not in wanted]:
            del self.pool[index]
        for index in wanted - self.pool.keys():
            x, y = self.examples[index]
            stack = pad_to(np.concatenate([x, y], axis=-1), self.patch)
            self.pool[index] = (stack, changed_pixels(stack, self.input_channels))

    def draw(self, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        members = self.members(seed, step)
        self.load(members)
        rng = np.random.default_rng([seed, step])
        weights = self.areas[members] / self.areas[members].sum()
        patches = [self.cut(members[i], rng) for i in rng.choice(len(members), self.batch, p=weights)]
        batch = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2)
        inputs, targets = batch[:, : self.input_channels], batch[:, self.input_channels :]
        return inputs.contiguous(memory_format=torch.channels_last), targets.contiguous(
            memory_format=torch.channels_last
        )

    def cut(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """A patch anywhere, or (with probability `focus`) one centred where the step changes the picture."""
        (stack, changes), half = self.pool[index], self.patch // 2
        if rng.random() < self.focus and len(changes):
            cy, cx = changes[int(rng.integers(len(changes)))]
            y = int(np.clip(cy - half, 0, stack.shape[0] - self.patch))
            x = int(np.clip(cx - half, 0, stack.shape[1] - self.patch))
        else:
            y = int(rng.integers(stack.shape[0] - self.patch + 1))
            x = int(rng.integers(stack.shape[1] - self.patch + 1))
        patch = augment(stack[y : y + self.patch, x : x + self.patch], self.how, rng)
        if self.reverse and rng.random() < 0.5:  # the input is frames in pairs: play each the other way round
            patch = patch[..., reversed_order(self.input_channels, patch.shape[-1])]
        return np.ascontiguousarray(patch)


def reversed_order(inputs: int, channels: int) -> np.ndarray:
    """Channel order that swaps the RGBA frames of each input pair, (key1, key2, before, after) becoming (key2, key1,
    after, before): the same motion played backwards. The target's channels stay where they are."""
    frames = np.arange(inputs).reshape(-1, 2, 4)[:, ::-1].reshape(-1)
    return np.concatenate([frames, np.arange(inputs, channels)])


def changed_pixels(stack: np.ndarray, split: int, threshold: float = 0.15) -> np.ndarray:
    """Coordinates (N×2) of pixels that the step changes a lot: where lines are drawn, erased, coloured or moved.

    When the input holds several images (an in-between's two keys), a pixel counts where the target
    differs from any of them.
    """
    inputs, target = stack[..., :split], stack[..., split:]
    width = target.shape[-1]
    if split % width:
        return np.zeros((0, 2), dtype=np.int64)
    differences = [np.abs(target - inputs[..., k : k + width]).max(axis=-1) for k in range(0, split, width)]
    return np.argwhere(np.maximum.reduce(differences) > threshold)


@lru_cache(maxsize=4)
def shuffle(seed: int, epoch: int, count: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 7]).permutation(count)
