"""The guild's Flower apps: the ServerApp the host's SuperLink runs (FedAvg over the contributors' rounds, counting
only replies the log allows) and the ClientApp each contributor's SuperNode runs on its owner's own works.

Flower loads these by name (`apprentice.guild.flower_apps:server`, `:client`); they read their workshop from the
node's or the run's config, and a run's plan and result are files in the host's workshop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from safetensors.torch import load_file, save, save_file

from apprentice.files import write_atomically
from apprentice.guild import federation
from apprentice.guild.log import GuildLog
from apprentice.guild.run_files import (
    HEAD,
    HELD,
    HOST_PROGRESS,
    MOMENTS,
    RESULT,
    STEPS,
    WEIGHTS,
    note,
    run_folder,
)
from apprentice.guild.state import Proposal, State
from apprentice.kinds import get_kind
from apprentice.store.examples import ExampleRecord, example_records
from apprentice.store.workshop import Workshop
from apprentice.train.process import ready_for_training
from apprentice.train.rounds import local_round, local_score
from apprentice.train.split import HeldOut

# -- the host ---------------------------------------------------------------------------------------------------


class GuildFedAvg(FedAvg):
    """FedAvg weighted by examples, counting a reply only from a contributor's authenticated node, trained only on
    what that contributor offered and still lends; it keeps who took part in which round, and the aggregate that
    scored best on the contributors' held-out examples (a later round can undo an earlier one, as a late step can in
    pooled training, which publishes its best step too)."""

    def __init__(self, plan: dict, **settings: object) -> None:
        super().__init__(**settings)
        self.plan = plan
        self.parts: dict[int, Part] = {}
        self.rounds: list[dict] = []
        self.latest: ArrayRecord | None = None
        self.best: tuple[int, float, ArrayRecord] | None = None

    def state_now(self) -> tuple:
        guild_log = GuildLog(Workshop.open(Path(self.plan["home"])), self.plan["guild"])
        return guild_log.state, guild_log.state.proposals[self.plan["proposal"]]

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> tuple:
        state, proposal = self.state_now()
        counted, sent, part = [], 0, Part()
        for reply in replies:
            if reply.has_error():
                continue
            person, made = self.plan["nodes"].get(str(reply.metadata.src_node_id), ""), reply.content
            # the lists' first item is a placeholder: Flower's lists may not be empty
            trained, held = (list(made["trained"][key])[1:] for key in ("trained_on", "held_out"))
            sent += sum(len(array.data) for array in made["arrays"].values())
            if (trained or held) and federation.reply_counts(state, proposal, person, trained + held):
                part.add(person, trained, held, int(made["metrics"]["steps"]), bool(made["trained"]["gray"]))
                counted += [reply] if trained else []
        loss = [float(r.content["metrics"]["loss"]) for r in counted]
        self.parts[server_round] = part
        self.rounds.append({"round": server_round, "members": len(counted), "bytes_up": sent})
        note(
            Path(self.plan["folder"]),
            {"round": server_round, "members": len(counted), "loss": mean(loss)},
            HOST_PROGRESS,
        )
        arrays, metrics = super().aggregate_train(server_round, counted) if counted else (None, None)
        self.latest = arrays
        return arrays, metrics

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        scored = [r for r in replies if not r.has_error() and int(r.content["metrics"]["num-examples"]) > 0]
        metrics = super().aggregate_evaluate(server_round, scored) if scored else None
        if metrics is not None:
            facts = {name: float(metrics[name]) for name in ("psnr", "ssim", "identity_psnr")}
            self.rounds[-1].update(facts)
            note(Path(self.plan["folder"]), {"round": server_round, "held_out": facts}, HOST_PROGRESS)
            self.scored(server_round, facts["psnr"])
        return metrics

    def scored(self, server_round: int, psnr: float) -> None:
        """Keep this round's aggregate when it scores better on the held-out examples than every round before."""
        if self.latest is not None and (self.best is None or psnr > self.best[1]):
            self.best = (server_round, psnr, self.latest)

    def kept(self) -> tuple[int, ArrayRecord | None]:
        """(the round whose aggregate is released, its weights): the best scored, else the last trained."""
        if self.best is not None:
            return self.best[0], self.best[2]
        trained = [number for number, part in self.parts.items() if part.took_part]
        return (max(trained), self.latest) if trained else (0, None)

    def facts(self, kept: int) -> dict:
        """Who took part in which round, and what they trained on and held out, up to the `kept` round."""
        took_part: dict[str, list[int]] = {}
        trained_on: dict[str, set[str]] = {}
        held_out: dict[str, set[str]] = {}
        steps, gray = 0, True
        for number in sorted(n for n in self.parts if n <= kept):
            part = self.parts[number]
            for person in part.took_part:
                took_part.setdefault(person, []).append(number)
                trained_on.setdefault(person, set()).update(part.trained_on[person])
            for person, held in part.held_out.items():
                held_out.setdefault(person, set()).update(held)
            steps, gray = steps + part.steps, gray and part.gray
        return {
            "took_part": took_part,
            "trained_on": {person: sorted(fps) for person, fps in trained_on.items()},
            "held_out": {person: sorted(fps) for person, fps in held_out.items()},
            "steps": steps,
            "gray": gray,
            "kept_round": kept,
        }


