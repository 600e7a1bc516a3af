"""How far the in-between network gets on real sprites with compute no laptop has: a ceiling for issue 19's target.

Trains the app's in-between network (its loss, its DIS start, its examples: every three drawings in a row with the
keys around them, mirrored and played backwards, 96-px patches) in larger batches on the fastest device present
(CUDA where there is one), wider with --scale, and scores it on the bench's held-out triplets of unseen characters
(`inbetween_sets`, drawn as `apply` draws them) every --every seconds of training, beside DIS. The DIS start is
computed once on each whole frame, as apply sees it, not on each patch. Every checkpoint is printed: the best, read
off the held-out triplets themselves, is a ceiling, optimistic on purpose, not an apprentice the app would publish.
Run: python bench/inbetween_ceiling.py --data supertux wesnoth [--seconds 120] [--scale 1 4] [--batch 32]
On a machine without apt-get or the art's cache: `--save sets.npz` where they are, then `--sets sets.npz` there.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from apprentice.formats.images import premultiplied_tensor, straight_rgba
from apprentice.kinds import inbetween_net as nets
from apprentice.kinds.inbetween import MOTION_WEIGHT
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet, motion_loss
from apprentice.kinds.tiling import window
from apprentice.train.sampler import pad_to

from inbetween_baselines import flow_warp
from inbetween_sets import DATA, Sequences, around_of, drawings, held_out_triplets, scores, split

PATCH = 96  # the in-between kind's training patch
PRIOR = nets.prior_flows
STARTS: list[torch.Tensor] = []  # the precomputed DIS start the next forward takes, instead of computing its own


def stashed_start(first: torch.Tensor, last: torch.Tensor, parts: bool = False) -> torch.Tensor:
    return STARTS.pop() if STARTS else PRIOR(first.cpu(), last.cpu(), parts).to(first.device)


def frames_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    """uint8 straight RGBA frames → (4·n)×H×W premultiplied float32."""
    return premultiplied_tensor(np.concatenate(frames, axis=-1)).permute(2, 0, 1).contiguous()


def start_of(inputs: torch.Tensor, parts: bool) -> torch.Tensor:
    """The network's DIS start (5×H×W) for one example's inputs (16×H×W), computed as its forward would; with `parts`,
    shapes that move whole moved halfway (`kinds.parts`), as new in-between tasks do."""
    return PRIOR(inputs[None, :4], inputs[None, 4:8], parts)[0]


def learning_rate(peak: float, step: int) -> float:
    """The app's warm-up and decay (`TrainConfig.learning_rate`), written out: importing `train.loop` would need the
    workshop's store and its crypto, which the machines this bench is carried to may not have."""
    return peak * min(step / 50, 1.0) / math.sqrt(max(1.0, step / 500))


def cells(both: tuple[dict[str, float], dict[str, float]]) -> str:
    """A table's cells for the scores over every held-out triplet and over those of motion alone."""
    return " | ".join(f"{s['psnr']:.2f} / {s['ssim']:.3f} / {s['chamfer']:.2f} / {s['found']:.1%}" for s in both)


