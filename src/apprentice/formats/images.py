"""Flat image files (PNG, JPEG, WebP, TIFF, …): safe decoding, and writing with metadata.

Pixels travel through Apprentice as PIL images; `pixels()` turns one into the premultiplied RGBA
float array that the networks see, and `image_from_pixels()` turns such an array back.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from apprentice.errors import BadInput
from apprentice.files import write_atomically

MAX_PIXELS = 100_000_000  # 10 000 × 10 000: larger pages are refused before decoding
MAX_SEQUENCE_PIXELS = 2_000_000_000  # all frames of one animated or layered file, each decoded on the whole canvas
PNG_SETTINGS = {"compress_level": 1}  # encodes ~2× faster than Pillow's 6, files 10–40% larger (bench/png_settings.py)
DIGEST_ROWS = 256  # rows of an image hashed at once
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}


def check_size(width: int, height: int, name: str) -> None:
    """Refuse an image whose pixel count is absurd before any of it is decoded."""
    if width <= 0 or height <= 0:
        raise BadInput(f"{name} has no pixels ({width}×{height}); export it again from your drawing program.")
    if width * height > MAX_PIXELS:
        raise BadInput(
            f"{name} is {width}×{height} pixels, more than the {MAX_PIXELS // 1_000_000} Mpx Apprentice "
            "decodes safely; scale it down or cut it into pages."
        )


def check_frames(count: int, size: tuple[int, int], name: str, unit: str = "frames") -> None:
    """Refuse a file whose frames (or layers read as frames), each on the whole canvas, add up to too many pixels.

    Checked before any frame is decoded: a file of tiny frames on a huge canvas is small on disk but not to read.
    """
    total = count * size[0] * size[1]
    if total > MAX_SEQUENCE_PIXELS:
        raise BadInput(
            f"{name} has {count:,} {unit} of {size[0]}×{size[1]} pixels, {total / 1e9:.1f} billion pixels in all; "
            f"Apprentice decodes at most {MAX_SEQUENCE_PIXELS / 1e9:.0f} billion from one file — cut it into shorter "
            "sequences or scale it down and add it again."
        )


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Turn what Pillow raises on a foreign, damaged or oversized file into one BadInput sentence naming it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except BadInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput(f"{name} claims to be larger than Apprentice decodes safely; scale it down.") from None
    except UnidentifiedImageError:
        raise BadInput(f"{name} is not an image Apprentice can read; export it as PNG.") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as error:  # IndexError: cut GIFs
        raise damaged(name, str(error)) from None


def damaged(name: str, reason: str) -> BadInput:
    return BadInput(f"{name} is damaged or cut short ({reason}); export it again.")


def decode_image(data: bytes, name: str) -> Image.Image:
    """Decode image bytes fully, or raise BadInput naming `name` and what to do."""
    with reading(name):
        image = Image.open(io.BytesIO(data))
        check_size(image.width, image.height, name)
        image.load()
    return image


def read_image(path: Path) -> Image.Image:
    """Read a flat image file fully into memory, or raise BadInput naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise BadInput(f"{path} cannot be read ({error.strerror}); check that it exists.") from None
    return decode_image(data, str(path))


def has_alpha(image: Image.Image) -> bool:
    """Whether the image carries transparency."""
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def is_gray(image: Image.Image) -> bool:
    """Whether the image is stored as grayscale (L, LA, I, 1)."""
    return image.mode in ("1", "L", "LA", "La", "I", "I;16", "F")


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """uint8 straight RGBA → float32 premultiplied RGBA in [0, 1]."""
    return premultiplied_tensor(rgba).numpy()


def unpremultiply(array: np.ndarray) -> np.ndarray:
    """float premultiplied RGBA → uint8 straight RGBA."""
    return straight_rgba(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)))


def premultiplied_tensor(rgba: np.ndarray) -> torch.Tensor:
    """uint8 H×W×4 straight RGBA → float32 tensor of premultiplied RGBA in [0, 1] (torch: multi-threaded).

    H×W×8 (two frames side by side in the channels) and other multiples of 4 are premultiplied per image.
    """
    tensor = torch.from_numpy(np.require(rgba, requirements=["C", "W"])).float().div_(255.0)
    images = tensor.view(*tensor.shape[:-1], -1, 4)
    images[..., :3] *= images[..., 3:4]
    return tensor


def straight_rgba(tensor: torch.Tensor) -> np.ndarray:
    """float premultiplied RGBA tensor (…×4, or several images' …×4k, channels last) → uint8 straight RGBA array."""
    shape = tensor.shape
    tensor = tensor.clamp(0.0, 1.0).reshape(*shape[:-1], -1, 4)
    alpha = tensor[..., 3:4]
    rgb = torch.where(alpha > 1e-4, tensor[..., :3] / alpha.clamp_min(1e-4), 0.0).clamp_(0.0, 1.0)
    return torch.cat([rgb, alpha], dim=-1).mul_(255.0).round_().to(torch.uint8).reshape(shape).numpy()


