"""Founding a guild, inviting to it and joining it: the charter, signed invites and join records.

A guild's id is the hash of its charter record, so an invite names exactly one charter and no registry is needed.
"""

from __future__ import annotations

import secrets

from apprentice.errors import BadInput, Conflict, Unreachable
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.peers import Peer, SyncReport, remember_peer, sync
from apprentice.guild.records import decode_invite, encode_invite, record_hash, sign
from apprentice.guild.state import electorate
from apprentice.identity import signed
from apprentice.store import guilds
from apprentice.store.workshop import Workshop

JOIN_RULES = ("invite", "vote")


def create(
    workshop: Workshop, name: str, address: str, join: str = "invite", quorum: float = 0.5, threshold: float = 0.5
) -> GuildLog:
    """Write the charter: the guild's name, who may join and how proposals pass; the founder is its first member."""
    if join not in JOIN_RULES or not 0 < quorum <= 1 or not 0 <= threshold < 1:
        raise BadInput("A charter needs join 'invite' or 'vote', a quorum in (0, 1] and a threshold in [0, 1).")
    founder = workshop.member_name(workshop.member)
    body = {"name": name, "join": join, "quorum": quorum, "threshold": threshold}
    body |= {"founder_name": founder, "address": address.rstrip("/"), "nonce": secrets.token_hex(8)}
    charter = sign(workshop.identity, "", 1, "", "charter", body)
    guild = record_hash(charter)
    with workshop.catalog.write() as db:
        guilds.add_guild(db, guild, name)
    guild_log = GuildLog(workshop, guild)
    guild_log.store(charter)
    return guild_log


def invite(guild_log: GuildLog) -> str:
    """An invite line: the guild, this node's address and a one-time nonce, signed by this member.

    Under a charter that admits by vote, inviting also opens the vote on whoever joins with it.
    """
    state, me = guild_log.state, guild_log.workshop.member
    if not state.is_member(me):
        raise Conflict(f"You are not (yet) a member of {guild_log.label()}, so you cannot invite.")
    address = state.addresses.get(state.person[me], "")
    if not address:
        raise BadInput(
            f"{guild_log.label()} has no address for your node; announce one with `apprentice guild address URL`."
        )
    nonce = secrets.token_hex(16)
    if state.charter.get("join") == "vote":  # the invite is issued on the log, so a later stolen key cannot issue one
        guild_log.append("proposal", {"kind": "admit", "nonce": nonce} | electorate(state))
    else:
        guild_log.append("invite", {"nonce": nonce})
    facts = {"guild": guild_log.id, "nonce": nonce, "address": address, "name": state.name}
    return encode_invite(signed(guild_log.workshop.identity, facts))


def join(workshop: Workshop, invite_text: str, address: str, network: Network = SOCKETS) -> tuple[GuildLog, SyncReport]:
    """Send a join record to the inviter's node over `network`, then fetch the guild's log from it."""
    token = decode_invite(invite_text)
    guild = token["guild"]
    if guild in guild_ids(workshop):
        raise Conflict(f"This workshop already belongs to guild {token.get('name', guild[:12])}.")
    body = {"invite": token, "name": workshop.member_name(workshop.member)}
    body["address"] = address.rstrip("/")
    record = sign(workshop.identity, guild, 1, "", "join", body)
    try:
        with Peer(workshop, guild, token["address"], network, keys={token["by"]}) as peer:  # the inviter's node
            answer = peer.push([record])
    except Unreachable as error:
        raise Unreachable(
            f"The inviter's node at {token['address']} did not answer ({error.why}); try again when it is on.",
            error.address,
            error.why,
        ) from None
    if answer["accepted"] != 1:
        why = (answer["refused"] or [{"why": "it refused the join"}])[0]["why"]
        raise Conflict(f"The guild refused the invite: {why}; ask a member for a new one.")
    with workshop.catalog.write() as db:
        guilds.add_guild(db, guild, token.get("name", ""))
    remember_peer(workshop, guild, token["address"])
    report = sync(workshop, guild, only=[token["address"]], network=network, pinned={token["address"]: {token["by"]}})
    guild_log = GuildLog(workshop, guild)
    if record_hash(record) not in guild_log.state.seen:
        raise Conflict(f"The log from {token['address']} did not take your join record; run `apprentice guild sync`.")
    return guild_log, report
