"""The page's view of the guilds this workshop belongs to: members, proposals to vote on, releases.

Local only, like the rest of /api; a vote is `apprentice guild vote`'s core action, called the same way.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from apprentice.guild.actions import vote
from apprentice.guild.log import GuildLog, guild_ids, pick_guild
from apprentice.guild.views import guild_view
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
def cast(shop: Shop, guild: str, ballot: Vote) -> dict:
    """Vote, after catching up with the peers that answer, and tell them (as `apprentice guild vote` does)."""
    vote(shop, guild, ballot.proposal, ballot.vote)
    return guild_view(GuildLog(shop, pick_guild(shop, guild)))
