"""Apply speed of the default paired apprentice on a 2048² page: PyTorch fp32, PyTorch bf16, ONNX Runtime.

Untrained weights (speed does not depend on them); tiles of 1024 px with the network's margin, as `apply`
does. Run: python bench/apply_runtimes.py [--nets "" "width=0,blocks=3"] (needs `pip install -e '.[onnx]'`);
each --nets entry overrides the default network's settings ("" is the default itself).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from apprentice.kinds import get_kind
from apprentice.kinds.network import NetConfig, PairedNet
from apprentice.kinds.tiling import transform

from paired import parse

SIDE = 2048


class OnnxNet:
    """An exported network run by ONNX Runtime, callable like the PyTorch one inside `transform`."""

    def __init__(self, path: Path, margin: int) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name, self.margin = self.session.get_inputs()[0].name, margin

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {self.name: x.contiguous().numpy()})[0])


class Bf16Net(torch.nn.Module):
    """The network run in bfloat16 (CPU autocast), channels-last, fed and returning float32."""

    def __init__(self, net: PairedNet) -> None:
        super().__init__()
        self.net, self.margin = net, net.margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.net(x).float()


def speed(net, page: np.ndarray, margin: int) -> tuple[float, np.ndarray]:
    transform(net, page[:256, :256], margin)  # warm up
    started = time.perf_counter()
    made = transform(net, page, margin)
    return SIDE * SIDE / (time.perf_counter() - started) / 1e6, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nets", nargs="+", default=[""], help="network settings to time, e.g. width=0,blocks=3")
    args = parser.parse_args()
    page = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 4), dtype=np.uint8)
    print(f"| network | runtime | Mpx/s on {SIDE}² | mean / max difference from fp32 (of 255) |")
    print("|---|---|---|---|")
    for spec in args.nets:
        torch.manual_seed(0)
        config = get_kind("paired").default_config()["net"] | parse(spec)
        net = PairedNet(NetConfig(**config)).eval().to(memory_format=torch.channels_last)
        torch.nn.init.normal_(net.head.weight, std=0.05)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "paired.onnx"
            torch.onnx.export(
                net, (torch.rand(1, 4, 64, 64),), str(path), dynamo=True, input_names=["x"],
                dynamic_shapes={"x": {2: 4 * torch.export.Dim("h", max=4096), 3: 4 * torch.export.Dim("w", max=4096)}},
            )  # fmt: skip
            runs = {"PyTorch fp32 channels-last": net, "PyTorch bf16 channels-last": Bf16Net(net)}
            runs["ONNX Runtime fp32"] = OnnxNet(path, net.margin)
            reference = None
            for name, runner in runs.items():
                mpx, made = speed(runner, page, net.margin)
                reference = made if reference is None else reference
                diff = np.abs(made.astype(int) - reference.astype(int))
                print(f"| {spec or 'default'} | {name} | {mpx:.2f} | {diff.mean():.3f} / {diff.max()} |", flush=True)
    print(f"{torch.get_num_threads()} threads; bf16 has no native support on CPUs without AVX-512 BF16 / AMX")


if __name__ == "__main__":
    main()
