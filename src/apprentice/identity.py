"""A member's identity: an Ed25519 key pair made at `init`, and the one canonical JSON form everything signs.

The public key (hex) is the member's id in the catalog; the private key signs consent changes, credentials
and guild records, always over `canonical(...)` bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from apprentice.errors import BadInput
from apprentice.files import write_atomically


class Identity:
    """One member's key pair."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key

    @classmethod
    def create(cls, path: Path) -> Identity:
        identity = cls(Ed25519PrivateKey.generate())
        pem = identity.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomically(path, pem)
        os.chmod(path, 0o600)
        return identity

    @classmethod
    def load(cls, path: Path) -> Identity:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise BadInput(f"{path} is not a readable identity key ({error}); restore it from your backup.") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise BadInput(f"{path} is not an Ed25519 key; restore your identity key from your backup.")
        return cls(key)

    @property
    def public_key(self) -> str:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()

    def sign(self, message: bytes) -> str:
        return self.private_key.sign(message).hex()


def canonical(value: object) -> bytes:
    """The one byte string every node computes for the same JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed(identity: Identity, facts: dict) -> dict:
    """`facts` with `by` (the signer's key) and `sig` (their signature of the rest, canonical) added."""
    facts = facts | {"by": identity.public_key}
    return facts | {"sig": identity.sign(canonical(facts))}


def signed_by_its_signer(token: object) -> bool:
    """Whether a `signed` dict's signature is its own `by` key's: it says who signed, not whether to trust them."""
    if not isinstance(token, dict) or "sig" not in token or "by" not in token:
        return False
    facts = {key: value for key, value in token.items() if key != "sig"}
    return verify(str(token["by"]), canonical(facts), str(token["sig"]))


def verify(public_key: str, message: bytes, signature: str) -> bool:
    """Whether `signature` (hex) is `public_key`'s signature of `message`."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(bytes.fromhex(signature), message)
    except Exception:  # InvalidSignature, or a malformed key or signature
        return False
    return True
