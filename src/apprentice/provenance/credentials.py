"""Credentials written into every output: which apprentice made it, from whose work, signed.

`check` reads them back from a file and compares them with the catalog and with the file's own pixels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image

from apprentice import __version__
from apprentice.formats import animation
from apprentice.formats.images import decode_image, encode_image, frames_digest, pixel_digest, read_metadata
from apprentice.identity import canonical, verify
from apprentice.provenance.manifest import Apprentice
from apprentice.store.apprentices import manifest_sha256_of
from apprentice.store.workshop import Workshop

PREFIX = "apprentice:"
SIGNED = ("id", "manifest-sha256", "task", "learned-from", "pixels-sha256", "signer")


def signed_facts(fields: dict[str, str]) -> dict[str, str]:
    """The credential fields the signature covers, without their prefix."""
    return {k: fields.get(PREFIX + k, "") for k in SIGNED}


def signature_valid(fields: dict[str, str]) -> bool:
    """Whether the signer's signature covers these fields (files from before one canonical form: its spaced JSON)."""
    facts, signer, signature = (
        signed_facts(fields),
        fields.get(PREFIX + "signer", ""),
        fields.get(PREFIX + "signature", ""),
    )
    first_round = json.dumps(facts, sort_keys=True).encode()
    return verify(signer, canonical(facts), signature) or verify(signer, first_round, signature)


def credentials(
    workshop: Workshop, apprentice: Apprentice, image: Image.Image | list[Image.Image], suffix: str
) -> dict[str, str]:
    """The signed credential fields for `image` as it will read back once encoded as `suffix`.

    For an animation, pass its frames as a reader decodes them: the digest covers every frame.
    """
    if isinstance(image, list):
        digest = frames_digest(image)
    else:
        lossless = suffix.lower() in (".png", ".tif", ".tiff", ".bmp")
        seen = image if lossless else decode_image(encode_image(image, suffix, {}), "output")  # hash what readers see
        digest = pixel_digest(seen)
    owners = apprentice.manifest.get("owners", {})
    fields = {
        PREFIX + "id": apprentice.id,
        PREFIX + "manifest-sha256": apprentice.manifest_sha256,
        PREFIX + "task": apprentice.task,
        PREFIX + "learned-from": ", ".join(f"{share['name']} ({key[:16]})" for key, share in owners.items()),
        PREFIX + "pixels-sha256": digest,
        PREFIX + "signer": workshop.member,
    }
    return fields | {
        PREFIX + "signature": workshop.identity.sign(canonical(signed_facts(fields))),
        "Software": f"Apprentice {__version__}",
    }


def check(workshop: Workshop, path: Path) -> dict:
    """What a file's credentials claim, and whether its pixels, signature and apprentice still match them."""
    moving = animation.is_animation(path)
    metadata = animation.read_animation_metadata(path) if moving else read_metadata(path)
    fields = {k: v for k, v in metadata.items() if k.startswith(PREFIX)}
    if not fields:
        return {"file": str(path), "credentials": False, "verdict": f"{path} carries no Apprentice credentials."}
    claims = {k[len(PREFIX) :]: v for k, v in fields.items()}
    catalog_sha256 = manifest_sha256_of(workshop.catalog, claims.get("id", ""))
    result = {
        "file": str(path),
        "credentials": True,
        "claims": claims,
        "signature_valid": signature_valid(fields),
        "pixels_match": pixels_of(path, moving) == claims.get("pixels-sha256"),
        "apprentice_known": catalog_sha256 is not None,
        "manifest_matches": catalog_sha256 is not None and manifest_matches(workshop, claims, catalog_sha256),
    }
    return result | {"verdict": verdict(result)}


def pixels_of(path: Path, moving: bool) -> str:
    data = path.read_bytes()
    return (
        frames_digest(animation.decode_frames(data, str(path)))
        if moving
        else pixel_digest(decode_image(data, str(path)))
    )


def manifest_matches(workshop: Workshop, claims: dict, catalog_sha256: str) -> bool:
    manifest = workshop.apprentice_folder(claims["id"]) / "manifest.json"
    on_disk = hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else ""
    return claims.get("manifest-sha256") == catalog_sha256 == on_disk


def verdict(result: dict) -> str:
    claims, name = result["claims"], result["file"]
    if not result["signature_valid"]:
        return f"{name}: its credentials were altered or forged (the signature does not match)."
    if not result["pixels_match"]:
        return f"{name}: its pixels were changed after apprentice {claims['id']} made it."
    if not result["apprentice_known"]:
        return f"{name}: made by apprentice {claims['id']} ({claims['task']}), which is not in this workshop."
    if not result["manifest_matches"]:
        return f"{name}: apprentice {claims['id']}'s manifest no longer matches the one it was made with."
    return f"{name}: made by apprentice {claims['id']} ({claims['task']}), learned from {claims['learned-from']}."
