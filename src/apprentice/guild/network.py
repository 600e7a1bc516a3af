"""How a node reaches other members' nodes: a node's address in, an HTTP client for that node out.

The default dials real sockets; tests hand each address to that node's app in the same process instead.
"""

from __future__ import annotations

from typing import Protocol

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=3.0, read=60.0)


class Network(Protocol):
    """Anything that turns a node's address (a base URL) into an `httpx.Client` whose base URL is that address."""

    def client(self, address: str) -> httpx.Client: ...


class Sockets:
    """The real network: TCP sockets with the guild's timeouts, and no proxy or certificate settings taken from
    the environment."""

    def client(self, address: str) -> httpx.Client:
        return httpx.Client(base_url=address, timeout=TIMEOUT, trust_env=False)


SOCKETS = Sockets()
