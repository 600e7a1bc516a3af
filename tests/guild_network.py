"""Member nodes in one process for guild tests: each a workshop whose web app answers at its own address.

`MemoryNetwork` is the in-memory twin of the real sockets: it hands each address to the app serving there, in plain
HTTP, and notes which member keys each connection was pinned to (the real network checks them against TLS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Set
from pathlib import Path

import httpx

from apprentice.guild import membership
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.peers import SyncReport, sync
from apprentice.guild.releases import fetch_releases
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.store.workshop import Workshop
from apprentice.web.app import create_app

from conftest import write_pair_folder

Answer = Callable[[httpx.Request], httpx.Response]


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


class AppTransport(httpx.BaseTransport):
    """A node's ASGI app answering a plain `httpx.Client`: each request runs the app on an event loop of its own.

    The app's lifespan never runs, so its background sync never starts; an exception in the app is raised here.
    """

    def __init__(self, app: object, caller: str) -> None:
        self.asgi = httpx.ASGITransport(app=app, client=(caller, 50123))  # another machine, to the app's guard

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def answer() -> httpx.Response:
            response = await self.asgi.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(answer())


class MemoryNetwork:
    """Addresses → what answers there: a node's web app, run in this process, or a hand-written answer for a
    misbehaving node. No one answers at any other address, as if the node were switched off."""

    def __init__(self) -> None:
        self.apps: dict[str, object] = {}
        self.answers: dict[str, Answer] = {}
        self.pins: dict[str, set[str]] = {}  # address → the member keys its latest connection was pinned to

    def client(self, address: str, keys: Set[str] = frozenset()) -> httpx.Client:
        self.pins[address] = set(keys)
        if address in self.apps:
            transport = AppTransport(self.apps[address], "10.0.0.200")
        else:
            transport = httpx.MockTransport(self.answers.get(address, refuse))
        return httpx.Client(transport=transport, base_url=address or "http://nowhere")


class Member:
    """One member's workshop, served at `address` on the network while online."""

    def __init__(self, root: Path, name: str, network: MemoryNetwork, port: int) -> None:
        self.name, self.home, self.network = name, root / name, network
        self.address = f"http://10.0.0.{port}:8765"
        self.shop = Workshop.init(self.home, name)
        self.app = create_app(self.home, allowed_hosts=["127.0.0.1", "localhost"])
        self.online()

    def close(self) -> None:
        self.offline()
        self.shop.close()

    def online(self) -> None:
        self.network.apps[self.address] = self.app

    def offline(self) -> None:
        self.network.apps.pop(self.address, None)

    def log(self) -> GuildLog:
        """The log of the one guild this member is in."""
        [guild] = guild_ids(self.shop)
        return GuildLog(self.shop, guild)

    def sync(self) -> SyncReport:
        return sync(self.shop, self.log().id, network=self.network)

    def fetch(self) -> list[str]:
        return fetch_releases(self.log(), self.network)

    def says(self, verb: Callable[..., dict | str], *args: object, **options: object) -> dict | str:
        """What a guild verb (offer, propose, vote, invite…) writes, synced before and after as the CLI does."""
        self.sync()
        written = verb(self.log(), *args, **options)
        self.sync()
        return written

    def invite(self) -> str:
        return self.says(membership.invite)

    def join(self, invite: str) -> GuildLog:
        return membership.join(self.shop, invite, self.address, self.network)[0]

    def add_drawings(self, task: str, count: int, seed: int) -> None:
        """A task with `count` before/after pairs of this member's own, and a network small enough to train fast."""
        config = get_kind("paired").default_config()
        config["net"] |= {"width": 8, "deep_width": 16, "blocks": 1}
        self.shop.new_task(task, "paired", config)
        add_examples(self.shop, task, [write_pair_folder(self.home.parent / f"pairs-{self.name}", count, seed)])


def members(root: Path, names: list[str], network: MemoryNetwork | None = None) -> list[Member]:
    """Fresh workshops for `names`, online on one in-memory network (a new one, or `network` beside others)."""
    network = network or MemoryNetwork()
    first = len(network.apps) + 1
    return [Member(root, name, network, first + number) for number, name in enumerate(names)]


def found_guild(founder: Member, *others: Member, join: str = "invite") -> GuildLog:
    """The founder's guild, each other member joining with an invite from the member before them."""
    membership.create(founder.shop, "Ink Co-op", founder.address, join=join)
    inviter = founder
    for member in others:
        member.join(inviter.invite())
        inviter = member
    return founder.log()
