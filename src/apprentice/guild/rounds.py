"""Taking part in a passed federated proposal: announce this node's Flower keys on the log, then host the rounds
(and publish the release) or train at home as a contributor until the host releases.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from safetensors.torch import load_file

from apprentice.errors import Conflict, NotFound
from apprentice.guild import federation, flower_run
from apprentice.guild.copies import store_example
from apprentice.guild.log import GuildLog
from apprentice.guild.network import SOCKETS, Network
from apprentice.guild.peers import sync
from apprentice.guild.run_files import PROGRESS, WEIGHTS, run_folder
from apprentice.guild.state import Proposal
from apprentice.guild.training import ensure_task, local_task, release_body
from apprentice.kinds import get_kind
from apprentice.provenance.manifest import Trained, publish
from apprentice.store import examples as stored_examples
from apprentice.store.workshop import Workshop, now

FLOWER_PORT = 9092  # where a host's SuperLink listens, unless `guild work --flower-port` says otherwise
WAIT_SECONDS = 600.0  # for the other nodes to announce themselves, or the host to release


def waiting(workshop: Workshop, guild_id: str) -> list[Proposal]:
    """Passed federated proposals, not yet released, that name this member as their host or a contributor."""
    state = GuildLog(workshop, guild_id).state
    me, answered = state.person.get(workshop.member, ""), {r["proposal"] for r in state.releases.values()}
    return [
        p
        for p in state.proposals.values()
        if federation.is_federated(p)
        and p.hash not in answered
        and me in {federation.host_of(p), *p.body["contributors"]}
        and state.outcome(p) == "passed"
    ]


def take_part(
    workshop: Workshop,
    guild_id: str,
    on_line: Callable[[str], None],
    flower_port: int,
    network: Network = SOCKETS,
    wait: float = WAIT_SECONDS,
) -> list[dict]:
    """Do this node's part in every federated proposal waiting for it; the release records this node signed."""
    released, waiting_here = [], waiting(workshop, guild_id)
    if waiting_here and importlib.util.find_spec("flwr") is None:
        raise Conflict(
            "A federated proposal waits for your machine, but Flower is not installed; "
            "run `pip install 'apprentice[federated]'` and `apprentice guild work` again."
        )
    for proposal in waiting_here:
        announce(workshop, guild_id, flower_port, network)
        if federation.host_of(proposal) == GuildLog(workshop, guild_id).state.person[workshop.member]:
            released.append(host(workshop, guild_id, proposal, on_line, network, wait))
        else:
            contribute(workshop, guild_id, proposal, on_line, network, wait)
    return released


def announce(workshop: Workshop, guild_id: str, flower_port: int, network: Network) -> None:
    """Put this node's Flower keys (and where its SuperLink would listen) on the log, once, and tell the peers."""
    guild_log = GuildLog(workshop, guild_id)
    me = guild_log.state.person.get(workshop.member, "")
    host_name = urlsplit(guild_log.state.addresses.get(me, "")).hostname or "127.0.0.1"
    body = flower_run.announcement(guild_log, f"{host_name}:{flower_port}")
    if body is not None:
        guild_log.append("flower", body)
        sync(workshop, guild_id, network=network)


def caught_up(workshop: Workshop, guild_id: str, until: Callable[[GuildLog], bool], network: Network, wait: float):
    """The guild's log once `until` holds of it, syncing every second or two; the last one seen after `wait`."""
    deadline = time.monotonic() + wait
    while True:
        guild_log = GuildLog(workshop, guild_id)
        if until(guild_log) or time.monotonic() >= deadline:
            return guild_log
        time.sleep(1.0)
        sync(workshop, guild_id, network=network)


def host(
    workshop: Workshop, guild_id: str, proposal: Proposal, on_line: Callable[[str], None], network: Network, wait: float
) -> dict:
    """Wait for the contributors' keys, run the rounds on this node's SuperLink, publish and release."""
    everyone = set(proposal.body["contributors"])
    guild_log = caught_up(
        workshop, guild_id, lambda g: set(federation.node_keys(g.state, proposal)) >= everyone, network, wait
    )
    nodes = federation.node_keys(guild_log.state, proposal)
    if not nodes:
        raise NotFound(f"No contributor of proposal {proposal.hash[:12]} has announced a Flower node; try again later.")
    seconds = float(proposal.body["compute"]["minutes"]) * 60 / proposal.body["rounds"]
    me = guild_log.state.person[workshop.member]
    helper = None
    if me in nodes:  # the host trains on its own works too, through a SuperNode of its own
        own = Workshop.open(workshop.root)  # its own connections: SQLite's are not shared between threads
        helper = threading.Thread(target=contribute, args=(own, guild_id, proposal, on_line, network, wait))
        helper.start()
    started = time.monotonic()
    try:
        result, refused, folder = flower_run.host(guild_log, proposal, nodes, seconds, on_line)
        record = release(GuildLog(workshop, guild_id), proposal, result, refused, folder, time.monotonic() - started)
        sync(workshop, guild_id, network=network)
    finally:
        if helper is not None:  # the host's own SuperNode stops once it sees the release (or its wait runs out)
            helper.join()
    return record


