"""Federated training's decisions in one process: what a proposal and a release may say, which examples a node
trains on at home, how refused nodes are named, and one member's local round. The processes are in
test_guild_federated.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from apprentice.guild import federation, flower_run, membership
from apprentice.guild import work as guild_work
from apprentice.guild.log import GuildLog
from apprentice.guild.records import record_hash, sign
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.kinds.network import PICKER_WEIGHTS
from apprentice.provenance.consent import set_consent
from apprentice.store.examples import example_records
from apprentice.store.workshop import Workshop
from apprentice.train.rounds import local_round, local_score
from apprentice.train.split import HOLDOUT, HeldOut, split_indices

from conftest import write_pair_folder


@pytest.fixture
def guild(tmp_path: Path) -> GuildLog:
    """Ada's one-member guild, her four ink pairs offered, and a passed federated proposal of 2 rounds she hosts."""
    shop = Workshop.init(tmp_path / "Ada", "Ada")
    shop.new_task("ink", "paired", get_kind("paired").default_config())
    add_examples(shop, "ink", [write_pair_folder(tmp_path / "pairs", 4, size=(32, 32))])
    guild_log = membership.create(shop, "Inkers", "https://127.0.0.1:9")
    guild_work.offer(guild_log, "ink")
    record = guild_work.propose(guild_log, "ink", [], None, 0.1, training="federated", rounds=2)
    guild_work.vote(guild_log, record_hash(record)[:12], "yes")
    return guild_log


def proposal(guild_log: GuildLog):
    return next(iter(guild_log.state.proposals.values()))


def release(guild_log: GuildLog, **changes) -> dict:
    state, me = guild_log.state, guild_log.workshop.member
    works = sorted(state.owners)
    body = {
        "proposal": proposal(guild_log).hash,
        "task": "ink",
        "apprentice": "0" * 16,
        "manifest_sha256": "1" * 64,
        "weights_sha256": "2" * 64,
        "owners": {me: {"name": "Ada", "examples": 4, "pixels": 1024}},
        "works": works,
        "training": "federated",
        "rounds": 2,
        "host": me,
        "took_part": {me: [1, 2]},
        "refused": [],
    }
    return body | changes


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({}, ""),
        ({"training": "pooled"}, "trained otherwise than its proposal"),
        ({"rounds": 3}, "host or rounds are not its proposal's"),
        ({"took_part": {"ab" * 32: [1]}}, "others than its contributors"),
        ({"took_part": {}, "rounds": 2, "host": "cd" * 32}, "host or rounds are not its proposal's"),
        ({"kept_round": 1, "took_part": {}}, ""),
        ({"kept_round": 3}, "releases a round it never ran"),
        ({"kept_round": 1}, "credits rounds after the one it releases"),
        ({"kept_round": 0}, "kept_round"),
        ({"kept_round": "2"}, "kept_round"),
    ],
    ids=[
        "honest",
        "says pooled",
        "other rounds",
        "a stranger's rounds",
        "another host",
        "an earlier round kept",
        "a round never run",
        "credit after the kept round",
        "round zero kept",
        "a kept round as text",
    ],
)
def test_a_federated_release_says_how_its_proposal_trained_and_credits_rounds_only_to_contributors(guild, changes, why):
    state, me = guild.state, guild.workshop.member
    record = sign(guild.workshop.identity, guild.id, state.heads[me][0] + 1, state.heads[me][1], "release", {})
    record = sign(
        guild.workshop.identity, guild.id, record["seq"], record["prev"], "release", release(guild, **changes)
    )
    verdict = state.verdict(record)
    assert (verdict.action, why in verdict.why) == (("ok", True) if not why else ("reject", True)), verdict


