"""One part of an example or a job from its file's bytes: a flat image, one layer of a layered file, or one frame.

A part is named by its file's name (which picks the decoder) and a layer: a layer name, a frame number, or ''.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from apprentice.formats import animation, layered, video
from apprentice.formats.images import decode_image


def decode_part(data: bytes, name: str, layer: str) -> Image.Image:
    """The pixels of one part from its file's bytes: a flat image, a layer, or a frame (its number) of an animation."""
    if layer and layered.is_layered(Path(name)):
        return layered.decode_layer(data, name, layer)
    if layer:
        decode = video.decode_frame if video.is_video(Path(name)) else animation.decode_frame
        return decode(data, name, int(layer))
    return decode_image(data, name)
