"""Talking to other members' nodes over HTTP: signed requests, and the sync that exchanges per-author heads.

A sync pulls what a peer holds and this node lacks, then pushes the reverse, so any member can relay for another.
Each node is reached only if its certificate is a key that the log ties to its address (`keys_at`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any

import httpx

from apprentice.errors import BadInput, Unreachable
from apprentice.guild.log import GuildLog, Intake
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.records import record_hash
from apprentice.guild.state import State
from apprentice.identity import canonical
from apprentice.store import guilds
from apprentice.store.workshop import Workshop

log = logging.getLogger("apprentice.guild")
PAGE = 200
NONCE = re.compile(r"[0-9a-f]{16,128}")
MOST_SEQ = 2**62  # past this a sequence number cannot be a real chain's (and SQLite could not hold it)
MOST_PROOFS = 1_000  # fork proofs a peer may send: one per forked author
ANSWER_BYTES = 16 * 2**20  # a JSON answer: a page of records is far less
FILE_BYTES = 512 * 2**20  # a work (uploads are at most 200 MB) or an apprentice's weights
EXCHANGE_SECONDS = 600.0  # everything one peer may take of a sync, however slowly it trickles


def proof_message(guild: str, nonce: str, path: str, query: str, host: str) -> bytes:
    """What a member signs to be served `path?query` by the node at `host`: the server's one-time nonce binds it to
    this one request, and the host and query to what was asked of whom, so it cannot be relayed elsewhere."""
    return canonical({"guild": guild, "nonce": nonce, "path": path, "query": query, "host": host.lower()})


def member_keys(state: State, person: str) -> frozenset[str]:
    """The keys a member's node may present: their current key, and the new key it certified if the switch to it
    has not reached this node yet."""
    key = state.current.get(person)
    if key is None:
        return frozenset()
    return frozenset({key, state.rotations[key]} if key in state.rotations else {key})


def keys_at(state: State, address: str) -> frozenset[str]:
    """The member keys the node at `address` may present: those of the members who announced it on the log; for an
    address no member announced (a relay this node was told of), any member's."""
    address = address.rstrip("/")
    announced = [p for p in state.members() if state.addresses.get(p, "").rstrip("/") == address]
    return frozenset().union(*(member_keys(state, person) for person in announced or state.members()))


class Peer:
    """Another member's node at `address` (a base URL), spoken to as this workshop's member over `network`, and
    only if it proves it holds one of `keys` (by default, the keys the guild's log ties to that address).

    Its answers are hostile: a node that does not answer, refuses, or answers outside the protocol raises
    `Unreachable`, so callers never meet a malformed answer deeper in.
    """

    def __init__(
        self,
        workshop: Workshop,
        guild: str,
        address: str,
        network: Network = SOCKETS,
        seconds: float = EXCHANGE_SECONDS,
        keys: Set[str] | None = None,
    ) -> None:
        self.workshop, self.guild, self.address = workshop, guild, address.rstrip("/")
        self.network, self.deadline, self.keys = network, time.monotonic() + seconds, keys
        self.http: httpx.Client | None = None  # made at the first request: a malformed address does not answer

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

    def pinned_keys(self) -> Set[str]:
        """The member keys this peer's certificate must be: as given, or as the guild's log ties them to its address."""
        return self.keys if self.keys is not None else keys_at(GuildLog(self.workshop, self.guild).state, self.address)

    def unreachable(self, why: str) -> Unreachable:
        where = self.address or "(no address)"
        return Unreachable(f"The guild node at {where} did not answer as one ({why}).", self.address, why)

    def request(self, method: str, path: str, most: int = ANSWER_BYTES, **options: Any) -> httpx.Response:
        """The peer's answer to one request, read whole, or Unreachable unless it came, succeeded, stayed within
        `most` bytes and arrived before this peer's deadline."""
        try:
            if self.http is None:
                self.http = self.network.client(self.address, self.pinned_keys())
            with self.http.stream(method, path, **options) as answer:
                answer.raise_for_status()
                body = bytearray()
                for chunk in answer.iter_bytes():  # decoded: a compressed bomb is counted as it unpacks
                    body += chunk
                    if len(body) > most:
                        raise self.unreachable(f"{path} answered more than {most:,} bytes")
                    if time.monotonic() > self.deadline:
                        raise self.unreachable(f"it took longer than {EXCHANGE_SECONDS:.0f} s to answer")
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=bytes(body), request=answer.request
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise self.unreachable(str(error) or type(error).__name__) from error

    def parsed(self, response: httpx.Response, field: str, kind: type) -> dict:
        """The peer's JSON object answer, which must hold `field` as a `kind`."""
        path = response.request.url.path
        try:
            found = response.json()
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past what Python parses
            raise self.unreachable(f"{path} answered something that is not JSON") from None
        if not isinstance(found, dict) or not isinstance(found.get(field), kind):
            raise self.unreachable(f"{path} answered without a valid '{field}'")
        return found

    def signed_get(self, path: str, params: dict | None = None, most: int = ANSWER_BYTES) -> httpx.Response:
        challenge = self.request("GET", f"/guild/{self.guild}/challenge")
        nonce = self.parsed(challenge, "nonce", str)["nonce"]
        if not NONCE.fullmatch(nonce):
            raise self.unreachable("its challenge is not a hex nonce")
        url = httpx.URL(self.address + path, params=params)
        asked = proof_message(self.guild, nonce, url.path, url.query.decode(), url.netloc.decode())
        proof = self.workshop.identity.sign(asked)
        headers = {
            "X-Apprentice-Member": self.workshop.member,
            "X-Apprentice-Nonce": nonce,
            "X-Apprentice-Proof": proof,
        }
        return self.request("GET", path, most, params=params, headers=headers)

    def heads(self) -> dict[str, dict]:
        """Each author's newest {"seq", "hash"} on the peer."""
        answer = self.parsed(self.request("GET", f"/guild/{self.guild}/heads"), "heads", dict)
        return self.checked_heads(answer["heads"])

    def records(self, author: str, after: int, limit: int = PAGE) -> list:
        """The author's records after `after`, as the peer sent them: each is checked when it is taken."""
        params = {"author": author, "after": after, "limit": limit}
        records = self.parsed(self.signed_get(f"/guild/{self.guild}/records", params), "records", list)["records"]
        if len(records) > limit:
            raise self.unreachable(f"it sent {len(records)} records where {limit} were asked for")
        return records

    def push(self, records: list[dict]) -> dict:
        """How the peer took `records`: {"accepted": n, "refused": [{"why": …}, …], "heads": {author: head}}."""
        response = self.request("POST", f"/guild/{self.guild}/records", json={"records": records})
        answer = self.parsed(response, "accepted", int)
        accepted, refused, heads = answer["accepted"], answer.get("refused", []), answer.get("heads", {})
        said = isinstance(refused, list) and all(isinstance(r, dict) and isinstance(r.get("why"), str) for r in refused)
        counted = not isinstance(accepted, bool) and 0 <= accepted <= len(records)
        if not (counted and said and isinstance(heads, dict)):
            raise self.unreachable("its answer to a push is malformed")
        return {"accepted": accepted, "refused": refused, "heads": self.checked_heads(heads)}

    def fork_proofs(self) -> list:
        """The peer's proofs that authors forked their chains: pairs of records, each checked when it is taken."""
        answer = self.parsed(self.signed_get(f"/guild/{self.guild}/forks"), "records", list)
        if len(answer["records"]) > 2 * MOST_PROOFS:
            raise self.unreachable(
                f"it sent {len(answer['records'])} fork proofs where a guild holds at most {MOST_PROOFS}"
            )
        return answer["records"]

    def checked_heads(self, heads: dict) -> dict[str, dict]:
        """`heads` as the peer sent them, once each is an author's (seq, hash) that a chain could have."""
        for author, head in heads.items():
            seq = head.get("seq") if isinstance(head, dict) else None
            fine = isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < MOST_SEQ
            if not (fine and isinstance(head.get("hash"), str) and isinstance(author, str)):
                raise self.unreachable(f"its head for {str(author)[:12]!r} is malformed")
        return {author: {"seq": head["seq"], "hash": head["hash"]} for author, head in heads.items()}

    def blob(self, path: str, expected_sha256: str) -> bytes:
        """A file from the peer, refused unless its bytes hash to what the log says."""
        data = self.signed_get(path, most=FILE_BYTES).content
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
    """Every address this node knows for the guild's members' nodes (not applicants'), but its own member's."""
    state = guild_log.state
    mine = state.addresses.get(state.person.get(guild_log.workshop.member, ""), "")
    members = [state.addresses.get(person, "") for person in state.members()]
    found = guilds.peer_addresses(guild_log.workshop.catalog, guild_log.id) + members
    return [a for a in dict.fromkeys(a.rstrip("/") for a in found if a) if a != mine.rstrip("/")]


