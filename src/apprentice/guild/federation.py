"""What a federated run may do, decided from the guild's log alone: who may join, which examples a node may train
on at home, which replies the host may count, and what the release says. No I/O.
"""

from __future__ import annotations

from apprentice.guild.state import Proposal, State
from apprentice.provenance import consent
from apprentice.store.examples import ExampleRecord
from apprentice.train.split import HeldOut, held_out_among


def is_federated(proposal: Proposal) -> bool:
    return proposal.body.get("kind") == "train" and proposal.body.get("training", "pooled") == "federated"


def host_of(proposal: Proposal) -> str:
    """The member whose node runs the aggregation (the proposal's pledged compute)."""
    return proposal.body["compute"]["member"]


def node_keys(state: State, proposal: Proposal) -> dict[str, str]:
    """Contributor → the Flower node key they announced on the log; only these nodes may join the run."""
    return {
        person: state.flower[person]["node_key"] for person in proposal.body["contributors"] if person in state.flower
    }


def announcer(state: State, node_key: str) -> str:
    """The member who announced `node_key` on the log ('' for a key nobody in the guild announced)."""
    return next((person for person, node in state.flower.items() if node["node_key"] == node_key), "")


def refused_names(state: State, refused: list[str]) -> list[str]:
    """How a guild names the nodes a host turned away: the member who announced the key, else the key's tail."""
    names = []
    for key in refused:
        person = announcer(state, key)
        names.append(state.names.get(person, person[:12]) if person else f"an unannounced node (key …{key[-12:]})")
    return names


def offered_here(state: State, proposal: Proposal, person: str) -> set[str]:
    """Fingerprints of `person`'s examples the guild may train this proposal on (offered for its task, none of its
    works withdrawn from the guild), as the log says now."""
    return {example["fingerprint"] for example in state.consented(proposal.body["task"], [person])}


def examples_here(
    state: State, proposal: Proposal, records: list[ExampleRecord], member: str, guild: str
) -> list[ExampleRecord]:
    """The examples of this node's member that a round may train on, asked at every round: offered on the log and
    still lent to the guild in this catalog (`consent.may_teach_here`)."""
    person = state.person.get(member, "")
    if person not in proposal.body["contributors"] or not is_federated(proposal):
        return []
    offered = offered_here(state, proposal, person)
    return [r for r in records if consent.may_teach_here(r, member, guild, r.fingerprint in offered)]


def held_out(state: State, proposal: Proposal) -> HeldOut | None:
    """The examples a run holds out: those pooled training would hold out of every contributor's offered examples
    (`train.split`), each scored on its owner's node; so both ways score the same examples, and a member offering one
    or two works trains on all of each or only scores, instead of holding out a quarter of each. None below three."""
    offered = state.consented(proposal.body["task"], proposal.body["contributors"])
    return held_out_among([example["fingerprint"] for example in offered])


def reply_counts(state: State, proposal: Proposal, person: str, fingerprints: list[str]) -> bool:
    """May the host count a node's round? Only from a contributor, trained on (and holding out) only examples the log
    says they offered for this task and have not withdrawn."""
    return person in proposal.body["contributors"] and set(fingerprints) <= offered_here(state, proposal, person)


def release_extras(
    proposal: Proposal, state: State, took_part: dict[str, list[int]], refused: list[str], kept: int
) -> dict:
    """What a federated release adds to a pooled one: how it trained, its rounds and host, who took part in the
    rounds up to the one whose aggregate it releases, and that round."""
    return {
        "training": "federated",
        "rounds": proposal.body["rounds"],
        "host": host_of(proposal),
        "took_part": {person: sorted(rounds) for person, rounds in sorted(took_part.items())},
        "kept_round": kept,
        "refused": sorted(set(refused)),
    }
