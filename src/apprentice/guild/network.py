"""How a node reaches other members' nodes: a node's address and the member keys allowed there in, an HTTP client
for that node out, over TLS pinned to one of those keys.

The default dials real sockets; tests hand each address to that node's app in the same process instead.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol

import httpx

from apprentice.errors import Unreachable
from apprentice.guild.certificates import member_key, pinned_context, presented_certificate

TIMEOUT = httpx.Timeout(10.0, connect=3.0, read=60.0)
HANDSHAKE_SECONDS = 10.0


class Network(Protocol):
    """Anything that turns a node's address (a base URL) into an `httpx.Client` whose base URL is that address, and
    that talks only to a node holding one of `keys` (member keys, hex)."""

    def client(self, address: str, keys: Set[str]) -> httpx.Client: ...


class Sockets:
    """The real network: TLS 1.3 over TCP with the guild's timeouts, no proxy or certificate settings taken from
    the environment, and only to a node whose certificate is one of the allowed member keys.

    Plain http:// is refused: a node serves its guild part only over TLS, so there is nothing to opt out to.
    """

    def client(self, address: str, keys: Set[str]) -> httpx.Client:
        url = httpx.URL(address)
        if url.scheme != "https" or not url.host:
            raise Unreachable(
                f"The guild node at {address or '(no address)'} is not an https:// address; ask its member to "
                "announce the one `apprentice serve` prints with `apprentice guild address`.",
                address,
                "not an https:// address",
            )
        try:
            certificate = presented_certificate(url.host, url.port or 443, HANDSHAKE_SECONDS)
        except OSError as error:  # refused, timed out, or no TLS there: as any node that does not answer
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        if member_key(certificate) not in keys:
            raise Unreachable(
                f"The guild node at {address} showed a certificate that is not its member's key, so nothing was "
                "sent to it; check the address its member announced.",
                address,
                "its certificate is not its member's key",
            )
        return httpx.Client(base_url=address, timeout=TIMEOUT, trust_env=False, verify=pinned_context(certificate))


SOCKETS = Sockets()