class Examples:
    """The training examples on the device: each whole frame padded with transparent paper to at least a patch,
    with its DIS start; batches of patches cut from them, mirrored and played backwards at random."""

    def __init__(self, train_set: Sequences, device: torch.device, parts: bool) -> None:
        self.items = []
        for frames in train_set.values():
            kept = drawings(frames)
            for i in range(1, len(kept) - 1):
                before, after = around_of(kept, i)
                first, last = kept[i - 1], kept[i + 1]
                keys = [first, last, first if before is None else before, last if after is None else after]
                stack = frames_tensor([pad_to(np.concatenate([*keys, kept[i]], axis=-1), PATCH)])
                self.items.append(torch.cat([stack, start_of(stack[:16], parts)]).to(device))
        areas = np.array([item.shape[-1] * item.shape[-2] for item in self.items], np.float64)
        self.weights = areas / areas.sum()
        self.mirror, self.backwards, self.swapped_sign = (
            MIRROR.to(device),
            BACKWARDS.to(device),
            SWAPPED_SIGN.to(device),
        )

    def batch(self, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        patches = []
        for index in rng.choice(len(self.items), size, p=self.weights):
            item = self.items[index]
            y = int(rng.integers(item.shape[-2] - PATCH + 1))
            x = int(rng.integers(item.shape[-1] - PATCH + 1))
            patch = item[:, y : y + PATCH, x : x + PATCH]
            if rng.random() < 0.5:  # mirrored: the flows' x parts change sign
                patch = patch.flip(-1) * self.mirror
            if rng.random() < 0.5:  # played backwards: the keys and their flows swap, the blend leans the other way
                patch = patch[self.backwards] * self.swapped_sign
            patches.append(patch)
        stack = torch.stack(patches)
        return stack[:, :16], stack[:, 16:20], stack[:, 20:]


CHANNELS = 16 + 4 + 5  # inputs (two keys, the keys around), target, DIS start (two flows, blend logit)
MIRROR = torch.ones(CHANNELS, 1, 1)
MIRROR[[20, 22]] = -1.0
BACKWARDS = torch.tensor(
    [*range(4, 8), *range(0, 4), *range(12, 16), *range(8, 12), *range(16, 20), 22, 23, 20, 21, 24]
)
SWAPPED_SIGN = torch.ones(CHANNELS, 1, 1)
SWAPPED_SIGN[24] = -1.0


class HeldOut:
    """The held-out triplets as apply draws them: each window edge-padded to the network's alignment, its DIS start
    computed once, batched by size."""

    def __init__(self, unseen: Sequences, device: torch.device, parts: bool) -> None:
        self.triplets = held_out_triplets(unseen)
        self.device = device
        self.groups: dict[tuple[int, int], list[tuple[int, torch.Tensor, torch.Tensor]]] = defaultdict(list)
        for index, ((first, _, last), around, _) in enumerate(self.triplets):
            if np.array_equal(first, last):
                continue  # a hold stays a hold, as `halfway` draws it
            before = first if around[0] is None else around[0]
            after = last if around[1] is None else around[1]
            stacked = np.concatenate([first, last, before, after], axis=-1)
            height, width = stacked.shape[:2]
            inputs = frames_tensor([window(stacked, 0, height + -height % 16, 0, width + -width % 16)])
            self.groups[inputs.shape[-2:]].append((index, inputs, start_of(inputs, parts)))

    def drawn(self, net: InbetweenNet, batch: int = 64) -> list[tuple[np.ndarray, np.ndarray, bool]]:
        made = {index: first.copy() for index, ((first, _, last), _, _) in enumerate(self.triplets)}
        net.eval()
        with torch.inference_mode():
            for items in self.groups.values():
                for start in range(0, len(items), batch):
                    chunk = items[start : start + batch]
                    STARTS[:] = [torch.stack([s for _, _, s in chunk]).to(self.device)]
                    out = net(torch.stack([x for _, x, _ in chunk]).to(self.device)).float().cpu()
                    for (index, _, _), image in zip(chunk, out, strict=True):
                        height, width = self.triplets[index][0][0].shape[:2]
                        made[index] = straight_rgba(image.permute(1, 2, 0)[:height, :width])
        net.train()
        return [(made[i], middle, motion) for i, ((_, middle, _), _, motion) in enumerate(self.triplets)]


def run(
    examples: Examples, held: HeldOut, scale: float, mse: float, args: argparse.Namespace, device: torch.device
) -> list[str]:
    torch.manual_seed(args.seed)
    config = InbetweenConfig(
        width=round(32 * scale), mid_width=round(48 * scale), deep_width=round(64 * scale),
        context=True, prior=True, parts=args.parts,
    )  # fmt: skip
    net = InbetweenNet(config).to(device)
    nets.PIXELS = nets.PIXELS.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    rng, rows, step, trained, mark = np.random.default_rng(args.seed), [], 0, 0.0, 0.0
    size = sum(p.numel() for p in net.parameters())

    def row(label: str) -> None:
        name = f"×{scale:g} ({size / 1e6:.2f} M)" + (f", squared error ×{mse:g}" if mse else "")
        rows.append(f"| {name} | {label} | {step} | {step * args.batch} | {cells(split(held.drawn(net)))} |")
        print(rows[-1], flush=True)

    while trained < args.seconds:
        began = time.perf_counter()
        for _ in range(25):
            inputs, target, start = examples.batch(args.batch, rng)
            STARTS[:] = [] if args.patch_start else [start]
            step += 1
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(args.lr, step)
            made = net(inputs)  # the kind's loss, and squared error beside it where asked (what PSNR scores)
            loss = F.l1_loss(made, target) + MOTION_WEIGHT * motion_loss(net, inputs, target)
            loss = loss + mse * F.mse_loss(made, target) if mse else loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        trained += time.perf_counter() - began
        if trained >= mark + args.every or trained >= args.seconds:
            mark = trained
            row(f"{trained:.0f} s")
    return rows


def load(args: argparse.Namespace) -> dict[str, tuple[Sequences, Sequences]]:
    """Each set's (training, unseen) sequences: from --sets where given, else from the bench's own loaders."""
    if args.sets is None:
        return {data: DATA[data](args.cache) for data in args.data}
    found: dict[str, tuple[Sequences, Sequences]] = {}
    with np.load(args.sets) as stored:
        for key in stored.files:
            data, part, name = key.split("|", 2)
            found.setdefault(data, ({}, {}))[part == "unseen"][name] = list(stored[key])
    return {data: found[data] for data in args.data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", nargs="+", default=["supertux", "wesnoth"], choices=list(DATA))
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "apprentice-bench")
    parser.add_argument("--sets", type=Path, help="read the sets from this file (made with --save)")
    parser.add_argument("--save", type=Path, help="only write the sets to this file, for a machine without them")
    parser.add_argument("--seconds", type=float, default=120.0, help="training time per network")
    parser.add_argument("--every", type=float, default=40.0, help="seconds of training between held-out scores")
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0, 4.0], help="widths, × the app's network")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mse", type=float, nargs="+", default=[0.0], help="weights of squared error in the loss")
    parser.add_argument("--parts", action="store_true", help="start from shapes moved whole, as new tasks do")
    parser.add_argument("--patch-start", action="store_true", help="compute the start on each patch, as the app does")
    args = parser.parse_args()
    sets = load(args)
    if args.save:
        arrays = {
            f"{data}|{part}|{name}": np.stack(frames)
            for data, pair in sets.items()
            for part, sequences in zip(("train", "unseen"), pair, strict=True)
            for name, frames in sequences.items()
        }
        np.savez_compressed(args.save, **arrays)
        print(f"wrote {len(arrays)} sequences to {args.save}")
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{name}; torch {torch.__version__}; batch {args.batch}; {args.seconds:g} s per network", flush=True)
    nets.prior_flows = stashed_start
    for data, (train_set, unseen) in sets.items():
        held, examples = HeldOut(unseen, device, args.parts), Examples(train_set, device, args.parts)
        print(f"\n### {data}: {len(examples.items)} training examples, {len(held.triplets)} held-out triplets\n")
        print("| network | trained | steps | patches seen | held-out: PSNR / SSIM / chamfer / found | motion alone |")
        print("|---|---|---|---|---|---|")
        dis = scores(lambda a, b, _: flow_warp(a, b, "dis"), held.triplets)
        print(f"| optical flow (DIS) | – | – | – | {cells(dis)} |", flush=True)
        if args.parts:
            whole = scores(lambda a, b, _: flow_warp(a, b, "dis", parts=True), held.triplets)
            print(f"| DIS, shapes moved whole | – | – | – | {cells(whole)} |", flush=True)
        for scale in args.scale:
            for mse in args.mse:
                run(examples, held, scale, mse, args, device)


if __name__ == "__main__":
    main()
