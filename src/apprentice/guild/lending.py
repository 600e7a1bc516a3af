"""What this node hands to other members' nodes: consented works to a guild's trainer, released apprentices' files.

Decisions only; web/guild_peers.py answers the requests. Consent is read from this node's catalog at each request.
"""

from __future__ import annotations

from apprentice.errors import NotFound
from apprentice.guild.log import GuildLog
from apprentice.provenance import consent
from apprentice.provenance.manifest import MANIFEST, WEIGHTS
from apprentice.store import works


def lent_work(guild_log: GuildLog, work: str, reader: str) -> bytes:
    """A work's bytes, for the pledged trainer of a passed proposal that names its owner (`State.may_receive_work`),
    while the log holds its offer unwithdrawn and this node's own consent still lends it to the guild."""
    state, shop = guild_log.state, guild_log.workshop
    offered = state.may_receive_work(reader, work) and consent.guild_may_train({work}, state.withdrawn)
    lent = offered and consent.may_lend(works.consent_of(shop.catalog, work), guild_log.id)
    if not lent or not shop.blobs.path(work).is_file():
        raise NotFound("This node holds no consented copy of that work.")
    return shop.blobs.get(work)


def released_file(guild_log: GuildLog, apprentice: str, file: str, reader: str) -> bytes:
    """A released apprentice's manifest or weights, for members (not applicants) to fetch and check."""
    released = {release["apprentice"] for release in guild_log.state.releases.values()}
    if not guild_log.state.is_member(reader) or apprentice not in released or file not in (MANIFEST, WEIGHTS):
        raise NotFound("This node holds no released apprentice file by that name.")
    path = guild_log.workshop.apprentice_folder(apprentice) / file
    if not path.is_file():
        raise NotFound("This node holds no released apprentice file by that name.")
    return path.read_bytes()