def remember_peer(workshop: Workshop, guild: str, address: str) -> None:
    with workshop.catalog.write() as db:
        guilds.add_peer(db, guild, address)


def sync(
    workshop: Workshop,
    guild: str,
    only: list[str] | None = None,
    network: Network = SOCKETS,
    pinned: dict[str, Set[str]] | None = None,
) -> SyncReport:
    """Exchange records with every known peer (or `only` these addresses) over `network`, each pinned to the keys
    the log ties to its address (or to `pinned[address]`, for an address the log does not know yet); peers that do
    not answer, or answer outside the protocol, are named in the report and skipped."""
    report, done, guild_log = SyncReport(), set(), GuildLog(workshop, guild)
    while True:  # the log may name new addresses as records arrive
        todo = [a for a in (only or known_addresses(guild_log)) if a not in done]
        if not todo:
            return report
        for address in todo:
            done.add(address)
            try:
                keys = (pinned or {}).get(address) or keys_at(guild_log.state, address)
                with Peer(workshop, guild, address, network, keys=keys) as peer:
                    exchange(guild_log, peer, report)
                report.reached.append(address)
            except Unreachable as error:
                report.unreachable[address] = error.why
                log.info("guild %s: %s could not be reached (%s)", guild[:12], address, error.why)


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
        proven = guild_log.forks_of(author)  # a fork already proven here is not taken (and refused) again
        if held is not None and head["hash"] and record_hash(held) != head["hash"] and not proven:
            taken(report, guild_log.take(peer.records(author, head["seq"] - 1, 1), peer.address))
    unknown = [r for r in peer.fork_proofs() if not isinstance(r, dict) or not guild_log.forks_of(str(r.get("author")))]
    taken(report, guild_log.take(unknown, peer.address))  # forks the peer saw, so every node agrees; each once


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
        if not answer["accepted"]:
            break
        landed += answer["accepted"]
        theirs[author] = answer["heads"].get(author) or {"seq": after + answer["accepted"], "hash": ""}
        if theirs[author]["seq"] <= after:  # it says it took records, yet its head stands still: never loop on it
            raise peer.unreachable("it took records but its head did not move")
    report.pushed += landed
    return landed


def taken(report: SyncReport, intake: Intake) -> None:
    report.pulled += intake.accepted
    report.refused += intake.refused
