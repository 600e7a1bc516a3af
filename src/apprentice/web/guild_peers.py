"""What `apprentice serve` answers to other members' nodes: the guild's log, and blobs to members only.

Reading records and files needs a one-time challenge signed by a member's key. Heads (keys and counts, no content)
are open, and records may be pushed by anyone, as each proves itself.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response

from apprentice.guild.lending import lent_work, released_file
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.peers import proof_message
from apprentice.identity import verify
from apprentice.web.api import Shop

router = APIRouter(prefix="/guild", include_in_schema=False)
MAX_RECORDS = 1000  # per push


class Challenges:
    """One-time nonces a member signs to be served; each lives two minutes and is used once. Each caller (address)
    holds at most `per_caller` open at once, so no one caller can use up the pool the members share."""

    def __init__(self, lifetime: float = 120.0, most: int = 10_000, per_caller: int = 32) -> None:
        self.lifetime, self.most, self.per_caller = lifetime, most, per_caller
        self.issued: dict[str, tuple[float, str]] = {}  # nonce → (when, to whom)
        self.lock = threading.Lock()

    def issue(self, caller: str) -> str:
        nonce = secrets.token_hex(16)
        with self.lock:
            now = time.monotonic()
            self.issued = {n: (t, c) for n, (t, c) in self.issued.items() if now - t < self.lifetime}
            if sum(c == caller for _, c in self.issued.values()) >= self.per_caller:
                raise HTTPException(429, "Too many open challenges from your address; use the ones you have.")
            if len(self.issued) >= self.most:
                raise HTTPException(503, "Too many open challenges; try again in a minute.")
            self.issued[nonce] = (now, caller)
        return nonce

    def redeem(self, nonce: str) -> bool:
        with self.lock:
            issued = self.issued.pop(nonce, None)
        return issued is not None and time.monotonic() - issued[0] < self.lifetime


def caller(request: Request) -> str:
    return request.client.host if request.client else "?"


def guild_log(shop: Shop, guild: str) -> GuildLog:
    if guild not in guild_ids(shop):
        raise HTTPException(404, "This node is not in that guild.")
    return GuildLog(shop, guild)


def reader(
    request: Request,
    shop: Shop,
    guild: str,
    member: Annotated[str, Header(alias="X-Apprentice-Member")] = "",
    nonce: Annotated[str, Header(alias="X-Apprentice-Nonce")] = "",
    proof: Annotated[str, Header(alias="X-Apprentice-Proof")] = "",
) -> GuildLog:
    """The guild's log, for a request signed by one of its members over a nonce this node issued."""
    log = guild_log(shop, guild)
    asked = proof_message(guild, nonce, request.url.path, request.url.query, request.headers.get("host", ""))
    signed = verify(member, asked, proof)
    if not (signed and request.app.state.challenges.redeem(nonce)):
        raise HTTPException(401, "Sign a fresh challenge from /challenge with your member key.")
    if not log.state.may_read(member):
        raise HTTPException(403, "Only the guild's members are served here.")
    request.state.reader = member
    return log


Reader = Annotated[GuildLog, Depends(reader)]


@router.get("/{guild}/challenge")
def challenge(request: Request, guild: str) -> dict:
    return {"nonce": request.app.state.challenges.issue(caller(request))}


@router.get("/{guild}/heads")
def heads(shop: Shop, guild: str) -> dict:
    """Each author's newest (seq, hash): open to any caller, so a node can push what is missing before it may read."""
    return {"heads": guild_log(shop, guild).heads()}


@router.get("/{guild}/records")
def records_after(log: Reader, author: str, after: int = 0, limit: Annotated[int, Query(ge=1, le=500)] = 200) -> dict:
    return {"records": log.records_after(author, after, limit)}


@router.post("/{guild}/records")
def take(request: Request, shop: Shop, guild: str, records: Annotated[list, Body(embed=True)]) -> dict:
    """Records pushed by a peer: each is checked against its signature, its chain and the charter."""
    if len(records) > MAX_RECORDS:
        raise HTTPException(413, f"Push at most {MAX_RECORDS} records at once.")
    log = guild_log(shop, guild)
    source = f"{request.client.host}:{request.client.port}" if request.client else "a peer"
    intake = log.take(records, source)
    authors = {r.get("author") for r in records if isinstance(r, dict)}
    return intake.__dict__ | {"heads": {a: h for a, h in log.heads().items() if a in authors}}


@router.get("/{guild}/forks")
def fork_proofs(log: Reader) -> dict:
    """Proofs that authors signed two histories (pairs of records), so every member's node stops counting them."""
    return {"records": log.fork_proofs()}


@router.get("/{guild}/works/{work}")
def work(request: Request, log: Reader, work: str) -> Response:
    """A work's bytes, for the trainer of a passed proposal naming its owner, while the owner's consent holds."""
    return Response(lent_work(log, work, request.state.reader), media_type="application/octet-stream")


@router.get("/{guild}/apprentices/{apprentice}/{file}")
def apprentice_file(request: Request, log: Reader, apprentice: str, file: str) -> Response:
    """A released apprentice's manifest or weights, for members to fetch and check against the release record."""
    return Response(released_file(log, apprentice, file, request.state.reader), media_type="application/octet-stream")
