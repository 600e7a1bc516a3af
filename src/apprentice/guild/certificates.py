"""A node's TLS certificate, made from its member key, and the check that a certificate is a member key's.

The guild's log already vouches for every member key, so a certificate whose key is that key needs no authority.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from apprentice.files import write_atomically
from apprentice.identity import Identity

log = logging.getLogger("apprentice.guild")
CERTIFICATE = Path("tls") / "cert.pem"  # inside the workshop, beside identity.key
KEY = "identity.key"
VALID_FROM = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
VALID_UNTIL = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)  # RFC 5280: no expiry


def make_certificate(identity: Identity) -> bytes:
    """The member's self-signed certificate (PEM) for their key: the same bytes every time for the same key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity.public_key)])
    serial = int.from_bytes(hashlib.sha256(bytes.fromhex(identity.public_key)).digest()[:16], "big") >> 1
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(identity.private_key.public_key())
        .serial_number(serial or 1)
        .not_valid_before(VALID_FROM)
        .not_valid_after(VALID_UNTIL)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(identity.private_key, algorithm=None)  # Ed25519 signs the whole message: no separate hash
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def member_key(certificate: bytes) -> str | None:
    """The member key (hex) a certificate (DER or PEM) is made from, if it is an Ed25519 key's self-signed one."""
    try:
        loaded = (
            x509.load_pem_x509_certificate(certificate)
            if certificate.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(certificate)
        )
        key = loaded.public_key()
        if not isinstance(key, Ed25519PublicKey):
            return None
        loaded.verify_directly_issued_by(loaded)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):  # a hostile node's bytes: never a crash
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def ensure_certificate(root: Path, identity: Identity) -> Path:
    """The workshop's certificate file for `identity`, written (again) unless it already is that key's."""
    path = root / CERTIFICATE
    try:
        current = member_key(path.read_bytes())
    except OSError:
        current = None
    if current != identity.public_key:
        write_atomically(path, make_certificate(identity))
    return path


def pinned_context(certificate: bytes) -> ssl.SSLContext:
    """A client context that trusts exactly `certificate` (DER) and nothing else, over TLS 1.3: the handshake then
    proves the node holds that certificate's private key. Member keys name no host, so no host name is checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=certificate)
    return context


def presented_certificate(host: str, port: int, seconds: float) -> bytes:
    """The certificate (DER) the node at host:port presents, read in a TLS handshake that trusts nothing yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=seconds) as raw, context.wrap_socket(raw) as secured:
        return secured.getpeercert(binary_form=True) or b""


class NodeCertificate:
    """The server side: a TLS 1.3 context presenting the workshop's key, which follows the key when it is rotated
    while the node runs (each handshake looks at identity.key and switches to a fresh context if it changed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: tuple[int, int, int] | None = None
        self.current = self.fresh()
        self.current.sni_callback = self.follow_key  # asked at every handshake, with or without a server name

    def fresh(self) -> ssl.SSLContext:
        key_path = self.root / KEY
        self.seen = self.stamp(key_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(ensure_certificate(self.root, Identity.load(key_path)), key_path)
        return context

    @staticmethod
    def stamp(path: Path) -> tuple[int, int, int]:
        found = path.stat()
        return found.st_ino, found.st_mtime_ns, found.st_size

    def context(self) -> ssl.SSLContext:
        return self.current

    def follow_key(self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object) -> None:
        try:
            if self.stamp(self.root / KEY) != self.seen:
                renewed = self.fresh()
                renewed.sni_callback = self.follow_key
                log.info("the node now presents the certificate of its new key")
                self.current = renewed
            connection.context = self.current
        except Exception as error:  # a key file caught mid-restore: keep presenting the one loaded before
            log.warning("could not load the rotated key's certificate (%s); still presenting the previous one", error)