class Part:
    """One round's counted replies: who trained, on what, how many steps, and what each held out to score."""

    def __init__(self) -> None:
        self.took_part: list[str] = []
        self.trained_on: dict[str, list[str]] = {}
        self.held_out: dict[str, list[str]] = {}
        self.steps, self.gray = 0, True

    def add(self, person: str, trained: list[str], held: list[str], steps: int, gray: bool) -> None:
        """Count a reply; one that trained on nothing (its every example held out for the run) only scores."""
        self.held_out[person] = held
        if trained:
            self.took_part.append(person)
            self.trained_on[person] = trained
            self.steps, self.gray = self.steps + steps, self.gray and gray


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


server = ServerApp()


@server.main()
def host(grid: Grid, context: Context) -> None:
    """Run the proposal's rounds with the contributors' nodes and write the result into the host's workshop."""
    plan = json.loads(Path(str(context.run_config["plan"])).read_text())
    torch.manual_seed(plan["seed"])
    kind = get_kind(plan["kind"])
    net = kind.network(kind.default_config() | plan["task_config"])
    everyone = len(plan["nodes"])
    strategy = GuildFedAvg(plan, min_train_nodes=everyone, min_evaluate_nodes=everyone, min_available_nodes=everyone)
    train_config = ConfigRecord({"seconds": float(plan["seconds"])})
    result = strategy.start(grid, ArrayRecord(net.state_dict()), plan["rounds"], plan["timeout"], train_config)
    kept, arrays = strategy.kept()
    arrays = result.arrays if arrays is None else arrays
    weights = arrays.to_torch_state_dict()
    bytes_down = sum(len(array.data) for array in arrays.values())
    folder = Path(plan["folder"])
    save_file({k: v.contiguous() for k, v in weights.items()}, str(folder / WEIGHTS))
    facts = strategy.facts(kept) | {"rounds": [r | {"bytes_down": bytes_down * r["members"]} for r in strategy.rounds]}
    write_atomically(folder / RESULT, json.dumps(facts).encode())


# -- each contributor -------------------------------------------------------------------------------------------


client = ClientApp()
KEPT = (MOMENTS, HEAD)  # what a node keeps between its rounds, on its own disk


def here(context: Context) -> tuple:
    """This node's workshop, the proposal the run trains, the examples it may train on now, and the run's held-out
    examples."""
    ready_for_training()  # Flower started this process: its edge is here
    shop = Workshop.open(Path(str(context.node_config["home"])))
    guild = str(context.node_config["guild"])
    state = GuildLog(shop, guild).state
    proposal = state.proposals.get(str(context.run_config["proposal"]))
    if proposal is None or state.outcome(proposal) != "passed":
        return shop, None, [], None
    records = federation.examples_here(
        state, proposal, example_records(shop.catalog, proposal.body["task"]), shop.member, guild
    )
    return shop, proposal, records, held_out_here(shop, state, proposal, records)


