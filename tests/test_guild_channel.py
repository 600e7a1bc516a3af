"""The channel between members' nodes: TLS whose certificate is the member key, pinned to the key the log names.

Certificates and the pinning rule are checked in one process; the refusals over real TLS sockets on 127.0.0.1.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from apprentice.errors import Unreachable
from apprentice.guild import actions
from apprentice.guild.certificates import (
    CERTIFICATE,
    NodeCertificate,
    ensure_certificate,
    member_key,
    presented_certificate,
)
from apprentice.guild.network import SOCKETS
from apprentice.guild.peers import Peer, keys_at, remember_peer, sync
from apprentice.identity import Identity
from apprentice.store.workshop import Workshop
from apprentice.web.app import create_app
from apprentice.web.serving import GuildOnly

from guild_network import Member, found_guild, members
from servers import serving


def raw_key(certificate: x509.Certificate) -> str:
    return certificate.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def test_a_node_certificate_is_its_member_key_signed_by_itself(shop):
    path = ensure_certificate(shop.root, shop.identity)
    assert path == shop.root / CERTIFICATE
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    assert raw_key(certificate) == shop.member, "the certificate's key is the member key itself"
    certificate.verify_directly_issued_by(certificate)  # raises unless it is signed by its own key
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == shop.member
    assert member_key(path.read_bytes()) == shop.member
    written = path.stat().st_mtime_ns
    ensure_certificate(shop.root, shop.identity)
    assert path.stat().st_mtime_ns == written, "a certificate already made from the key is kept"


def borrowed_builder(name: x509.Name, like: x509.Certificate) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .serial_number(7)
        .not_valid_before(like.not_valid_before_utc)
        .not_valid_after(like.not_valid_after_utc)
    )


def test_a_certificate_signed_by_another_key_or_not_ed25519_names_no_member(shop):
    other = Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, shop.member)])
    now = x509.load_pem_x509_certificate(ensure_certificate(shop.root, shop.identity).read_bytes())
    borrowed = (  # the member's public key, but signed by someone else's
        borrowed_builder(name, now).public_key(shop.identity.private_key.public_key()).sign(other, algorithm=None)
    )
    assert member_key(borrowed.public_bytes(serialization.Encoding.DER)) is None
    curve = ec.generate_private_key(ec.SECP256R1())
    web_style = borrowed_builder(name, now).public_key(curve.public_key()).sign(curve, hashes.SHA256())
    assert member_key(web_style.public_bytes(serialization.Encoding.PEM)) is None, "only Ed25519 keys are members"
    assert member_key(b"not a certificate") is None


def test_rotating_the_key_remakes_the_certificate_from_the_new_key(tmp_path):
    ada, ben = members(tmp_path, ["Ada", "Ben"])
    found_guild(ada, ben)
    old = ada.shop.member
    ensure_certificate(ada.shop.root, ada.shop.identity)
    _, new, _ = actions.rotate(ada.shop, ada.network)
    assert new != old
    assert member_key((ada.shop.root / CERTIFICATE).read_bytes()) == new


def test_each_node_is_pinned_to_the_key_of_the_member_who_announced_its_address(tmp_path):
    ada, ben, cleo = members(tmp_path, ["Ada", "Ben", "Cleo"])
    found_guild(ada, ben, cleo)  # Cleo was invited by Ben
    assert cleo.network.pins[ben.address] == {ben.shop.member}, "joining dials the invite's signer only"
    relay = "http://10.0.0.66:8765"  # an address no member announced: any member may hold it
    ada.sync()  # Ada learns of Cleo from Ben
    remember_peer(ada.shop, ada.log().id, relay)
    ada.sync()
    pins = ada.network.pins
    assert pins[ben.address] == {ben.shop.member} and pins[cleo.address] == {cleo.shop.member}
    assert pins[relay] == {m.shop.member for m in (ada, ben, cleo)}
    _, new, _ = actions.rotate(ben.shop, ben.network)
    assert keys_at(ada.log().state, ben.address) == {new}, "a rotated key pins the node anew"


@contextmanager
def tls_node(home: Path, port: int = 0) -> Iterator[tuple[str, list[str]]]:
    """The workshop at `home` answering its guild part over TLS on 127.0.0.1, presenting its own key: (its address,
    the paths it was asked for)."""
    asked: list[str] = []
    app = create_app(home)

    async def noting(scope, receive, send) -> None:
        if scope["type"] == "http":
            asked.append(scope["path"])
        await GuildOnly(app)(scope, receive, send)

    certificate = NodeCertificate(home)
    tls = {"ssl_context_factory": lambda config, default: certificate.context()}
    with serving(noting, port, lifespan="off", **tls) as bound:
        yield f"https://127.0.0.1:{bound}", asked


@pytest.fixture
def announced(tmp_path) -> Iterator[tuple[Member, Member, Path, int]]:
    """Ada and Ben in a guild, Ben's node announced at https://127.0.0.1:PORT (no one serves there yet), and
    Mallory's workshop, whose key is not Ben's."""
    ada, ben = members(tmp_path, ["Ada", "Ben"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ben.offline()
    ben.address = f"https://127.0.0.1:{port}"
    ben.online()
    found_guild(ada, ben)
    Workshop.init(tmp_path / "Mallory", "Mallory").close()
    yield ada, ben, tmp_path / "Mallory", port
    for member in (ada, ben):
        member.close()


@pytest.mark.hostile
def test_a_node_refuses_a_peer_whose_certificate_is_not_the_announced_members_key(announced):
    ada, ben, mallory_home, port = announced
    guild = ada.log().id
    before = ada.log().state.heads
    with tls_node(mallory_home, port) as (address, asked):  # Mallory's node, at the address Ben announced
        assert address == ben.address
        report = sync(ada.shop, guild, network=SOCKETS)
        with pytest.raises(Unreachable) as refused, Peer(ada.shop, guild, address, SOCKETS) as peer:
            peer.heads()
    assert report.unreachable == {ben.address: "its certificate is not its member's key"}
    assert str(refused.value) == (
        f"The guild node at {ben.address} showed a certificate that is not its member's key, so nothing was sent "
        "to it; check the address its member announced."
    )
    assert report.pulled == report.pushed == 0 and ada.log().state.heads == before
    assert asked == [], "not one request reached the impostor: nothing was pushed, pulled or signed for it"

    with tls_node(ben.home, port) as (address, asked):  # the same address, now with Ben's own key
        report = sync(ada.shop, guild, network=SOCKETS)
    assert report.reached == [ben.address] and not report.unreachable
    assert asked, "Ben's own node is spoken to"


@pytest.mark.hostile
def test_plain_http_addresses_are_never_dialled(shop):
    with pytest.raises(Unreachable, match=r"^The guild node at http://127\.0\.0\.1:9 is not an https:// address"):
        SOCKETS.client("http://127.0.0.1:9", {shop.member})


def test_a_running_node_presents_its_new_key_after_a_rotation(tmp_path):
    home = tmp_path / "Ben"
    shop = Workshop.init(home, "Ben")
    old = shop.member
    with tls_node(home) as (address, _):
        port = int(address.rsplit(":", 1)[1])
        assert member_key(presented_certificate("127.0.0.1", port, 5)) == old
        new = actions.rotate(shop)[1]
        assert member_key(presented_certificate("127.0.0.1", port, 5)) == new
        assert Identity.load(home / "identity.key").public_key == new
    shop.close()
