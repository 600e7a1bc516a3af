"""Checkpoints: weights, best weights and optimiser state in one safetensors file, facts in its header.

One file written atomically, so a kill leaves either the previous checkpoint or the new one; nothing
is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from apprentice.files import write_atomically

FILE = "checkpoint.safetensors"


@dataclass
class Checkpoint:
    model: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor]
    optimizer: dict
    meta: dict


def optimizer_tensors(state: dict) -> dict[str, torch.Tensor]:
    return {f"optim.{index}.{name}": value for index, slots in state["state"].items() for name, value in slots.items()}


def save_checkpoint(folder: Path, checkpoint: Checkpoint) -> None:
    tensors = {f"model.{k}": v.contiguous() for k, v in checkpoint.model.items()}
    tensors |= {f"best.{k}": v.contiguous() for k, v in checkpoint.best.items()}
    tensors |= {k: v.contiguous() for k, v in optimizer_tensors(checkpoint.optimizer).items()}
    header = {"meta": json.dumps(checkpoint.meta), "param_groups": json.dumps(checkpoint.optimizer["param_groups"])}
    write_atomically(folder / FILE, save(tensors, metadata=header))


def load_checkpoint(folder: Path) -> Checkpoint | None:
    """The folder's checkpoint, or None when there is none or it cannot be read (then training starts over)."""
    try:
        data = (folder / FILE).read_bytes()
        tensors = load(data)
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    except (OSError, SafetensorError, ValueError, KeyError):
        return None
    groups = {
        prefix: {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        for prefix in ("model", "best")
    }
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer = {"state": state, "param_groups": json.loads(header["param_groups"])}
    return Checkpoint(groups["model"], groups["best"], optimizer, json.loads(header["meta"]))
