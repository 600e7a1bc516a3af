"""How `apprentice serve` listens: the page on this computer over plain HTTP, the guild part to other members'
nodes over TLS with the member key as its certificate, both in one event loop.

Ctrl-C (or SIGTERM) stops both together, the page last, so training runs stop and publish what they have.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from apprentice.guild.certificates import NodeCertificate
from apprentice.web.security import answer

ONLY_GUILD = "This address answers only other members' nodes, under /guild/; open the page `apprentice serve` printed."


class GuildOnly:
    """The app as the TLS listener shows it: /guild/ and nothing else, whoever asks (404 elsewhere)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope["path"].startswith("/guild/"):
            if scope["type"] == "http":
                await answer(send, 404, ONLY_GUILD)
            return
        await self.app(scope, receive, send)


class Listener(uvicorn.Server):
    """A uvicorn server that leaves the signals to `serve_node`, so one Ctrl-C stops both listeners together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listeners(app: ASGIApp, certificate: NodeCertificate) -> tuple[Listener, Listener]:
    """(the page's plain listener, the guild part's TLS listener) over one app; only the page runs its lifespan."""
    page = Listener(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
    guild = Listener(
        uvicorn.Config(
            GuildOnly(app),
            log_level="warning",
            timeout_graceful_shutdown=3,
            lifespan="off",  # the background sync and the training runs belong to the page's server
            ssl_context_factory=lambda config, default: certificate.context(),
        )
    )
    return page, guild


def serve_node(page: Listener, guild: Listener, page_socket: socket.socket, guild_socket: socket.socket) -> None:
    """Serve both listeners until Ctrl-C or SIGTERM, or until either stops; a second Ctrl-C stops at once."""
    asyncio.run(both(page, guild, page_socket, guild_socket))


async def both(page: Listener, guild: Listener, page_socket: socket.socket, guild_socket: socket.socket) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in (page, guild):
            server.force_exit = server.should_exit
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C arrives as KeyboardInterrupt instead
            loop.add_signal_handler(signum, stop)

    async def run(server: Listener, listening: socket.socket, other: Listener) -> None:
        try:
            await server.serve(sockets=[listening])
        finally:
            other.should_exit = True  # one listener down takes the other with it

    done = await asyncio.gather(run(page, page_socket, guild), run(guild, guild_socket, page), return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
