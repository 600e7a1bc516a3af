"""Credentials written into every output: which apprentice made it, from whose work, signed.

`check` reads them back from a file, hostile until checked: who signed it, the apprentice's manifest, the pixels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from apprentice import __version__
from apprentice.errors import BadInput
from apprentice.formats import animation
from apprentice.formats.images import decode_image, encode_image, frames_digest, pixel_digest, read_metadata
from apprentice.identity import canonical, verify
from apprentice.ids import is_id
from apprentice.provenance.manifest import MANIFEST, Apprentice
from apprentice.store.apprentices import apprentice_by_id
from apprentice.store.works import member_named
from apprentice.store.workshop import Workshop

PREFIX = "apprentice:"
SIGNED = ("id", "manifest-sha256", "task", "learned-from", "pixels-sha256", "signer")
CHECKS = (
    "signature_valid",
    "signer_known",
    "signer_may_hold",
    "pixels_match",
    "claims_match",
)  # a file passes when all of these hold


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


def learned_from(manifest: dict) -> str:
    """The "learned-from" line of a manifest's owners: each owner's name and the first 16 hex of their key."""
    owners = manifest.get("owners", {})
    return ", ".join(f"{share['name']} ({key[:16]})" for key, share in owners.items())


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
    fields = {
        PREFIX + "id": apprentice.id,
        PREFIX + "manifest-sha256": apprentice.manifest_sha256,
        PREFIX + "task": apprentice.task,
        PREFIX + "learned-from": learned_from(apprentice.manifest),
        PREFIX + "pixels-sha256": digest,
        PREFIX + "signer": workshop.member,
    }
    return fields | {
        PREFIX + "signature": workshop.identity.sign(canonical(signed_facts(fields))),
        "Software": f"Apprentice {__version__}",
    }


@dataclass(frozen=True)
class Signer:
    """Who signed a file's credentials, as this workshop knows them.

    standing: "own" (this workshop's member), "guild" (a member of one of its guilds now), "member" (a member its
    catalog names) or "unknown" (a key it has never heard of: then the credentials prove nothing about who made it).
    """

    key: str
    name: str = ""
    standing: str = "unknown"
    guilds: tuple[str, ...] = ()  # names of the guilds whose logs admit them, for a guild member
    guild_ids: tuple[str, ...] = ()  # the same guilds' ids

    @property
    def known(self) -> bool:
        return self.standing != "unknown"

    def describe(self) -> str:
        if self.standing == "own":
            return f"{printable(self.name)} (this workshop's member)"
        if self.standing == "guild":
            return f"{printable(self.name)} (a member of guild {printable(', '.join(self.guilds))})"
        if self.standing == "member":
            return f"{printable(self.name)} (a member this workshop knows, key {self.key[:16]})"
        return f"an unknown key {shown(self.key, 16)}"

    def to_dict(self) -> dict:
        return {"key": self.key, "name": self.name, "standing": self.standing, "guilds": list(self.guilds)}

    def may_hold(self, apprentice: Claimed) -> bool:
        """Could this signer have used the apprentice? This workshop's member uses its own and its guilds'
        apprentices; another member only a release of a guild they belong to."""
        return self.standing == "own" or (bool(apprentice.guild) and apprentice.guild in self.guild_ids)


def signer_of(workshop: Workshop, key: str, guild_members: Mapping[str, Signer]) -> Signer:
    """Who `key` is to this workshop: its own member, a member of one of its guilds, a member it knows, or nobody."""
    if key == workshop.member:
        return Signer(key, workshop.member_name(key), "own")
    if key in guild_members:
        return guild_members[key]
    name = member_named(workshop.catalog, key) if is_id(key, "member") else None
    return Signer(key, name, "member") if name is not None else Signer(key)


def check(workshop: Workshop, path: Path, guild_members: Mapping[str, Signer] | None = None) -> dict:
    """What a file's credentials claim, and whether they hold: a valid signature by a member this workshop knows,
    an apprentice of this workshop whose manifest says what they say, and the pixels it signed.

    `guild_members`: the members of this workshop's guilds by key (a guild's log says who they are, a layer above).
    `passed` is True only when every check holds; `verdict` names each failed check in one sentence.
    """
    try:
        fields, moving = credential_fields(path)
        pixels = pixels_of(path, moving) if fields else ""
    except (OSError, ValueError, BadInput, Image.DecompressionBombError):
        return unproven(path, "it cannot be read as an image, so it proves nothing; check that it is one")
    if not fields:
        return unproven(path, "it carries no Apprentice credentials, so it proves nothing about who made it")
    claims = {k[len(PREFIX) :]: v for k, v in fields.items()}
    signer = signer_of(workshop, claims.get("signer", ""), guild_members or {})
    apprentice = claimed_apprentice(workshop, claims.get("id", ""))
    mismatched = mismatched_claims(claims, apprentice) if apprentice else []
    result = {
        "file": str(path),
        "credentials": True,
        "claims": claims,
        "signature_valid": signature_valid(fields),
        "signer": signer.to_dict(),
        "signer_known": signer.known,
        "signer_may_hold": apprentice is not None and signer.may_hold(apprentice),
        "pixels_match": pixels == claims.get("pixels-sha256"),
        "apprentice_known": apprentice is not None,
        "manifest_matches": apprentice is not None and "manifest-sha256" not in mismatched,
        "claims_match": apprentice is not None and not mismatched,
        "guild": apprentice.guild if apprentice else "",
        "mismatched": mismatched,
    }
    result["passed"] = all(result[k] for k in CHECKS)
    return result | {"verdict": verdict(result, signer)}


def unproven(path: Path, why: str) -> dict:
    """The result for a file that carries no credentials to check: a failed check."""
    return {"file": str(path), "credentials": False, "passed": False, "verdict": f"{path}: failed: {why}."}


def credential_fields(path: Path) -> tuple[dict[str, str], bool]:
    """The file's Apprentice credential fields, and whether it is an animation."""
    moving = animation.is_animation(path)
    metadata = animation.read_animation_metadata(path) if moving else read_metadata(path)
    return {k: v for k, v in metadata.items() if k.startswith(PREFIX)}, moving