def rgba(image: Image.Image) -> np.ndarray:
    """The image as an H×W×4 uint8 array of straight RGBA (16-bit and float grays scaled, not clipped)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" else 65535.0
        image = Image.fromarray(np.round(np.clip(values / top, 0, 1) * 255).astype(np.uint8), "L")
    return np.asarray(image.convert("RGBA"))


def pixels(image: Image.Image) -> np.ndarray:
    """The image as an H×W×4 float32 array of premultiplied RGBA in [0, 1]: what the networks see."""
    return premultiply(rgba(image))


def image_from_rgba(array: np.ndarray, mode: str) -> Image.Image:
    """Turn a uint8 straight-RGBA array into an image of `mode` (L, LA, RGB or RGBA)."""
    image = Image.fromarray(array, "RGBA")
    if mode in ("RGBA", "LA"):
        return image.convert(mode)
    rgb = image.convert("RGB")
    return rgb if mode == "RGB" else rgb.convert(mode)


def palette_colours(image: Image.Image) -> np.ndarray:
    """A palette image's entries as a K×4 uint8 array of straight RGBA (its transparency applied)."""
    entries = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    alpha = np.full((len(entries), 1), 255, dtype=np.uint8)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and transparency < len(entries):
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        alpha[: len(transparency), 0] = np.frombuffer(transparency, dtype=np.uint8)[: len(entries)]
    return np.concatenate([entries, alpha], axis=1)


def indexed_like(array: np.ndarray, like: Image.Image) -> Image.Image | None:
    """A uint8 straight-RGBA array as a palette image in `like`'s palette, new colours added after its entries;
    None when `like` is not a palette image or the colours do not fit in 256 entries."""
    if like.mode != "P":
        return None
    entries = palette_colours(like)
    keys = np.where(entries[:, 3:] == 0, 0, entries)  # every transparent entry stands for any transparent pixel
    flat = np.where(array.reshape(-1, 4)[:, 3:] == 0, 0, array.reshape(-1, 4))
    colours, where = np.unique(flat, axis=0, return_inverse=True)
    index = {tuple(colour): number for number, colour in reversed(list(enumerate(keys.tolist())))}
    extra = [tuple(c) for c in colours.tolist() if tuple(c) not in index]
    if len(entries) + len(extra) > 256:
        return None
    index |= {colour: len(entries) + number for number, colour in enumerate(extra)}
    table = np.asarray(entries.tolist() + [list(c) for c in extra], dtype=np.uint8)
    lookup = np.asarray([index[tuple(c)] for c in colours.tolist()], dtype=np.uint8)
    image = Image.fromarray(lookup[where.reshape(-1)].reshape(array.shape[:2]), "P")
    image.putpalette(table[:, :3].tobytes())
    if (table[:, 3] < 255).any():
        image.info["transparency"] = table[:, 3].tobytes()
    return image


def encode_image(image: Image.Image, suffix: str, metadata: dict[str, str]) -> bytes:
    """`image` encoded in the format `suffix` names, with `metadata` as text fields (PNG iTXt, else EXIF)."""
    buffer, suffix = io.BytesIO(), suffix.lower()
    kind = Image.registered_extensions().get(suffix, "PNG")
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in metadata.items():
            info.add_itxt(key, value)
        image.save(buffer, "PNG", pnginfo=info, **PNG_SETTINGS)
        return buffer.getvalue()
    exif = Image.Exif()
    exif[0x9286] = "\n".join(f"{key}={value}" for key, value in metadata.items())  # UserComment
    if kind == "JPEG":
        image = image.convert("L" if is_gray(image) else "RGB")
        image.save(buffer, kind, exif=exif, quality=95)
    else:
        image.save(buffer, kind, exif=exif)
    return buffer.getvalue()


def write_image(image: Image.Image, path: Path, metadata: dict[str, str]) -> None:
    """Write `image` to `path` atomically in the format its suffix names, with `metadata` as text fields."""
    write_atomically(path, encode_image(image, path.suffix, metadata))


def pixel_digest(image: Image.Image) -> str:
    """SHA-256 of the image's size and RGBA pixels: changes when any pixel does, not when metadata does."""
    digest = hashlib.sha256(f"{(image.height, image.width, 4)}".encode())
    for top in range(0, image.height, DIGEST_ROWS):  # a band at a time: no page-sized copies
        band = image.crop((0, top, image.width, min(top + DIGEST_ROWS, image.height)))
        digest.update(np.ascontiguousarray(rgba(band)))
    return digest.hexdigest()


def frames_digest(frames: list[Image.Image]) -> str:
    """SHA-256 over every frame's pixel digest, in order: changes when any pixel of any frame does."""
    return hashlib.sha256(" ".join(pixel_digest(frame) for frame in frames).encode()).hexdigest()


def read_metadata(path: Path) -> dict[str, str]:
    """The text fields that `write_image` wrote into a file (empty when there are none)."""
    with Image.open(path) as image:
        if path.suffix.lower() == ".png":
            return {key: str(value) for key, value in image.text.items()}
        comment = image.getexif().get(0x9286, "")
    if isinstance(comment, bytes):
        comment = comment.decode("utf-8", "replace")
    return dict(line.split("=", 1) for line in str(comment).splitlines() if "=" in line)
