"""The page's view of the guilds this workshop belongs to: members, proposals to vote on, releases.

Local only, like the rest of /api; a vote first syncs with the peers that answer, then tells them in the background.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from apprentice.guild.log import GuildLog, guild_ids, pick_guild
from apprentice.guild.peers import sync
from apprentice.guild.views import guild_view
from apprentice.guild.work import vote
from apprentice.store.workshop import Workshop
from apprentice.web.api import Shop

router = APIRouter(prefix="/api/guilds")


class Vote(BaseModel):
    """A vote on one proposal, as `apprentice guild vote` takes it."""

    proposal: str
    vote: Literal["yes", "no"]


@router.get("")
def guilds(shop: Shop) -> list[dict]:
    """Each guild with its number of members and of proposals still open."""
    views = [guild_view(GuildLog(shop, guild)) for guild in guild_ids(shop)]
    return [
        {
            "id": view["id"],
            "name": view["name"],
            "members": len(view["members"]),
            "open": sum(p["outcome"] == "open" for p in view["proposals"]),
        }
        for view in views
    ]


@router.get("/{guild}")
def guild(shop: Shop, guild: str) -> dict:
    return guild_view(GuildLog(shop, pick_guild(shop, guild)))


@router.post("/{guild}/votes")
def cast(request: Request, shop: Shop, guild: str, ballot: Vote) -> dict:
    """Vote, after catching up with the peers that answer; the peers hear of it in the background."""
    guild_id = pick_guild(shop, guild)
    sync(shop, guild_id)
    guild_log = GuildLog(shop, guild_id)
    vote(guild_log, ballot.proposal, ballot.vote)
    tell_peers(request.app.state.home, guild_id)
    return guild_view(guild_log)


def tell_peers(home: Path, guild: str) -> None:
    def push() -> None:
        shop = Workshop.open(home)
        try:
            sync(shop, guild)
        finally:
            shop.close()

    threading.Thread(target=push, name="guild-push", daemon=True).start()