def test_a_node_trains_at_home_only_on_its_own_offered_examples_still_lent_to_the_guild(guild, tmp_path):
    shop, state = guild.workshop, guild.state
    records = example_records(shop.catalog, "ink")
    chosen = federation.examples_here(state, proposal(guild), records, shop.member, guild.id)
    assert [r.fingerprint for r in chosen] == [r.fingerprint for r in records]
    set_consent(shop, [str(tmp_path / "pairs" / "before" / "p1.png")], "withdrawn")
    again = federation.examples_here(
        GuildLog(shop, guild.id).state, proposal(guild), example_records(shop.catalog, "ink"), shop.member, guild.id
    )
    assert len(again) == 3, "a work withdrawn in this catalog leaves the next round, before the guild hears of it"
    stranger = Workshop.init(tmp_path / "Eve", "Eve")
    assert federation.examples_here(state, proposal(guild), records, stranger.member, guild.id) == []


def test_a_members_flower_node_is_announced_on_the_log_and_a_refused_node_is_named_by_it(guild):
    body = flower_run.announcement(guild, "127.0.0.1:9092")
    guild.append("flower", body)
    state, me = GuildLog(guild.workshop, guild.id).state, guild.workshop.member
    assert state.flower[me]["node_key"].startswith("ecdsa-sha2-nistp384 ")
    assert flower_run.announcement(GuildLog(guild.workshop, guild.id), "127.0.0.1:9092") is None, "said once"
    assert federation.node_keys(state, proposal(guild)) == {me: body["node_key"]}
    unknown = "ecdsa-sha2-nistp384 " + "A" * 40
    assert federation.refused_names(state, [body["node_key"], unknown]) == [
        "Ada",
        "an unannounced node (key …AAAAAAAAAAAA)",
    ]


def fresh_weights() -> dict[str, torch.Tensor]:
    """What the host sends before the first round: the default paired network's weights, seed 0."""
    torch.manual_seed(0)
    return get_kind("paired").network(get_kind("paired").default_config()).state_dict()


def test_a_local_round_trains_the_weights_it_was_sent_on_the_records_it_was_given(guild):
    shop, records, sent = guild.workshop, example_records(guild.workshop.catalog, "ink"), fresh_weights()
    made = local_round(shop, "ink", records, sent, 0.0, 0, 10)
    assert made.steps == 1 and set(made.trained_on) | set(made.held_out) == {r.fingerprint for r in records}
    assert any(not torch.equal(made.weights[name], sent[name]) for name in sent), "one step changed the weights"
    score = local_score(shop, "ink", records, made.weights, 0)
    assert score.examples == len(made.held_out) and score.psnr > 0


def test_a_nodes_next_round_goes_on_from_its_own_optimizer_moments_and_the_weights_it_is_sent(guild):
    shop, records, sent = guild.workshop, example_records(guild.workshop.catalog, "ink"), fresh_weights()
    first = local_round(shop, "ink", records, sent, 0.0, 0, 0)
    kept = safetensors.torch.load(safetensors.torch.save(first.moments))  # as the node keeps them between rounds
    second = local_round(shop, "ink", records, first.weights, 0.0, 0, first.steps, kept)
    assert all(float(second.moments[f"{i}.step"]) == first.steps + second.steps for i in range(len(sent)))
    afresh = local_round(shop, "ink", records, first.weights, 0.0, 0, first.steps)
    assert float(afresh.moments["0.step"]) == afresh.steps, "without moments: Adam starts again"
    assert not torch.equal(second.weights["head.weight"], afresh.weights["head.weight"])
    wrong = {name: value[..., :1] if value.dim() else value for name, value in first.moments.items()}
    assert float(local_round(shop, "ink", records, first.weights, 0.0, 0, 1, wrong).moments["0.step"]) == 1.0


