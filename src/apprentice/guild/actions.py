"""What a member does in a guild, each as one core function the command line and the page both call.

Every action that signs a record first catches up with the peers that answer (so a workshop restored from a
backup learns its own chain before it signs anything new), then pushes what it signed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from apprentice.guild import membership, releases, rounds, training, work
from apprentice.guild.log import GuildLog, guild_ids, pick_guild
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.peers import SyncReport, sync
from apprentice.guild.records import record_hash
from apprentice.guild.rotation import rotate_key
from apprentice.guild.state import Proposal
from apprentice.provenance.consent import ConsentChange, set_consent
from apprentice.store.workshop import Workshop
from apprentice.train.loop import Progress


@contextmanager
def signing(workshop: Workshop, guild_ref: str | None, network: Network = SOCKETS) -> Iterator[GuildLog]:
    """The guild's log, caught up with every peer that answers, to sign on; what was signed is pushed afterwards."""
    guild_id = pick_guild(workshop, guild_ref)
    sync(workshop, guild_id, network=network)
    guild_log = GuildLog(workshop, guild_id)
    yield guild_log
    sync(workshop, guild_id, network=network)


@dataclass(frozen=True)
class CatchUp:
    """What a sync with the guild came to: the exchange, and the shared apprentices fetched."""

    report: SyncReport
    fetched: list[str]

    def to_dict(self) -> dict:
        return self.report.to_dict() | {"fetched": self.fetched}


def catch_up(workshop: Workshop, guild_id: str, network: Network = SOCKETS) -> CatchUp:
    """Exchange the log with every peer that answers, tell the guild of consent changes it missed, fetch releases."""
    report = sync(workshop, guild_id, network=network)
    if work.consent_changed(workshop):  # a consent change the guild has not heard of yet
        report = sync(workshop, guild_id, network=network)
    return CatchUp(report, releases.fetch_releases(GuildLog(workshop, guild_id), network=network))


def catch_up_all(workshop: Workshop, network: Network = SOCKETS) -> dict[str, CatchUp]:
    """`catch_up` with every guild this workshop belongs to."""
    return {guild_id: catch_up(workshop, guild_id, network) for guild_id in guild_ids(workshop)}


@dataclass(frozen=True)
class ConsentOutcome:
    """A consent change and what the guilds were told of it."""

    changes: list[ConsentChange]
    guild_records: list[dict]  # withdrawals and retrain proposals signed because of it

    @property
    def retrain_proposals(self) -> int:
        return sum(record["type"] == "proposal" for record in self.guild_records)


def change_consent(workshop: Workshop, references: list[str], scope: str, network: Network = SOCKETS) -> ConsentOutcome:
    """Change what works may be used for; every guild that held them is told at once (withdrawals, retrains)."""
    for guild_id in guild_ids(workshop):
        sync(workshop, guild_id, network=network)  # catch up before signing anything the guilds will hear of
    changes = set_consent(workshop, references, scope)
    records = work.consent_changed(workshop, [change.work for change in changes])
    for guild_id in sorted({record["guild"] for record in records}):
        sync(workshop, guild_id, network=network)  # the guild learns now, not at the next sync
    return ConsentOutcome(changes, records)


def invite(workshop: Workshop, guild_ref: str | None, network: Network = SOCKETS) -> str:
    """An invite line for a newcomer."""
    with signing(workshop, guild_ref, network) as guild_log:
        return membership.invite(guild_log)


def announce(workshop: Workshop, guild_ref: str | None, address: str, network: Network = SOCKETS) -> GuildLog:
    """Tell the guild where this member's node answers now."""
    with signing(workshop, guild_ref, network) as guild_log:
        guild_log.append("address", {"address": address.rstrip("/")})
    return guild_log


def offer(workshop: Workshop, guild_ref: str | None, task: str, network: Network = SOCKETS) -> tuple[GuildLog, dict]:
    """Lend this member's examples of `task` to the guild; the offer record."""
    with signing(workshop, guild_ref, network) as guild_log:
        record = work.offer(guild_log, task)
    return guild_log, record


def propose(
    workshop: Workshop,
    guild_ref: str | None,
    task: str,
    contributors: list[str],
    compute: str | None,
    minutes: float,
    network: Network = SOCKETS,
    rounds: int | None = None,
) -> tuple[dict, Proposal, str]:
    """Propose training a shared apprentice: the signed record, the proposal, and its outcome so far. With `rounds`,
    it trains federated: `compute` hosts the aggregation and each contributor trains at home."""
    federated = {"training": "federated", "rounds": rounds} if rounds else {}
    with signing(workshop, guild_ref, network) as guild_log:
        record = work.propose(guild_log, task, contributors, compute, minutes, **federated)
    proposal = guild_log.state.proposals[record_hash(record)]
    return record, proposal, guild_log.state.outcome(proposal)


def vote(
    workshop: Workshop, guild_ref: str | None, proposal: str, choice: str, network: Network = SOCKETS
) -> tuple[Proposal, str]:
    """Vote on a proposal; the proposal and its outcome after the vote."""
    with signing(workshop, guild_ref, network) as guild_log:
        record = work.vote(guild_log, proposal, choice)
    target = guild_log.state.proposals[record["body"]["proposal"]]
    return target, guild_log.state.outcome(target)


def train_pledged(
    workshop: Workshop,
    guild_ref: str | None,
    on_progress: Callable[[Progress], None] | None = None,
    network: Network = SOCKETS,
) -> list[dict]:
    """Train every passed proposal that pledged this machine and release the apprentices; the release records."""
    with signing(workshop, guild_ref, network) as guild_log:
        if not training.pledged(guild_log):
            return []
        return training.train_pledged(guild_log, on_progress, network=network)


def take_part(
    workshop: Workshop,
    guild_ref: str | None,
    on_line: Callable[[str], None],
    flower_port: int = rounds.FLOWER_PORT,
    network: Network = SOCKETS,
) -> list[dict]:
    """Host or train at home every passed federated proposal that names this member; the releases this node signed."""
    guild_id = pick_guild(workshop, guild_ref)
    sync(workshop, guild_id, network=network)
    return rounds.take_part(workshop, guild_id, on_line, flower_port, network)


def rotate(workshop: Workshop, network: Network = SOCKETS) -> tuple[str, str, int]:
    """Replace this member's key in every guild, caught up first and told after: (old key, new key, guilds told)."""
    guilds = guild_ids(workshop)
    for guild_id in guilds:
        sync(workshop, guild_id, network=network)  # catch up with your own chain before the old key signs its last one
    old = workshop.member
    new = rotate_key(workshop)
    for guild_id in guilds:
        sync(workshop, guild_id, network=network)
    return old, new, len(guilds)
