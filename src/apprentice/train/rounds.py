"""One member's part of a federated round: train the weights it was sent on its own examples, or score them.

The examples are read from this workshop's store and never leave it; what a round returns is weights and counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from apprentice.kinds.network import PICKER_WEIGHTS, without_picker
from apprentice.store.examples import ExampleRecord
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Run, TrainConfig, prepare, step, validate
from apprentice.train.process import flush_denormals
from apprentice.train.split import HeldOut


@dataclass(frozen=True)
class LocalRound:
    """What a node's round of training made, and on what."""

    weights: dict[str, torch.Tensor]
    trained_on: list[str]  # fingerprints of the examples it trained on
    held_out: list[str]  # fingerprints of the examples it kept for scoring
    pixels: int  # of the examples trained on
    steps: int
    loss: float
    gray_output: bool
    moments: dict[str, torch.Tensor]  # the optimizer's running moments, for this node's next round (never sent)
    head: dict[str, torch.Tensor] = field(default_factory=dict)  # this node's own picking head (never sent)


@dataclass(frozen=True)
class LocalScore:
    """How the weights a node was sent score on its own held-out examples, beside the baseline's score."""

    psnr: float
    ssim: float
    identity_psnr: float
    examples: int


def started(
    workshop: Workshop,
    task: str,
    records: list[ExampleRecord],
    weights: dict[str, torch.Tensor],
    seed: int,
    holdout: HeldOut | None = None,
    head: dict[str, torch.Tensor] | None = None,
) -> Run:
    """A run of `task` on exactly `records`, its network holding `weights`, holding out `holdout` where given. With
    `head` (this node's own, {} at its first round) the network also has a picking head over the palette judged
    from this node's examples: `head` where it still fits that palette, else a fresh one."""
    flush_denormals()
    picking = head is not None
    config = TrainConfig(seed=seed)
    run = prepare(workshop, task, config, fresh=True, records=records, picking=picking, holdout=holdout)
    fresh = {name: value for name, value in run.net.state_dict().items() if name in PICKER_WEIGHTS}
    fits = bool(head) and head.keys() == fresh.keys() and all(head[n].shape == fresh[n].shape for n in fresh)
    run.net.load_state_dict(weights | (head if fits else fresh))
    return run


def local_round(
    workshop: Workshop,
    task: str,
    records: list[ExampleRecord],
    weights: dict[str, torch.Tensor],
    seconds: float,
    seed: int,
    first_step: int,
    moments: dict[str, torch.Tensor] | None = None,
    holdout: HeldOut | None = None,
    head: dict[str, torch.Tensor] | None = None,
) -> LocalRound:
    """Train `weights` on `records` for `seconds` (one step at least), counting steps on from `first_step` so the
    learning-rate schedule and the batches go on across rounds, and Adam's moments from this node's last round
    (restarting them each round cost 1.6 dB on the flats bench task: `bench/federated_rounds.py`).

    Where this node's afters have a small palette, it also trains a picking head of its own over it (`head`, from
    its last round), which it keeps and never sends: the head's cross-entropy shapes the shared network's features
    (pooled training's head lifts its flats drawing by 1.6 dB; one head averaged across nodes lifted nothing; a head
    of each node's own, +0.25 dB over three seeds, not yet established: bench/RESULTS.md, "Pooled against
    federated"). A kept head whose palette changed size starts afresh. The weights returned are the shared network's."""
    run = started(workshop, task, records, weights, seed, holdout, head or {})
    run.state.step = first_step
    restore_moments(run.optimizer, moments or {})
    deadline, losses = time.monotonic() + seconds, []
    while not losses or time.monotonic() < deadline:
        losses.append(step(run))
    held = set(run.state.held_out)
    trained_on = [r for r in records if r.fingerprint not in held]
    made = {name: tensor.detach().clone() for name, tensor in run.net.state_dict().items()}
    return LocalRound(
        without_picker(made),
        [r.fingerprint for r in trained_on],
        sorted(held),
        sum(r.width * r.height for r in trained_on),
        len(losses),
        float(np.mean(losses[-20:])),
        run.state.gray_output,
        moments_of(run.optimizer),
        {name: value.contiguous() for name, value in made.items() if name in PICKER_WEIGHTS},  # packed: kept on disk
    )


def moments_of(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state, flat and named ("3.exp_avg") and packed, so safetensors can keep it."""
    return {
        f"{index}.{name}": value.detach().clone(memory_format=torch.contiguous_format)
        for index, state in optimizer.state_dict()["state"].items()
        for name, value in state.items()
    }


def restore_moments(optimizer: torch.optim.Optimizer, moments: dict[str, torch.Tensor]) -> None:
    """Continue from `moments_of` an earlier round; a parameter whose saved state does not fit starts afresh."""
    saved = optimizer.state_dict()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = {}
    for index, param in enumerate(params):
        found = {name: moments.get(f"{index}.{name}") for name in ("step", "exp_avg", "exp_avg_sq")}
        if all(value is not None for value in found.values()) and (
            found["step"].numel() == 1 and found["exp_avg"].shape == found["exp_avg_sq"].shape == param.shape
        ):
            state[index] = found
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def local_score(
    workshop: Workshop,
    task: str,
    records: list[ExampleRecord],
    weights: dict[str, torch.Tensor],
    seed: int,
    holdout: HeldOut | None = None,
) -> LocalScore:
    """Score `weights` on this node's held-out examples of `records`, the way training validates (none held out
    here: nothing scored)."""
    if holdout is not None and not set(holdout.fingerprints) & {r.fingerprint for r in records}:
        return LocalScore(0.0, 0.0, 0.0, 0)
    run = started(workshop, task, records, weights, seed, holdout)
    validate(run)
    scored = run.state.val
    return LocalScore(scored["psnr"], scored["ssim"], run.state.identity["psnr"], len(run.validation))
