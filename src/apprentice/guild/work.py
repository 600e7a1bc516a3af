"""The guild's decisions: offering consented examples, proposing and voting, withdrawing and proposing retrains.

Each is one signed record on the log; only hashes of works travel on it. Training what passed is in releases.py.
"""

from __future__ import annotations

from apprentice.errors import BadInput, Conflict, NotFound
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.state import VOTES, Proposal, State, electorate
from apprentice.kinds import get_kind
from apprentice.provenance import consent
from apprentice.store import works as stored_works
from apprentice.store.workshop import Workshop
from apprentice.train.examples import gather


def works_of(example: dict) -> list[str]:
    return [part["work"] for part in example["parts"].values()]


def offer(guild_log: GuildLog, task_name: str) -> dict:
    """Give the guild consent to train on this member's examples of the task, and say so on the log."""
    shop, me = guild_log.workshop, guild_log.workshop.member
    task = shop.task(task_name)
    records = [r for r in gather(shop, task_name) if all(p.owner == me for p in r.parts.values())]
    if not records:
        raise NotFound(f"The task '{task_name}' holds no examples of your own to offer; add some first.")
    examples = [
        {
            "fingerprint": r.fingerprint,
            "name": r.name,
            "size": [r.width, r.height],
            "sequence": r.sequence,
            "position": r.position,
            "parts": {role: {"work": p.work, "layer": p.layer, "file": p.name} for role, p in r.parts.items()},
        }
        for r in records
    ]
    works = sorted({work for example in examples for work in works_of(example)})
    consent.set_consent(shop, works, consent.lent_to(guild_log.id))
    return guild_log.append("offer", {"task": task_name, "kind": task.kind, "examples": examples})


def member_of(state: State, reference: str) -> str:
    """A member's person id from their name or a key prefix of at least 8 characters."""
    found = [
        p
        for p in state.members()
        if state.names.get(p) == reference or (len(reference) >= 8 and p.startswith(reference))
    ]
    if len(found) != 1:
        raise NotFound(
            f"'{reference}' names no single member of guild {state.name}; use a name `apprentice guild show` lists."
        )
    return found[0]


def propose(
    guild_log: GuildLog, task: str, contributors: list[str], compute: str | None, minutes: float, **extra: str | int
) -> dict:
    """Propose training a shared apprentice for `task` from these members' offered examples on `compute`'s machine."""
    state = guild_log.state
    offered = {offer["owner"] for offer in state.offers.values() if offer["task"] == task}
    chosen = [member_of(state, name) for name in contributors] if contributors else sorted(offered)
    if not set(chosen) & offered:
        raise NotFound(f"No member has offered examples of '{task}' to guild {state.name}; offer some first.")
    trainer = member_of(state, compute) if compute else state.person[guild_log.workshop.member]
    kind = next(o.get("kind", "paired") for o in state.offers.values() if o["task"] == task)
    try:  # the proposer's own settings for the task (how examples are turned, the network), if they have it
        config = guild_log.workshop.task(task).config
    except NotFound:
        config = get_kind(kind).default_config()
    body = {"kind": "train", "task": task, "task_kind": kind, "task_config": config, "contributors": chosen}
    body |= {"compute": {"member": trainer, "minutes": minutes}} | electorate(state) | extra
    return guild_log.append("proposal", body)


def find_proposal(state: State, reference: str) -> Proposal:
    found = [p for h, p in state.proposals.items() if h.startswith(reference.lower())] if len(reference) >= 6 else []
    if len(found) != 1:
        raise NotFound(f"'{reference}' names no single proposal; use the id `apprentice guild show` lists.")
    return found[0]


def vote(guild_log: GuildLog, reference: str, choice: str) -> dict:
    if choice not in VOTES:
        raise BadInput(f"'{choice}' is not a vote; vote yes or no.")
    proposal = find_proposal(guild_log.state, reference)
    me = guild_log.state.person.get(guild_log.workshop.member, "")
    if me not in proposal.body.get("electorate", []):
        raise Conflict("You were not a member when this proposal was made, so it does not count your vote.")
    if me in proposal.votes:
        raise Conflict(f"You already voted {proposal.votes[me]} on this proposal; a vote cannot be changed.")
    return guild_log.append("vote", {"proposal": proposal.hash, "vote": choice})


def consent_changed(workshop: Workshop, works: list[str] | None = None) -> list[dict]:
    """Withdraw from each guild the works (default: all) its owner here no longer consents to share with it, and
    propose retraining every release that learned from them. Returns the records written.

    Run after every consent change and at every sync, so a change the guild missed is caught up."""
    written, scopes = [], stored_works.consents(workshop.catalog)
    for guild in guild_ids(workshop):
        guild_log = GuildLog(workshop, guild)
        state, me = guild_log.state, guild_log.state.person.get(workshop.member)
        mine = [w for w, owner in state.owners.items() if owner == me and w not in state.withdrawn]
        gone = [w for w in mine if (works is None or w in works) and consent.no_longer_lent(scopes.get(w), guild)]
        if not gone:
            continue
        clean = {h for h, release in state.releases.items() if not state.tainted(release)}
        written.append(guild_log.append("withdraw", {"works": sorted(gone)}))
        written += [
            retrain_proposal(guild_log, h, state.releases[h]) for h in sorted(clean) if state.tainted(state.releases[h])
        ]
    return written


def retrain_proposal(guild_log: GuildLog, digest: str, release: dict) -> dict:
    """The proposal to train a successor of a tainted release, as the one that made it, without the withdrawn works."""
    state = guild_log.state
    original = state.proposals[release["proposal"]].body
    because = "withdrawn: " + ", ".join(work[:12] for work in state.tainted(release))
    body = {k: original[k] for k in ("kind", "task", "task_kind", "contributors", "compute")}
    body |= electorate(state) | {"successor_of": digest, "because": because}
    return guild_log.append("proposal", body)
