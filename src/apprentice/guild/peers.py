"""Talking to other members' nodes over HTTP: signed requests, and the sync that exchanges per-author heads.

A sync pulls what a peer holds and this node lacks, then pushes the reverse, so any member can relay for another.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import httpx

from apprentice.errors import BadInput
from apprentice.guild.log import GuildLog, Intake
from apprentice.guild.records import record_hash
from apprentice.identity import canonical
from apprentice.store import guilds
from apprentice.store.workshop import Workshop

log = logging.getLogger("apprentice.guild")
PAGE = 200
TIMEOUT = httpx.Timeout(10.0, connect=3.0, read=60.0)


def proof_message(guild: str, nonce: str, path: str) -> bytes:
    """What a member signs to be served `path`: the server's one-time nonce binds it to this request."""
    return canonical({"guild": guild, "nonce": nonce, "path": path})


class Peer:
    """Another member's node at `address` (a base URL), spoken to as this workshop's member."""

    def __init__(self, workshop: Workshop, guild: str, address: str) -> None:
        self.workshop, self.guild, self.address = workshop, guild, address.rstrip("/")
        self.http = httpx.Client(base_url=self.address, timeout=TIMEOUT, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def signed_get(self, path: str, params: dict | None = None) -> httpx.Response:
        nonce = self.http.get(f"/guild/{self.guild}/challenge").raise_for_status().json()["nonce"]
        proof = self.workshop.identity.sign(proof_message(self.guild, nonce, path))
        headers = {
            "X-Apprentice-Member": self.workshop.member,
            "X-Apprentice-Nonce": nonce,
            "X-Apprentice-Proof": proof,
        }
        return self.http.get(path, params=params, headers=headers).raise_for_status()

    def heads(self) -> dict[str, dict]:
        return self.http.get(f"/guild/{self.guild}/heads").raise_for_status().json()["heads"]

    def records(self, author: str, after: int, limit: int = PAGE) -> list[dict]:
        params = {"author": author, "after": after, "limit": limit}
        return self.signed_get(f"/guild/{self.guild}/records", params).json()["records"]

    def push(self, records: list[dict]) -> dict:
        return self.http.post(f"/guild/{self.guild}/records", json={"records": records}).raise_for_status().json()

    def blob(self, path: str, expected_sha256: str) -> bytes:
        """A file from the peer, refused unless its bytes hash to what the log says."""
        data = self.signed_get(path).content
        if hashlib.sha256(data).hexdigest() != expected_sha256:
            raise BadInput(f"{self.address}{path} sent bytes that do not match the guild's record; sync again later.")
        return data


@dataclass
class SyncReport:
    """What a sync did, per peer."""

    pulled: int = 0
    pushed: int = 0
    refused: list[dict] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # address → why

    def to_dict(self) -> dict:
        return self.__dict__


def known_addresses(guild_log: GuildLog) -> list[str]:
    """Every address this node knows for the guild's members' nodes, but its own member's."""
    mine = guild_log.state.addresses.get(guild_log.state.person.get(guild_log.workshop.member, ""), "")
    found = guilds.peer_addresses(guild_log.workshop.catalog, guild_log.id) + list(guild_log.state.addresses.values())
    return [a for a in dict.fromkeys(a.rstrip("/") for a in found if a) if a != mine.rstrip("/")]


def remember_peer(workshop: Workshop, guild: str, address: str) -> None:
    with workshop.catalog.write() as db:
        guilds.add_peer(db, guild, address)


def sync(workshop: Workshop, guild: str, only: list[str] | None = None) -> SyncReport:
    """Exchange records with every known peer (or `only` these addresses); unreachable ones are skipped."""
    report, done, guild_log = SyncReport(), set(), GuildLog(workshop, guild)
    while True:  # the log may name new addresses as records arrive
        todo = [a for a in (only or known_addresses(guild_log)) if a not in done]
        if not todo:
            return report
        for address in todo:
            done.add(address)
            peer = Peer(workshop, guild, address)
            try:
                exchange(guild_log, peer, report)
                report.reached.append(address)
            except (httpx.HTTPError, ValueError, KeyError) as error:
                report.unreachable[address] = str(error) or type(error).__name__
                log.info("guild %s: %s could not be reached (%s)", guild[:12], address, error)
            finally:
                peer.close()


def exchange(guild_log: GuildLog, peer: Peer, report: SyncReport) -> None:
    """Push what the peer lacks, then pull what it holds beyond this node's heads, and note forks.

    Pushing first lets a peer that has not heard of this member yet learn of their join before it is asked to
    serve them. Passes repeat while records land: one author's records may wait on another's.
    """
    theirs = peer.heads()
    while sum(push(guild_log, peer, author, theirs, report) for author in guild_log.heads()):
        pass
    while sum(pull(guild_log, peer, author, head["seq"], report) for author, head in theirs.items()):
        pass
    for author, head in theirs.items():  # the same place in a chain holding another record here: a fork
        held = guild_log.record_at(author, head["seq"])
        if held is not None and head["hash"] and record_hash(held) != head["hash"]:
            taken(report, guild_log.take(peer.records(author, head["seq"] - 1, 1), peer.address))


def pull(guild_log: GuildLog, peer: Peer, author: str, until: int, report: SyncReport) -> int:
    """Fetch and take the author's records this node lacks, up to `until`; how many landed."""
    landed = 0
    while (after := guild_log.state.heads.get(author, (0, ""))[0]) < until:
        batch = peer.records(author, after)
        intake = guild_log.take(batch, peer.address) if batch else Intake()
        taken(report, intake)
        landed += intake.accepted
        if intake.accepted == 0:
            break
    return landed


def push(guild_log: GuildLog, peer: Peer, author: str, theirs: dict[str, dict], report: SyncReport) -> int:
    """Send the peer the author's records it lacks; how many it took (it logs why it refused any)."""
    landed, head = 0, guild_log.state.heads[author][0]
    while (after := theirs.get(author, {}).get("seq", 0)) < head:
        answer = peer.push(guild_log.records_after(author, after, PAGE))
        if not answer.get("accepted"):
            break
        landed += answer["accepted"]
        theirs[author] = answer.get("heads", {}).get(author) or {"seq": after + answer["accepted"], "hash": ""}
    report.pushed += landed
    return landed


def taken(report: SyncReport, intake: Intake) -> None:
    report.pulled += intake.accepted
    report.refused += intake.refused