def held_out_here(shop: Workshop, state: State, proposal: Proposal, records: list[ExampleRecord]) -> HeldOut | None:
    """The examples the run holds out, across every contributor's (`federation.held_out`), chosen at this node's
    first round and kept for the run: a later withdrawal must not move an example it trained on into scoring.
    None for animations, where each node holds out its own as training does."""
    path = run_folder(shop, proposal.hash) / HELD
    if path.is_file():
        kept = json.loads(path.read_text())
        return HeldOut(tuple(kept["fingerprints"]), kept["among"]) if kept else None
    chosen = None if any(r.sequence for r in records) else federation.held_out(state, proposal)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(chosen and {"fingerprints": chosen.fingerprints, "among": chosen.among}).encode())
    return chosen


@client.train()
def train_here(msg: Message, context: Context) -> Message:
    """One round on this node's own consented examples (asked anew each round); nothing to train on: no part."""
    shop, proposal, records, holdout = here(context)
    round_, weights = int(msg.content["config"]["server-round"]), msg.content["arrays"].to_torch_state_dict()
    scored_only = holdout is not None and {r.fingerprint for r in records} <= set(holdout.fingerprints)
    if not records:
        made_weights, trained, held, steps, loss, gray = weights, [], [], 0, 0.0, True
        note(run_folder(shop, str(context.run_config["proposal"])), {"round": round_, "left": True})
    elif scored_only:  # every example here is held out for the run: this node scores, and trains nothing
        made_weights, trained, steps, loss, gray = weights, [], 0, 0.0, True
        held = [r.fingerprint for r in records]
        note(run_folder(shop, proposal.hash), {"round": round_, "examples": 0, "held_out": len(held)})
    else:
        folder = run_folder(shop, proposal.hash)
        done = int((folder / STEPS).read_text()) if (folder / STEPS).is_file() else 0
        seconds = float(msg.content["config"]["seconds"])
        moments, head = ({} if not (folder / name).is_file() else load_file(str(folder / name)) for name in KEPT)
        made = local_round(shop, proposal.body["task"], records, weights, seconds, 0, done, moments, holdout, head)
        write_atomically(folder / MOMENTS, save(made.moments))
        write_atomically(folder / HEAD, save(made.head))
        write_atomically(folder / STEPS, str(done + made.steps).encode())
        made_weights, trained, held, steps, loss, gray = (
            made.weights,
            made.trained_on,
            made.held_out,
            made.steps,
            made.loss,
            made.gray_output,
        )
        note(folder, {"round": round_, "examples": len(trained), "steps": steps, "loss": loss})
    content = RecordDict(
        {
            "arrays": ArrayRecord(made_weights),
            "metrics": MetricRecord({"num-examples": len(trained), "loss": loss, "steps": steps}),
            "trained": ConfigRecord({"trained_on": ["", *trained], "held_out": ["", *held], "gray": gray}),
        }
    )
    return Message(content, reply_to=msg)


@client.evaluate()
def score_here(msg: Message, context: Context) -> Message:
    """Score the aggregate on this node's own held-out examples (none when it has nothing left to train on)."""
    shop, proposal, records, holdout = here(context)
    facts = {"num-examples": 0, "psnr": 0.0, "ssim": 0.0, "identity_psnr": 0.0}
    if records:
        weights = msg.content["arrays"].to_torch_state_dict()
        score = local_score(shop, proposal.body["task"], records, weights, 0, holdout)
        facts = {"num-examples": score.examples, "psnr": score.psnr, "ssim": score.ssim}
        facts["identity_psnr"] = score.identity_psnr
        note(run_folder(shop, proposal.hash), {"round": int(msg.content["config"]["server-round"]), "held_out": facts})
    return Message(RecordDict({"metrics": MetricRecord(facts)}), reply_to=msg)
