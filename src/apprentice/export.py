"""Export an apprentice as an ONNX file, for ONNX Runtime or any other program that reads ONNX.

The file takes premultiplied RGBA (as many images side by side in the channels as the task's kind sees) of any
size that is a multiple of its `align`, and carries the apprentice's id and manifest hash as metadata.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from apprentice.errors import BadInput
from apprentice.files import write_atomically
from apprentice.kinds import get_kind
from apprentice.provenance.manifest import find, load_network
from apprentice.store.workshop import Workshop


def export_onnx(workshop: Workshop, task_name: str, out: Path, apprentice_id: str | None = None) -> Path:
    """Write the task's newest (or the named) apprentice to `out` as ONNX; returns the path written."""
    try:
        import onnx
    except ImportError:
        raise BadInput("ONNX export needs the onnx extra; install it with: pip install 'apprentice[onnx]'.") from None
    apprentice = find(workshop, task_name, apprentice_id)
    net = load_network(apprentice).eval()
    if getattr(getattr(net, "config", None), "prior", False):
        raise BadInput(
            f"{task_name}'s apprentice starts its motion from OpenCV's optical flow, which an ONNX file cannot hold; "
            "use it with apprentice apply, or in the workshop's page or Krita."
        )
    align, channels = getattr(net, "align", 4), get_kind(apprentice.manifest["kind"]).input_channels
    height, width = torch.export.Dim("height", min=1, max=4096), torch.export.Dim("width", min=1, max=4096)
    example = torch.rand(1, channels, 4 * align, 4 * align)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            net,
            (example,),
            dynamo=True,
            dynamic_shapes={"x": {2: align * height, 3: align * width}},
            input_names=["premultiplied_rgba"],
            output_names=["premultiplied_rgba_out"],
            verbose=False,
        )
    model = program.model_proto
    facts = {
        "apprentice": apprentice.id,
        "manifest_sha256": apprentice.manifest_sha256,
        "task": apprentice.task,
        "kind": apprentice.manifest["kind"],
        "align": str(align),
        "margin": str(net.margin),
    }
    onnx.helper.set_model_props(model, facts)
    write_atomically(out, model.SerializeToString())
    return out
