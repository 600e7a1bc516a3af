"""This node's Flower keys: a P-384 key a SuperNode signs with, and the certificate its SuperLink serves with TLS.

Both stay in the workshop's `flower/` folder; their public halves go on the guild log in a signed `flower` record.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apprentice.files import write_atomically

FOLDER = "flower"
VALID_FROM = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
VALID_UNTIL = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class FlowerKeys:
    """Where this node's Flower key files lie, and the public facts it announces."""

    folder: Path

    @property
    def node_private(self) -> Path:
        return self.folder / "node.key"

    @property
    def node_public(self) -> Path:
        return self.folder / "node.pub"

    @property
    def link_key(self) -> Path:
        return self.folder / "link.key"

    @property
    def link_certificate(self) -> Path:
        return self.folder / "link.pem"

    def node_key(self) -> str:
        """The SuperNode's public key, in OpenSSH form (what the SuperLink registers)."""
        return self.node_public.read_text().strip()

    def certificate(self) -> str:
        return self.link_certificate.read_text()


def node_keys(root: Path, host: str = "127.0.0.1") -> FlowerKeys:
    """This workshop's Flower keys, made on first use (the link's certificate names `host`)."""
    keys = FlowerKeys(root / FOLDER)
    if not keys.node_private.is_file():
        private = ec.generate_private_key(ec.SECP384R1())
        write_atomically(keys.node_private, openssh_private(private))
        public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        write_atomically(keys.node_public, public + b"\n")
        keys.node_private.chmod(0o600)
    if not keys.link_key.is_file():
        private = ec.generate_private_key(ec.SECP384R1())
        write_atomically(keys.link_certificate, self_signed(private, host))
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomically(keys.link_key, pem)
        keys.link_key.chmod(0o600)
    return keys


def openssh_private(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def self_signed(private: ec.EllipticCurvePrivateKey, host: str) -> bytes:
    """A certificate that is its own authority, for `host` (an IP address or a name), PEM."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alternative: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alternative = x509.DNSName(host)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA384())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)