def test_a_node_with_a_small_palette_keeps_a_picking_head_of_its_own_and_sends_only_the_shared_network(shop, tmp_path):
    """Each node judges its own palette, so its head fits no other node's: it stays home, and shapes the shared
    network's features through its own rounds."""
    import numpy as np
    from PIL import Image

    colours = np.array([[0, 0, 0, 0], [200, 40, 40, 255], [30, 20, 40, 255]], dtype=np.uint8)
    for number in range(4):
        blocks = np.random.default_rng(number).integers(0, 2, (8, 8))
        before = colours[np.kron(blocks, np.ones((4, 4), dtype=int))]
        after = np.where(before[..., 3:] > 0, colours[2], before)
        for role, image in (("before", before), ("after", after)):
            (tmp_path / role).mkdir(exist_ok=True)
            Image.fromarray(image).save(tmp_path / role / f"s{number}.png")
    shop.new_task("sprites", "paired", get_kind("paired").default_config())
    add_examples(shop, "sprites", [tmp_path])
    records = example_records(shop.catalog, "sprites")
    sent = fresh_weights()
    made = local_round(shop, "sprites", records, sent, 0.0, 0, 1)
    assert made.weights.keys() == sent.keys(), "only the shared network is sent"
    assert set(made.head) == set(PICKER_WEIGHTS) and len(made.head["palette"]) == 2, "its head, over its 2 colours"
    kept = safetensors.torch.load(safetensors.torch.save(made.head))  # as the node keeps it between rounds
    again = local_round(shop, "sprites", records, made.weights, 0.0, 0, 2, made.moments, head=kept)
    afresh = local_round(shop, "sprites", records, made.weights, 0.0, 0, 2, made.moments)
    assert not torch.equal(again.head["picker.weight"], afresh.head["picker.weight"]), "its next round goes on from it"
    assert local_score(shop, "sprites", records, made.weights, 0).psnr > 0


def test_the_host_of_a_federated_run_is_never_handed_a_picture(guild):
    state, me = guild.state, guild.workshop.member
    assert state.outcome(proposal(guild)) == "passed" and state.owners
    assert not any(state.may_receive_work(me, work) for work in state.owners), "only weight updates travel"


def test_the_commands_and_the_page_run_without_flower_which_only_federated_training_needs():
    code = "import sys, apprentice.cli, apprentice.web.app; sys.exit('flwr' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "Flower is an optional extra"


def test_flower_runs_with_its_telemetry_update_check_and_run_time_installs_off(tmp_path):
    env = flower_run.flower_env(tmp_path)
    assert env["FLWR_TELEMETRY_ENABLED"] == "0" and env["FLWR_DISABLE_UPDATE_CHECK"] == "1"
    assert env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] == "1" and env["FLWR_HOME"] == str(tmp_path)


def test_the_host_releases_the_round_that_scored_best_and_credits_only_the_rounds_up_to_it():
    """A later round can undo an earlier one (flats' aggregate fell from 31.5 to 26.6 dB in one round of
    bench/federated_rounds.py's split): the host releases its best round, as pooled training publishes its best step."""
    pytest.importorskip("flwr")
    from flwr.app import ArrayRecord

    from apprentice.guild.flower_apps import GuildFedAvg, Part

    strategy = GuildFedAvg({})
    for number, (who, psnr) in enumerate([(["ada", "ben"], 20.0), (["ada", "ben"], 25.0), (["ben"], 22.0)], 1):
        part = Part()
        for person in who:
            part.add(person, [f"{person}-work-{number}"], [f"{person}-held"], 10, True)
        strategy.parts[number] = part
        strategy.latest = ArrayRecord({"w": torch.full((2,), float(number))})
        strategy.scored(number, psnr)
    kept, arrays = strategy.kept()
    assert kept == 2 and torch.equal(arrays.to_torch_state_dict()["w"], torch.full((2,), 2.0))
    facts = strategy.facts(kept)
    assert facts["took_part"] == {"ada": [1, 2], "ben": [1, 2]}
    assert facts["trained_on"]["ben"] == ["ben-work-1", "ben-work-2"], "round 3's work is not in the release"
    assert (facts["steps"], facts["kept_round"]) == (40, 2)


