"""Random training patches with the augmentations a task allows, reproducible from (seed, step) alone.

Because a batch depends only on the seed and the step number, a resumed run sees exactly the batches
an uninterrupted run would have seen.
"""

from __future__ import annotations

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


class PatchSampler:
    """Batches of (input, target) patches cut at the same place from each training example."""

    def __init__(
        self,
        examples: list[tuple[np.ndarray, np.ndarray]],
        patch: int,
        batch: int,
        how: str,
        focus: float = 0.0,
        reverse: bool = False,
    ) -> None:
        self.patch, self.batch, self.how, self.focus, self.reverse = patch, batch, how, focus, reverse
        self.stacks = [pad_to(np.concatenate([x, y], axis=-1), patch) for x, y in examples]
        self.input_channels = examples[0][0].shape[-1]
        areas = np.array([stack.shape[0] * stack.shape[1] for stack in self.stacks], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.changes = [changed_pixels(stack, self.input_channels) for stack in self.stacks]

    def draw(self, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([seed, step])
        patches = [self.cut(i, rng) for i in rng.choice(len(self.stacks), self.batch, p=self.weights)]
        batch = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2)
        inputs, targets = batch[:, : self.input_channels], batch[:, self.input_channels :]
        return inputs.contiguous(memory_format=torch.channels_last), targets.contiguous(
            memory_format=torch.channels_last
        )

    def cut(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """A patch anywhere, or (with probability `focus`) one centred where the step changes the picture."""
        stack, changes, half = self.stacks[index], self.changes[index], self.patch // 2
        if rng.random() < self.focus and len(changes):
            cy, cx = changes[int(rng.integers(len(changes)))]
            y = int(np.clip(cy - half, 0, stack.shape[0] - self.patch))
            x = int(np.clip(cx - half, 0, stack.shape[1] - self.patch))
        else:
            y = int(rng.integers(stack.shape[0] - self.patch + 1))
            x = int(rng.integers(stack.shape[1] - self.patch + 1))
        patch = augment(stack[y : y + self.patch, x : x + self.patch], self.how, rng)
        if self.reverse and rng.random() < 0.5:  # the input is two frames: play them the other way round
            half = self.input_channels // 2
            patch = np.concatenate([patch[..., half : 2 * half], patch[..., :half], patch[..., 2 * half :]], axis=-1)
        return np.ascontiguousarray(patch)


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
