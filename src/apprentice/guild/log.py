"""A guild's log as this node holds it: records in the catalog, checked one by one as they arrive.

Each accepted record lands in its own transaction, so a node killed mid-sync keeps a clean prefix of every chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from apprentice.errors import Conflict, NotFound
from apprentice.guild.records import record_hash, sign
from apprentice.guild.state import State
from apprentice.identity import canonical
from apprentice.provenance import consent
from apprentice.store import guilds
from apprentice.store.workshop import Workshop

log = logging.getLogger("apprentice.guild")


@dataclass
class Intake:
    """What one batch of incoming records came to."""

    accepted: int = 0
    duplicates: int = 0
    waiting: int = 0
    refused: list[dict] = field(default_factory=list)  # {"record": "author…#seq", "action": …, "why": …}


def guild_ids(workshop: Workshop) -> list[str]:
    return [row["id"] for row in guilds.guild_rows(workshop.catalog)]


def pick_guild(workshop: Workshop, reference: str | None) -> str:
    """The guild a command means: by id, id prefix or name; or the only guild this workshop belongs to."""
    rows = guilds.guild_rows(workshop.catalog)
    if reference:
        rows = [r for r in rows if r["id"].startswith(reference.lower()) or r["name"] == reference]
    if len(rows) == 1:
        return rows[0]["id"]
    if not rows:
        where = f"named '{reference}' " if reference else ""
        raise NotFound(f"This workshop belongs to no guild {where}yet; create one or join one with an invite.")
    raise Conflict("This workshop belongs to several guilds; name one with --guild.")


class GuildLog:
    """One guild's records in one workshop's catalog, and the state they fold to."""

    def __init__(self, workshop: Workshop, guild: str) -> None:
        self.workshop, self.id = workshop, guild
        self._state: State | None = None

    @property
    def state(self) -> State:
        if self._state is None:
            state = State(self.id)
            for record in guilds.log_records(self.workshop.catalog, self.id):
                state.add(record)
            for fork in guilds.forks(self.workshop.catalog, self.id):
                state.note_fork(fork["author"])
            self._state = state
        return self._state

    def label(self) -> str:
        return f"guild {self.state.name}"

    def records_after(self, author: str, seq: int, limit: int = 500) -> list[dict]:
        return guilds.records_after(self.workshop.catalog, self.id, author, seq, limit)

    def record_at(self, author: str, seq: int) -> dict | None:
        return guilds.record_at(self.workshop.catalog, self.id, author, seq)

    def heads(self) -> dict[str, dict]:
        return {author: {"seq": seq, "hash": digest} for author, (seq, digest) in self.state.heads.items()}

    def forks(self) -> list[dict]:
        return guilds.forks(self.workshop.catalog, self.id)

    def fork_proofs(self) -> list[dict]:
        """Pairs of records (held, second) that prove authors signed two histories, for other nodes to check."""
        return guilds.fork_proofs(self.workshop.catalog, self.id)

    # -- writing ----------------------------------------------------------------------------------------------

    def append(self, kind: str, body: dict) -> dict:
        """Sign a record of this workshop's member as the next of their chain, and keep it."""
        me = self.workshop.member
        if self.forks_of(me):
            raise Conflict(
                f"Your key signed two different records in {self.label()} (a second device or a restored backup); "
                "keep only one copy of your workshop, and tell the members: their nodes show your chain as forked."
            )
        seq, prev = self.state.heads.get(me, (0, ""))
        record = sign(self.workshop.identity, self.id, seq + 1, prev, kind, body)
        verdict = self.state.verdict(record)
        if verdict.action != "ok":
            raise Conflict(f"{self.label()} cannot take this {kind} record: {verdict.why}.")
        if not self.store(record):
            raise Conflict(f"Another sync of {self.label()} wrote to it at the same moment; run the command again.")
        return record

    def forks_of(self, author: str) -> bool:
        return guilds.has_forked(self.workshop.catalog, self.id, author)

    def store(self, record: dict) -> bool:
        """Keep a judged record; False (and the state read afresh) when another process took its place first."""
        with self.workshop.catalog.write() as db:
            stored = guilds.add_record(db, self.id, record, record_hash(record), canonical(record).decode())
            if stored and record["type"] == "withdraw":
                consent.withdraw_copies(db, self.workshop, record["body"].get("works", []))
        if not stored:  # a sync in another process (serve's, say) stored this place meanwhile
            self._state = None
            return False
        self.state.add(record)
        if record["type"] == "withdraw":
            consent.forget_withdrawn_copies(self.workshop)
        return True

    # -- receiving --------------------------------------------------------------------------------------------

    def take(self, records: list[dict], source: str) -> Intake:
        """Check and keep incoming records; what waits on others is retried until nothing more lands."""
        intake, waiting = Intake(), [r for r in records if isinstance(r, dict)]
        refused = [r for r in records if not isinstance(r, dict)]
        intake.refused += [{"record": "?", "action": "reject", "why": "it is not a guild record"} for _ in refused]
        waiting.sort(key=lambda r: (str(r.get("author")), r.get("seq") if isinstance(r.get("seq"), int) else 0))
        progress = True
        while waiting and progress:
            progress, later = False, []
            for record in waiting:
                verdict = self.state.verdict(record)
                if verdict.action == "ok" and not self.store(record):
                    later.append((record, verdict))  # judged again against the log as it now stands
                    progress = True
                elif verdict.action == "ok":
                    if record["author"] == self.workshop.member:
                        self.restore_consent(record)
                    intake.accepted, progress = intake.accepted + 1, True
                elif verdict.action in ("gap", "later"):
                    later.append((record, verdict))
                else:
                    self.refuse(record, verdict.action, verdict.why, source, intake)
            waiting = [record for record, _ in later]
        for record in waiting:
            log.info("%s: %s waits: %s", self.label(), name_of(record), self.state.verdict(record).why)
        intake.waiting = len(waiting)
        return intake

    def restore_consent(self, record: dict) -> None:
        """This member's own record, come back from a peer (a restored backup): bring the catalog's consent in line."""
        body = record["body"]
        if record["type"] not in ("offer", "withdraw"):
            return
        with self.workshop.catalog.write() as db:
            if record["type"] == "offer":
                works = [part["work"] for e in body["examples"] for part in e["parts"].values()]
                consent.restore_lent(db, self.workshop, works, self.id)
            elif record["type"] == "withdraw":
                consent.restore_withdrawn(db, self.workshop, body["works"])

    def refuse(self, record: dict, action: str, why: str, source: str, intake: Intake) -> None:
        if action == "duplicate":
            intake.duplicates += 1
            log.info("%s: ignored replayed record %s from %s: %s", self.label(), name_of(record), source, why)
            return
        if action == "fork":
            with self.workshop.catalog.write() as db:
                guilds.add_fork(db, self.id, record, record_hash(record), canonical(record).decode())
            self.state.note_fork(record["author"])
        what = {"fork": "forked", "reject": "rejected"}[action]
        log.warning("%s: rejected %s record %s from %s: %s", self.label(), what, name_of(record), source, why)
        intake.refused.append({"record": name_of(record), "action": action, "why": why})


def name_of(record: dict) -> str:
    """How log lines name a record: its type, its author's key prefix and its place in their chain."""
    return f"{record.get('type', '?')} {str(record.get('author', '?'))[:12]}#{record.get('seq', '?')}"