def test_a_federated_run_holds_out_what_pooled_training_would_and_each_node_trains_on_the_rest(guild):
    """Both ways score the same examples; a node holding a fifth of its own few would hold back a third of the
    guild's examples where pooled holds back a fifth."""
    shop, records, sent = guild.workshop, example_records(guild.workshop.catalog, "ink"), fresh_weights()
    chosen = federation.held_out(guild.state, proposal(guild))
    pooled = split_indices([r.fingerprint for r in records], HOLDOUT)
    assert (set(chosen.fingerprints), chosen.among) == (set(pooled.not_trained), 4)
    made = local_round(shop, "ink", records, sent, 0.0, 0, 1, holdout=chosen)
    assert made.held_out == sorted(chosen.fingerprints) and not set(made.trained_on) & set(chosen.fingerprints)
    assert local_score(shop, "ink", records, made.weights, 0, chosen).examples == len(chosen.fingerprints)
    elsewhere = HeldOut(("e" * 64, "f" * 64), 12)  # the run's held-out examples are all on other members' nodes
    made = local_round(shop, "ink", records, sent, 0.0, 0, 1, holdout=elsewhere)
    assert (made.held_out, len(made.trained_on)) == ([], 4)
    assert local_score(shop, "ink", records, made.weights, 0, elsewhere).examples == 0, "nothing here to score"


def test_a_node_keeps_the_runs_held_out_examples_when_a_work_is_withdrawn_later(guild):
    """Chosen anew after a withdrawal, an example a node had trained on could move into scoring."""
    pytest.importorskip("flwr")
    from apprentice.guild.flower_apps import held_out_here

    shop, run = guild.workshop, proposal(guild)
    records = example_records(shop.catalog, "ink")
    first = held_out_here(shop, guild.state, run, records)
    withdrawn = guild.state.offers[first.fingerprints[0]]["parts"]["before"]["work"]
    guild.append("withdraw", {"works": [withdrawn]})
    later = GuildLog(shop, guild.id).state
    assert federation.held_out(later, run).fingerprints != first.fingerprints, "the guild's choice now differs"
    assert held_out_here(shop, later, run, records) == first


def test_the_host_counts_a_nodes_held_out_examples_only_when_they_are_its_own_offered_ones(guild, tmp_path):
    """A node that trained nothing may still score; one naming an example nobody offered is not counted at all."""
    pytest.importorskip("flwr")
    from types import SimpleNamespace

    from apprentice.guild.flower_apps import GuildFedAvg

    state, me = guild.state, guild.workshop.member
    plan = {"home": str(guild.workshop.root), "guild": guild.id, "proposal": proposal(guild).hash}
    strategy = GuildFedAvg(plan | {"nodes": {"7": state.person[me]}, "folder": str(tmp_path)})

    def reply(held: list[str]) -> SimpleNamespace:
        made = {
            "trained": {"trained_on": [""], "held_out": ["", *held], "gray": True},
            "arrays": {},
            "metrics": {"steps": 0},
        }
        return SimpleNamespace(has_error=lambda: False, metadata=SimpleNamespace(src_node_id=7), content=made)

    offered = sorted(state.offers)
    assert strategy.aggregate_train(1, [reply(offered[:1])]) == (None, None), "nothing trained, nothing averaged"
    assert strategy.parts[1].held_out == {state.person[me]: offered[:1]} and not strategy.parts[1].took_part
    strategy.aggregate_train(2, [reply([offered[0], "ab" * 32])])
    assert strategy.parts[2].held_out == {}, "an example nobody offered"


def test_a_node_whose_every_example_is_held_out_scores_and_is_credited_with_no_round():
    pytest.importorskip("flwr")
    from apprentice.guild.flower_apps import GuildFedAvg, Part

    strategy, part = GuildFedAvg({}), Part()
    part.add("ada", ["ada-work"], [], 10, True)
    part.add("ben", [], ["ben-held"], 0, True)
    strategy.parts[1] = part
    facts = strategy.facts(1)
    assert facts["took_part"] == {"ada": [1]} and facts["held_out"] == {"ada": [], "ben": ["ben-held"]}
    assert facts["steps"] == 10