def contribute(
    workshop: Workshop, guild_id: str, proposal: Proposal, on_line: Callable[[str], None], network: Network, wait: float
) -> None:
    """Train at home through a SuperNode connected to the host, until the host's release (or `wait`) comes."""
    host_person = federation.host_of(proposal)
    guild_log = caught_up(workshop, guild_id, lambda g: host_person in g.state.flower, network, wait)
    if host_person not in guild_log.state.flower:
        raise NotFound(f"The host of proposal {proposal.hash[:12]} has not announced its Flower node yet.")

    progress, shown, checked, done = run_folder(workshop, proposal.hash) / PROGRESS, [], [0.0], []

    def released() -> bool:
        """Show this node's new progress; whether the host has released yet (asked of the peers every 3 s)."""
        lines = progress.read_text().splitlines() if progress.is_file() else []
        for line in lines[len(shown) :]:
            shown.append(line)
            on_line("apprentice-round " + line)
        if done or time.monotonic() - checked[0] < 3:
            return bool(done)
        checked[0] = time.monotonic()
        sync(workshop, guild_id, network=network)
        state = GuildLog(workshop, guild_id).state
        done.extend(h for h, r in state.releases.items() if r["proposal"] == proposal.hash)
        return bool(done)

    flower_run.contribute(guild_log, proposal, released, wait + float(proposal.body["compute"]["minutes"]) * 60)
    released()


def release(
    guild_log: GuildLog, proposal: Proposal, result: dict, refused: list[str], folder: Path, seconds: float
) -> dict:
    """Publish the aggregate as the guild's apprentice, with a manifest of every work it learned from, and sign the
    release: the pooled release's facts, and how it trained, its rounds, host, and who took part in which round."""
    state, shop, body = guild_log.state, guild_log.workshop, proposal.body
    used = {fp for fps in result["trained_on"].values() for fp in fps}
    held = {fp for fps in result["held_out"].values() for fp in fps}
    if not used:
        raise Conflict(f"No contributor trained a round of proposal {proposal.hash[:12]}, so nothing is released.")
    name = local_task(state, body["task"])
    ensure_task(shop, name, body["task_kind"], (body.get("task_config") or {}) | {"guild": guild_log.id})
    with shop.catalog.write() as db:
        stored_examples.clear_examples(db, name)
        for fingerprint in sorted(used | held):
            store_example(
                db, state, name, {"fingerprint": fingerprint} | state.offers[fingerprint], guild_log.id, shop.member
            )
    records = [r for r in stored_examples.example_records(shop.catalog, name) if r.fingerprint in used | held]
    made = publish(
        shop, trained(proposal, result, records, sorted(held), load_file(str(folder / WEIGHTS)), name, seconds)
    )
    extras = federation.release_extras(proposal, state, result["took_part"], refused, result["kept_round"])
    return guild_log.append("release", release_body(proposal, made) | extras)


def trained(
    proposal: Proposal, result: dict, records: list, held: list[str], weights: dict, name: str, seconds: float
) -> Trained:
    """What `publish` takes from a federated run: the kept round's aggregate, and the held-out scores its contributors
    reported for it."""
    body, kept = proposal.body, result["kept_round"]
    last = next((r for r in reversed(result["rounds"]) if "psnr" in r and r["round"] <= kept), {})
    kind = get_kind(body["task_kind"])
    metrics = {
        "validation": "held-out examples chosen across the contributors as a pooled run would (animations: each node's"
        " own), each scored on its owner's node",
        "best": {"psnr": last.get("psnr"), "ssim": last.get("ssim"), "step": result["steps"]},
        "identity": {"psnr": last.get("identity_psnr", 0.0)},
        "baseline": kind.baseline_name,
    }
    settings = {
        "training": "federated",
        "aggregation": "FedAvg, weighted by examples",
        "rounds": body["rounds"],
        "kept_round": kept,  # the round whose aggregate scored best on the contributors' held-out examples
        "host": federation.host_of(proposal),
        "took_part": result["took_part"],
        "round_facts": result["rounds"],
    }
    return Trained(name, weights, records, held, settings, result["steps"], seconds, metrics, result["gray"], now())
