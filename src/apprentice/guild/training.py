"""The pledged node trains what the guild passed and releases it: the proposal's consented examples, fetched from
their owners' nodes (every byte checked against its hash), trained under the proposal's own policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from apprentice.errors import Conflict, NotFound, Unreachable
from apprentice.guild.copies import store_example
from apprentice.guild.log import GuildLog
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.peers import Peer, member_keys
from apprentice.guild.state import Proposal, State
from apprentice.guild.work import works_of
from apprentice.kinds import DEFAULT_KIND, get_kind
from apprentice.provenance.manifest import Apprentice
from apprentice.store import examples as stored_examples
from apprentice.store.workshop import Task, Workshop
from apprentice.train.loop import Budget, Progress, TrainConfig, train


def local_task(state: State, task: str) -> str:
    """The name a guild's task has in a member's workshop: the guild's name, then the task's."""
    slug = re.sub(r"[^\w\-]+", "-", state.name).strip("-") or state.id[:12]
    return f"{slug}-{task}"[:64]


def pledged(guild_log: GuildLog, training: str = "pooled") -> list[Proposal]:
    """Passed training proposals (trained `training`ly) whose compute this member pledged, not yet released."""
    state, me = guild_log.state, guild_log.state.person.get(guild_log.workshop.member, "")
    answered = {release["proposal"] for release in state.releases.values()}
    return [
        p
        for h, p in state.proposals.items()
        if p.body.get("kind") == "train"
        and p.body["compute"]["member"] == me
        and p.body.get("training", "pooled") == training
        and h not in answered
        and state.outcome(p) == "passed"
    ]


def train_pledged(
    guild_log: GuildLog,
    on_progress: Callable[[Progress], None] | None = None,
    seed: int = 0,
    network: Network = SOCKETS,
) -> list[dict]:
    """Train every passed proposal pledged to this node and publish a release record for each."""
    releases = []
    for proposal in pledged(guild_log):
        name = gather_examples(guild_log, proposal, network)
        budget = Budget(minutes=float(proposal.body["compute"]["minutes"]))
        made = train(
            guild_log.workshop, name, budget, TrainConfig(seed=seed), True, on_progress, policy=passed(proposal)
        )
        releases.append(guild_log.append("release", release_body(proposal, made)))
    return releases


def passed(proposal: Proposal) -> Callable[[Task], None]:
    """The training policy of a guild's shared task: the members passed `proposal`, which pledged this machine."""

    def allow(task: Task) -> None:
        if task.config.get("guild") is None:
            raise Conflict(f"'{task.name}' is no guild's task, so proposal {proposal.hash[:12]} cannot train it.")

    return allow


def release_body(proposal: Proposal, made: Apprentice) -> dict:
    works = sorted({p["work"] for e in made.manifest["examples"] for p in e["parts"].values()})
    owners = {key: share for key, share in made.manifest["owners"].items()}
    return {
        "proposal": proposal.hash,
        "task": proposal.body["task"],
        "apprentice": made.id,
        "manifest_sha256": made.manifest_sha256,
        "weights_sha256": made.manifest["weights"]["sha256"],
        "owners": owners,
        "works": works,
    }


def gather_examples(guild_log: GuildLog, proposal: Proposal, network: Network = SOCKETS) -> str:
    """Fetch the consented examples the proposal names into a local task; the task's name."""
    state, shop = guild_log.state, guild_log.workshop
    body = proposal.body
    examples = state.consented(body["task"], body["contributors"])
    if not examples:
        raise NotFound(f"No consented examples of '{body['task']}' are left in guild {state.name} to train on.")
    config = body.get("task_config") if isinstance(body.get("task_config"), dict) else {}
    name = local_task(state, body["task"])
    ensure_task(shop, name, body.get("task_kind", DEFAULT_KIND), config | {"guild": guild_log.id})
    for example in examples:
        for work in works_of(example):
            if not shop.blobs.path(work).is_file():
                fetch_work(guild_log, example["owner"], work, network)
    with shop.catalog.write() as db:
        stored_examples.clear_examples(db, name)  # the proposal's set, exactly, consent read now
        for example in examples:
            store_example(db, state, name, example, guild_log.id, shop.member)
    return name


def ensure_task(shop: Workshop, name: str, kind: str, config: dict) -> None:
    """The guild's task in this workshop, made with the proposal's settings if it is new; its config names the
    guild, which lets its training read other members' works lent to that guild."""
    try:
        shop.task(name)
    except NotFound:
        shop.new_task(name, kind, get_kind(kind).default_config() | config)


def fetch_work(guild_log: GuildLog, owner: str, work: str, network: Network = SOCKETS) -> None:
    address = guild_log.state.addresses.get(owner, "")
    peer = Peer(guild_log.workshop, guild_log.id, address, network, keys=member_keys(guild_log.state, owner))
    try:
        data = peer.blob(f"/guild/{guild_log.id}/works/{work}", work)
    except Unreachable as error:
        name = guild_log.state.names.get(owner, owner[:12])
        raise Unreachable(
            f"{name}'s node at {address or '(no address)'} did not send work {work[:12]} ({error.why}); "
            "run `apprentice guild work` again when it is on.",
            address,
            error.why,
        ) from None
    finally:
        peer.close()
    guild_log.workshop.blobs.put(data)
