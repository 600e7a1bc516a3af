"""What keeps the workshop local: only this computer (others reach only /guild/), its own host names, nothing read
or changed by other sites, bounded uploads.

One ASGI middleware, so the upload cap holds while a body streams in, not only when Content-Length says so.
"""

from __future__ import annotations

import ipaddress
import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
CHANGING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CROSS_ORIGIN = "Cross-origin requests may not change this workshop."
OTHER_SITE = "Other web sites may not read this workshop; open the address `apprentice serve` printed."
SITES_OF_ITS_OWN = ("same-origin", "none")  # Sec-Fetch-Site of the page's own requests, and of a typed address
SAFE_HEADERS = [(b"cross-origin-resource-policy", b"same-origin"), (b"x-content-type-options", b"nosniff")]


FROM_AFAR = "Only this computer may open the workshop; other machines reach only its /guild/ part, for guild members."


PUSH_MB = 8  # what another node may POST at once: 1,000 records are far less


def from_this_computer(client: tuple[str, int] | list | None) -> bool:
    """Whether a request's peer address is this machine's loopback (no address: a local socket)."""
    if not client:
        return True
    try:
        return ipaddress.ip_address(str(client[0]).split("%")[0]).is_loopback
    except ValueError:
        return False


class BodyTooLarge(Exception):
    """Raised into the app when a streaming body passes the cap; the guard answers 413 instead."""


def hostname(host: str) -> str:
    """The Host header's name without its port: '127.0.0.1:8765' → '127.0.0.1', '[::1]:80' → '[::1]'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.partition(":")[0]


async def answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class WorkshopGuard:
    """Refuses other machines outside /guild/ (403), foreign Host headers (400; the signed /guild/ peer protocol
    excepted), cross-origin changes (403) and bodies over the cap (413)."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None, max_upload_mb: int = 200) -> None:
        self.app = app
        self.allowed = {hostname(host) for host in (allowed_hosts or LOOPBACK_HOSTS)}
        self.max_upload_mb = max_upload_mb
        self.too_large = f"The upload is over the {max_upload_mb} MB this workshop takes at once; send fewer files."
        self.too_large_push = f"A push is at most {PUSH_MB} MB; send fewer records at once."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal:
            await answer(send, *refusal)
            return
        await self.capped(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """(status, sentence) when the request must be refused before it reaches the app."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        peer_protocol = scope["path"].startswith("/guild/")  # other members' nodes: every read is signed
        here = from_this_computer(scope.get("client"))
        if not peer_protocol and not here:
            return 403, FROM_AFAR
        if hostname(host) not in self.allowed and (here or not peer_protocol):  # a rebound name is refused here too
            return 400, f"This workshop does not answer to '{host}'; open the address `apprentice serve` printed."
        if not peer_protocol and headers.get("sec-fetch-site", "none") not in SITES_OF_ITS_OWN:
            return 403, OTHER_SITE
        origin = headers.get("origin")
        own_origin = f"{scope['scheme']}://{host}".lower()
        if scope["method"] in CHANGING_METHODS and origin is not None and origin.lower() != own_origin:
            return 403, CROSS_ORIGIN
        length = headers.get("content-length", "")
        limit, sentence = self.cap(scope)
        if length.isdigit() and int(length) > limit:
            return 413, sentence
        return None

    def cap(self, scope: Scope) -> tuple[int, str]:
        """(bytes, the sentence past them): a member's page uploads drawings; another node pushes only records."""
        if scope["path"].startswith("/guild/"):
            return PUSH_MB * 1024 * 1024, self.too_large_push
        return self.max_upload_mb * 1024 * 1024, self.too_large

    async def capped(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, counting body bytes; past the cap the app's own answer is dropped for a 413."""
        (limit, sentence), received, over, started = self.cap(scope), 0, False, False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                over = True
                raise BodyTooLarge(sentence)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if not over:
                started = True
                if message["type"] == "http.response.start":  # no other site may embed or read what is sent
                    message = message | {"headers": [*message.get("headers", []), *SAFE_HEADERS]}
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await answer(send, 413, sentence)
