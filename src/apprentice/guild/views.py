"""What a member sees of a guild: members, proposals with their outcomes and votes, releases with contributors.

One plain dict, shared by `apprentice guild show` and the web page.
"""

from __future__ import annotations

from apprentice.guild import federation, run_files
from apprentice.guild.log import GuildLog
from apprentice.guild.state import Proposal, State
from apprentice.store.apprentices import apprentice_ids
from apprentice.store.workshop import Workshop


def guild_view(guild_log: GuildLog) -> dict:
    state, shop = guild_log.state, guild_log.workshop
    me = state.person.get(shop.member, shop.member)
    forked = {row["author"] for row in guild_log.forks()}
    have = apprentice_ids(shop.catalog)
    return {
        "id": state.id,
        "name": state.name,
        "charter": {k: state.charter.get(k) for k in ("join", "quorum", "threshold")},
        "me": me,
        "members": [
            {
                "id": person,
                "name": state.names.get(person, person[:12]),
                "key": state.current[person],
                "address": state.addresses.get(person, ""),
                "forked": bool({person, state.current[person]} & forked),
            }
            for person in state.members()
        ],
        "waiting": [{"key": key, "name": state.names.get(key, key[:12])} for key in state.pending],
        "proposals": newest_first([proposal_view(state, p, me, shop) for p in state.proposals.values()]),
        "releases": newest_first([release_view(state, h, r, have) for h, r in state.releases.items()]),
        "forks": guild_log.forks(),
    }


def newest_first(views: list[dict]) -> list[dict]:
    """By signing time, newest first; within one second, the later in this node's log first."""
    return [view for _, view in sorted(enumerate(views), key=lambda pair: (pair[1]["at"], pair[0]), reverse=True)]


def proposal_view(state: State, proposal: Proposal, me: str, shop: Workshop) -> dict:
    body, name = proposal.body, lambda person: state.names.get(person, person[:12])
    votes = {name(person): vote for person, vote in proposal.votes.items() if person in body.get("electorate", [])}
    view = {
        "id": proposal.hash,
        "kind": body.get("kind"),
        "by": name(proposal.author),
        "at": proposal.at,
        "outcome": state.outcome(proposal),
        "electorate": len(body.get("electorate", [])),
        "votes": votes,
        "my_vote": proposal.votes.get(me),
        "may_vote": me in body.get("electorate", []) and me not in proposal.votes,
    }
    if body.get("kind") == "train":
        compute = body["compute"]
        view |= {
            "task": body["task"],
            "contributors": [name(person) for person in body["contributors"]],
            "compute": {"member": name(compute["member"]), "minutes": compute.get("minutes")},
            "training": body.get("training", "pooled"),
            "rounds": body.get("rounds"),
            "progress": run_files.progress(shop, proposal.hash) if body.get("training") == "federated" else [],
            "because": body.get("because", ""),
            "successor_of": body.get("successor_of", ""),
        }
    return view


def release_view(state: State, digest: str, release: dict, have: set[str]) -> dict:
    owners = release.get("owners", {})
    pixels = sum(share.get("pixels", 0) for share in owners.values()) or 1
    return {
        "id": digest,
        "task": release["task"],
        "apprentice": release["apprentice"],
        "trained_by": state.names.get(release["author"], release["author"][:12]),
        "at": release["at"],
        "contributors": [
            {
                "name": state.names.get(key, share.get("name", key[:12])),
                "examples": share.get("examples", 0),
                "share": round(share.get("pixels", 0) / pixels, 3),
            }
            for key, share in owners.items()
        ],
        "tainted_by": state.tainted(release),
        "fetched": release["apprentice"] in have,
    } | federated_view(state, release)


def federated_view(state: State, release: dict) -> dict:
    """How a release trained: pooled on one machine, or federated (its host, rounds, who took part in which, and
    the nodes the host turned away, named by the member who announced their key)."""
    if release.get("training", "pooled") != "federated":
        return {"training": "pooled"}
    name = lambda person: state.names.get(state.person.get(person, person), person[:12])  # noqa: E731
    return {
        "training": "federated",
        "host": name(release["host"]),
        "rounds": release["rounds"],
        "kept_round": release.get("kept_round") or release["rounds"],
        "took_part": {name(person): rounds for person, rounds in release.get("took_part", {}).items()},
        "refused": federation.refused_names(state, release.get("refused", [])),
    }
