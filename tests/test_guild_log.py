"""The guild's log in one process: what it accepts, what it refuses and names, and what every node folds it to."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import httpx
import pytest

from apprentice.errors import BadInput, Conflict
from apprentice.guild import membership, releases, training
from apprentice.guild import work as guild_work
from apprentice.guild.log import GuildLog
from apprentice.guild.peers import Peer
from apprentice.guild.records import decode_invite, record_hash, sign
from apprentice.guild.rotation import rotate_key
from apprentice.guild.schemas import released_manifest
from apprentice.guild.state import Proposal, State, electorate
from apprentice.identity import canonical
from apprentice.imports import add_examples
from apprentice.kinds import get_kind
from apprentice.provenance.consent import set_consent
from apprentice.store.workshop import Workshop
from apprentice.train.examples import gather
from apprentice.train.loop import Budget, TrainConfig, train

from conftest import write_pair_folder
from guild_network import MemoryNetwork

ADDRESS = "http://127.0.0.1:9"


def workshop(tmp_path: Path, name: str) -> Workshop:
    return Workshop.init(tmp_path / name, name)


def joined(founder_log: GuildLog, newcomer: Workshop) -> dict:
    """A join record by `newcomer` with a fresh invite from the founder, as `guild join` signs it."""
    invite = decode_invite(membership.invite(founder_log))
    body = {"invite": invite, "name": newcomer.member_name(newcomer.member), "address": "http://127.0.0.1:10"}
    return sign(newcomer.identity, founder_log.id, 1, "", "join", body)


@pytest.fixture
def guild(tmp_path) -> GuildLog:
    return membership.create(workshop(tmp_path, "Ada"), "Inkers", ADDRESS)


def test_a_guilds_id_is_its_charters_hash_and_its_founder_is_its_first_member(guild):
    charter = guild.records_after(guild.workshop.member, 0)[0]
    assert record_hash(charter) == guild.id and charter["type"] == "charter"
    assert guild.state.members() == [guild.workshop.member] and guild.state.name == "Inkers"


def test_a_member_joins_with_an_invite_and_the_same_invite_cannot_be_used_twice(guild, tmp_path):
    ben, cleo = workshop(tmp_path, "Ben"), workshop(tmp_path, "Cleo")
    join = joined(guild, ben)
    assert guild.take([join], "test").accepted == 1
    assert guild.state.is_member(ben.member) and guild.state.names[ben.member] == "Ben"
    reused = sign(cleo.identity, guild.id, 1, "", "join", join["body"] | {"name": "Cleo"})
    intake = guild.take([reused], "test")
    assert intake.accepted == 0 and "already used" in intake.refused[0]["why"]


def test_forged_replayed_forked_and_outsiders_records_are_refused_and_named_in_the_log(guild, tmp_path, caplog):
    ben, stranger = workshop(tmp_path, "Ben"), workshop(tmp_path, "Mallory")
    guild.take([joined(guild, ben)], "test")
    vote = sign(ben.identity, guild.id, 2, guild.state.heads[ben.member][1], "address", {"address": "http://b"})
    forged = vote | {"body": {"address": "http://mallory"}}
    outsider = sign(stranger.identity, guild.id, 1, "", "address", {"address": "http://m"})
    elsewhere = membership.create(workshop(tmp_path, "Zed"), "Other guild", ADDRESS)
    foreign = elsewhere.records_after(elsewhere.workshop.member, 0)[0] | {}
    foreign = sign(elsewhere.workshop.identity, elsewhere.id, 2, foreign["prev"], "address", {"address": "http://x"})
    with caplog.at_level(logging.INFO, logger="apprentice.guild"):
        assert guild.take([forged], "node-f").refused[0]["why"].startswith("its signature does not match")
        assert guild.take([outsider], "node-o").refused[0]["why"] == "its author is not a member of the guild"
        assert "another guild" in guild.take([foreign], "node-r").refused[0]["why"]
        assert guild.take([vote], "node-b").accepted == 1
        assert guild.take([vote], "node-b").duplicates == 1
        fork = sign(ben.identity, guild.id, 2, vote["prev"], "address", {"address": "http://elsewhere"})
        assert guild.take([fork], "node-k").refused[0]["action"] == "fork"
    lines = caplog.text
    assert "rejected record address" in lines and "from node-f: its signature does not match" in lines
    assert (
        "from node-o: its author is not a member" in lines and "from node-r: it was signed for another guild" in lines
    )
    assert "ignored replayed record address" in lines and "rejected forked record address" in lines
    assert guild.state.addresses[ben.member] == "http://b", "the first record at a place stays"
    assert [fork["author"] for fork in guild.forks()] == [ben.member]


def test_a_node_whose_key_forked_its_own_chain_refuses_to_sign_more(guild, tmp_path):
    ada = guild.workshop
    seq, prev = guild.state.heads[ada.member]
    first = guild.append("address", {"address": "http://one"})
    second = sign(ada.identity, guild.id, seq + 1, prev, "address", {"address": "http://two"})  # the other device
    assert first["seq"] == second["seq"]
    guild.take([second], "the other device")
    with pytest.raises(Conflict, match="restored backup"):
        guild.append("address", {"address": "http://three"})


def test_a_signed_record_with_a_malformed_body_is_refused_not_folded(guild):
    seq, prev = guild.state.heads[guild.workshop.member]
    bad = sign(guild.workshop.identity, guild.id, seq + 1, prev, "vote", {"proposal": 7})
    intake = guild.take([bad, "not a record"], "test")
    assert intake.accepted == 0 and len(intake.refused) == 2
    assert "its vote's proposal is malformed" in " ".join(r["why"] for r in intake.refused)


def test_records_that_wait_on_others_land_once_those_arrive_in_the_same_batch(guild, tmp_path):
    ben, cleo = workshop(tmp_path, "Ben"), workshop(tmp_path, "Cleo")
    ben_join = joined(guild, ben)
    guild.take([ben_join], "test")
    ben_log = GuildLog(ben, guild.id)
    with ben.catalog.write() as db:
        db.execute("INSERT INTO guilds (id, name, joined_at) VALUES (?, 'Inkers', '')", (guild.id,))
    ben_log.take(guild.records_after(guild.workshop.member, 0) + [ben_join], "ada")
    cleo_join = joined(ben_log, cleo)  # invited by Ben, whose own join the receiver has not seen yet
    fresh = workshop(tmp_path, "Dora")
    with fresh.catalog.write() as db:
        db.execute("INSERT INTO guilds (id, name, joined_at) VALUES (?, 'Inkers', '')", (guild.id,))
    everything = [cleo_join, *ben_log.records_after(ben.member, 0), *guild.records_after(guild.workshop.member, 0)]
    intake = GuildLog(fresh, guild.id).take(everything, "relay")
    assert intake.accepted == len(everything) and GuildLog(fresh, guild.id).state.is_member(cleo.member)


@pytest.mark.parametrize(
    ("electorate", "yes", "no", "quorum", "threshold", "outcome"),
    [
        (3, 2, 0, 0.5, 0.5, "passed"),  # the third vote cannot undo a majority of the whole electorate
        (3, 1, 0, 0.5, 0.5, "open"),
        (3, 1, 2, 0.5, 0.5, "rejected"),
        (4, 2, 0, 0.5, 0.5, "open"),  # two no votes would tie it, and a tie is not more than half
        (4, 3, 0, 1.0, 0.5, "open"),  # everyone must vote
        (4, 3, 1, 1.0, 0.5, "passed"),
        (1, 1, 0, 0.5, 0.5, "passed"),
        (5, 2, 0, 0.5, 0.75, "open"),
        (5, 1, 2, 0.5, 0.75, "rejected"),  # 3 of 5 no longer possible above 75 %
    ],
)
def test_a_proposals_outcome_is_decided_once_no_further_vote_could_change_it(
    electorate, yes, no, quorum, threshold, outcome
):
    people = [f"m{i}" for i in range(electorate)]
    state = State("g", charter={"quorum": quorum, "threshold": threshold})
    votes = dict(zip(people, ["yes"] * yes + ["no"] * no, strict=False))
    assert state.outcome(Proposal("p", "m0", {"electorate": people}, "", votes)) == outcome


def test_under_a_vote_charter_a_newcomer_waits_until_the_members_admit_them(tmp_path):
    founded = membership.create(workshop(tmp_path, "Ada"), "Voters", ADDRESS, join="vote")
    ben = workshop(tmp_path, "Ben")
    join = joined(founded, ben)  # the invite opened an admission vote
    founded.take([join], "ben")
    assert ben.member in founded.state.pending and not founded.state.is_member(ben.member)
    early = sign(ben.identity, founded.id, 2, record_hash(join), "address", {"address": "http://b"})
    assert founded.take([early], "ben").waiting == 1
    admission = next(iter(founded.state.proposals))
    founded.append("vote", {"proposal": admission, "vote": "yes"})
    assert founded.state.is_member(ben.member)
    assert founded.take([early], "ben").accepted == 1


def test_a_member_certifies_a_new_key_with_the_old_and_keeps_their_place(guild, tmp_path):
    ben, new_ben = workshop(tmp_path, "Ben"), workshop(tmp_path, "Ben-laptop")
    guild.take([joined(guild, ben)], "test")
    seq, prev = guild.state.heads[ben.member]
    rotate = sign(ben.identity, guild.id, seq + 1, prev, "rotate", {"new_key": new_ben.member})
    rotated = sign(new_ben.identity, guild.id, 1, "", "rotated", {"old_key": ben.member, "rotate": record_hash(rotate)})
    assert guild.take([rotated, rotate], "test").accepted == 2
    assert guild.state.is_member(new_ben.member) and not guild.state.is_member(ben.member)
    assert guild.state.person[new_ben.member] == ben.member and ben.member in guild.state.members()
    stale = sign(ben.identity, guild.id, seq + 2, record_hash(rotate), "address", {"address": "http://old"})
    assert "replaced by a newer one" in guild.take([stale], "test").refused[0]["why"]


def test_canonical_json_does_not_depend_on_key_order_or_spacing():
    assert canonical({"b": 1, "a": [1, {"d": "é", "c": None}]}) == canonical(
        json.loads('{"a":[1,{"c":null,"d":"é"}],"b":1}')
    )


def test_a_proposal_must_put_every_member_it_had_seen_to_the_vote(guild, tmp_path):
    ben = workshop(tmp_path, "Ben")
    join = joined(guild, ben)
    guild.take([join], "test")
    body = {"kind": "admit", "nonce": "0f" * 8}
    alone = body | {"electorate": [ben.member], "seen": guild.state.cut()}
    packed = sign(ben.identity, guild.id, 2, record_hash(join), "proposal", alone)
    assert "not the guild's members" in guild.take([packed], "ben").refused[0]["why"]
    ahead = body | electorate(guild.state) | {"seen": guild.state.cut() | {ben.member: 5}}
    early = sign(ben.identity, guild.id, 2, record_hash(join), "proposal", ahead)
    assert guild.take([early], "ben").waiting == 1, "made after records this node lacks: it waits for them"
    fair = sign(ben.identity, guild.id, 2, record_hash(join), "proposal", body | electorate(guild.state))
    assert guild.take([fair], "ben").accepted == 1


def test_a_consent_change_the_guild_missed_is_withdrawn_there_at_the_next_reconcile(guild, tmp_path):
    shop = guild.workshop
    shop.new_task("ink", "paired", get_kind("paired").default_config())
    add_examples(shop, "ink", [write_pair_folder(tmp_path / "pairs", 2)])
    offered = guild_work.offer(guild, "ink")
    works = sorted({p["work"] for e in offered["body"]["examples"] for p in e["parts"].values()})
    assert {row["consent"] for row in shop.catalog.rows("SELECT consent FROM works")} == {f"guild:{guild.id}"}
    set_consent(shop, [works[0]], "own")  # changed without telling the guild (another tool, a crash)
    written = guild_work.consent_changed(shop)
    assert [r["type"] for r in written] == ["withdraw"] and written[0]["body"]["works"] == [works[0]]
    assert guild_work.consent_changed(shop) == [], "told once"
    assert GuildLog(shop, guild.id).state.withdrawn == {works[0]}


def test_another_members_lent_work_trains_only_the_guilds_task_never_a_task_of_ones_own(guild, tmp_path):
    shop = guild.workshop
    add_examples_as = [("ink", {}), ("Inkers-ink", {"guild": guild.id})]
    for name, extra in add_examples_as:
        shop.new_task(name, "paired", get_kind("paired").default_config() | extra)
        add_examples(shop, name, [write_pair_folder(tmp_path / "pairs", 2)])
    with shop.catalog.write() as db:  # as a pledged node holds them: Ben's works, lent to the guild
        db.execute("INSERT INTO members (key, name, created_at) VALUES ('ben', 'Ben', '')")
        db.execute(f"UPDATE works SET owner = 'ben', consent = 'guild:{guild.id}'")
    assert gather(shop, "ink") == []
    assert len(gather(shop, "Inkers-ink")) == 2
    with shop.catalog.write() as db:
        db.execute("UPDATE works SET consent = 'guild:another'")
    assert gather(shop, "Inkers-ink") == []


def test_a_rotated_key_keeps_the_members_place_works_and_consent(guild, tmp_path):
    ada, ben = guild.workshop, workshop(tmp_path, "Ben")
    guild.take([joined(guild, ben)], "test")
    ada.new_task("ink", "paired", get_kind("paired").default_config())
    add_examples(ada, "ink", [write_pair_folder(tmp_path / "pairs", 1)])
    guild_work.offer(guild, "ink")
    old = ada.member
    new = rotate_key(ada)
    assert (
        ada.member == new == Workshop.open(ada.root).member and (ada.root / f"identity-{old[:12]}.retired.key").exists()
    )
    state = GuildLog(ada, guild.id).state
    assert state.is_member(new) and not state.is_member(old) and state.members() == [old, ben.member]
    assert {row["owner"] for row in ada.catalog.rows("SELECT owner FROM works")} == {new}
    work = ada.catalog.rows("SELECT id FROM works")[0]["id"]
    set_consent(ada, [work], "withdrawn")  # only the owner may: the new key is the owner now
    assert [r["type"] for r in guild_work.consent_changed(ada)] == ["withdraw"]
    ben_log = GuildLog(ben, guild.id)
    with ben.catalog.write() as db:
        db.execute("INSERT INTO guilds (id, name, joined_at) VALUES (?, 'Inkers', '')", (guild.id,))
    everything = [
        r for author in GuildLog(ada, guild.id).heads() for r in GuildLog(ada, guild.id).records_after(author, 0)
    ]
    assert ben_log.take(everything, "ada").accepted == len(everything)
    assert GuildLog(ben, guild.id).state.withdrawn == {work}
    assert rotate_key(ada) != new, "a second rotation moves on again"


def test_a_release_whose_manifest_names_other_works_than_its_record_is_refused(guild, tmp_path):
    shop = guild.workshop
    config = get_kind("paired").default_config()
    config["net"] |= {"width": 8, "deep_width": 16, "blocks": 1}
    shop.new_task("ink", "paired", config)
    add_examples(shop, "ink", [write_pair_folder(tmp_path / "pairs", 2)])
    guild_work.offer(guild, "ink")
    made = train(shop, "ink", Budget(steps=2), TrainConfig(patch=16, batch=2, validate_every=1))
    manifest, weights = (made.folder / "manifest.json").read_bytes(), (made.folder / "weights.safetensors").read_bytes()
    release = training.release_body(Proposal("p", shop.member, {"task": "ink"}, ""), made)
    assert len(release["works"]) == 4 and release["manifest_sha256"] == made.manifest_sha256
    with pytest.raises(BadInput, match="does not match its release record"):
        releases.install(guild, release | {"works": release["works"][:3]}, manifest, weights)
    planted = json.loads(manifest)
    planted["examples"][0]["parts"]["before"]["owner"] = "ab" * 32  # a key the guild never saw offer that work
    with pytest.raises(BadInput, match="does not match its release record"):
        releases.install(guild, release, json.dumps(planted).encode(), weights)
    for finish in ({"sure": "x"}, {"sure": 2.0}, {"paper": "white"}, {"palette": [[0, 0, 0, 999]]}, {"picks": 1}):
        planted = json.loads(manifest)  # a finish every apply and card would trip over
        planted["output"]["finish"] |= finish
        with pytest.raises(BadInput, match="does not match its release record"):
            releases.install(guild, release, json.dumps(planted).encode(), weights)
    assert released_manifest(manifest).output.finish.palette, "the honest finish reads as it was written"


def test_a_file_whose_bytes_do_not_hash_to_the_log_is_refused(guild):
    def node(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/challenge"):
            return httpx.Response(200, json={"nonce": "0f" * 16})
        assert request.headers["X-Apprentice-Member"] == guild.workshop.member
        return httpx.Response(200, content=b"not the drawing that was offered")

    network = MemoryNetwork()
    network.answers["http://127.0.0.1:9"] = node
    expected = hashlib.sha256(b"the drawing").hexdigest()
    peer = Peer(guild.workshop, guild.id, "http://127.0.0.1:9", network)
    with peer, pytest.raises(BadInput, match="do not match the guild's record"):
        peer.blob(f"/guild/{guild.id}/works/{expected}", expected)


def test_a_record_another_process_stored_meanwhile_is_not_stored_twice(guild, tmp_path):
    join = joined(guild, workshop(tmp_path, "Ben"))
    stale = GuildLog(guild.workshop, guild.id)
    assert stale.state.verdict(join).action == "ok"  # folded before the other sync lands the record
    assert guild.take([join], "one sync").accepted == 1
    intake = stale.take([join], "another sync")
    assert (intake.accepted, intake.duplicates) == (0, 1) and stale.state.is_member(join["author"])