def pixels_of(path: Path, moving: bool) -> str:
    data = path.read_bytes()
    return (
        frames_digest(animation.decode_frames(data, str(path)))
        if moving
        else pixel_digest(decode_image(data, str(path)))
    )


@dataclass(frozen=True)
class Claimed:
    """The apprentice a file names, as this workshop holds it: its catalog row's facts and its manifest file."""

    id: str
    task: str
    catalog_sha256: str
    manifest_bytes: bytes
    guild: str = ""  # the guild whose release it is, '' for this workshop's own


def claimed_apprentice(workshop: Workshop, apprentice_id: str) -> Claimed | None:
    """This workshop's apprentice with the id a file names, or None: an id that is not 16 hex digits never reaches
    a path or a query, so a file cannot make the check read outside the workshop."""
    if not is_id(apprentice_id, "apprentice"):
        return None
    row = apprentice_by_id(workshop.catalog, apprentice_id)
    if row is None:
        return None
    try:
        manifest_bytes = (workshop.apprentice_folder(apprentice_id) / MANIFEST).read_bytes()
    except OSError:
        manifest_bytes = b""
    guild = workshop.task(row["task"]).config.get("guild", "")
    return Claimed(apprentice_id, row["task"], row["manifest_sha256"], manifest_bytes, guild)


def mismatched_claims(claims: dict[str, str], apprentice: Claimed) -> list[str]:
    """The claims that the apprentice's catalog row and manifest do not back: task, manifest-sha256, learned-from."""
    on_disk = hashlib.sha256(apprentice.manifest_bytes).hexdigest()
    try:
        manifest = json.loads(apprentice.manifest_bytes)
        owners_line = learned_from(manifest) if isinstance(manifest, dict) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        owners_line = None  # a damaged manifest backs no claim
    backed = {
        "task": claims.get("task") == apprentice.task,
        "manifest-sha256": claims.get("manifest-sha256") == apprentice.catalog_sha256 == on_disk,
        "learned-from": owners_line is not None and claims.get("learned-from") == owners_line,
    }
    return [claim for claim, holds in backed.items() if not holds]


def shown(value: object, limit: int = 24) -> str:
    """A value from a hostile file, quoted and cut short, safe to print in one line."""
    return ascii(str(value)[:limit]) + ("…" if len(str(value)) > limit else "")


def printable(text: str) -> str:
    """A name the catalog or a guild's log gave, with anything that could steer a terminal replaced by '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def verdict(result: dict, signer: Signer) -> str:
    """One sentence: what made the file and who signed it, or every check it failed."""
    claims, name = result["claims"], result["file"]
    if result["passed"]:
        return (
            f"{name}: passed: made by apprentice {claims['id']} ({printable(claims['task'])}), learned from "
            f"{printable(claims['learned-from'])}, signed by {signer.describe()}."
        )
    return f"{name}: failed: " + "; ".join(failures(result, signer)) + "; do not trust what its credentials claim."


def failures(result: dict, signer: Signer) -> list[str]:
    """A phrase for each check the file failed."""
    claims, found = result["claims"], []
    apprentice = claims.get("id", "")
    if not result["signature_valid"]:
        found.append("its credentials were altered or forged (the signature does not match them)")
    if not signer.known:
        found.append(
            f"it was signed by {signer.describe()} (no member this workshop or its guilds knows), "
            "so it proves nothing about who made it"
        )
    if signer.known and result["apprentice_known"] and not result["signer_may_hold"]:
        whose = "a guild's it does not belong to" if result.get("guild") else "this workshop's own"
        found.append(f"{signer.describe()} could not have used apprentice {apprentice}, which is {whose}")
    if not result["pixels_match"]:
        found.append("its pixels were changed after it was signed")
    if not is_id(apprentice, "apprentice"):
        found.append(f"it names {shown(apprentice)}, which is not an apprentice id")
    elif not result["apprentice_known"]:
        found.append(f"it names apprentice {apprentice}, which this workshop does not have")
    elif result["mismatched"]:
        found.append(f"its claims ({', '.join(result['mismatched'])}) do not match apprentice {apprentice}'s manifest")
    return found
