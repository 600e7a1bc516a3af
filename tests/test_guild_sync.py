"""Guild sync between member nodes in one process: each node's web app answers at its address on an in-memory
network, so founding, voting, training, releases, withdrawal, relays and hostile peers are proven in seconds."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable

import httpx
import pytest

from apprentice.errors import Conflict, Unreachable
from apprentice.guild import training
from apprentice.guild import work as guild_work
from apprentice.guild.log import GuildLog, guild_ids
from apprentice.guild.peers import Peer, remember_peer
from apprentice.guild.records import record_hash, sign
from apprentice.guild.views import guild_view
from apprentice.identity import Identity
from apprentice.provenance.consent import set_consent
from apprentice.store.workshop import Workshop

from guild_network import Member, found_guild, members


@pytest.fixture
def trio(tmp_path):
    made = members(tmp_path, ["Ada", "Ben", "Cleo"])
    for number, member in enumerate(made):
        member.add_drawings("ink", 3, seed=10 * number)
    yield made
    for member in made:
        member.close()


@pytest.fixture
def pair(tmp_path):
    made = members(tmp_path, ["Ada", "Ben"])
    found_guild(*made)
    yield made
    for member in made:
        member.close()


def pledged_to_ben(trio: list[Member]) -> str:
    """The trio's guild, each member's drawings offered, and a proposal to train them on Ben's machine passed by
    Ada and Cleo; the proposal's id."""
    ada, ben, cleo = trio
    found_guild(ada, ben, cleo)
    for member in trio:
        member.says(guild_work.offer, "ink")
    digest = record_hash(ada.says(guild_work.propose, "ink", [], "Ben", 0.02))
    for member in (ada, cleo):
        member.says(guild_work.vote, digest[:12], "yes")
    ben.sync()
    return digest


def names(member: Member) -> list[str]:
    return [m["name"] for m in guild_view(member.log())["members"]]


def test_founding_joining_offers_and_votes_reach_the_same_log_and_outcome_on_every_node(trio):
    ada, ben, cleo = trio
    found_guild(ada, ben, cleo)  # Cleo is invited by Ben
    for member in trio:
        member.says(guild_work.offer, "ink")
    proposal = ada.says(guild_work.propose, "ink", [], "Ben", 0.05)
    digest = record_hash(proposal)
    ada.says(guild_work.vote, digest[:12], "yes")
    assert ada.log().state.outcome(ada.log().state.proposals[digest]) == "open"
    cleo.says(guild_work.vote, digest[:12], "yes")
    for member in trio:
        member.sync()
    heads = ada.log().heads()
    for member in trio:
        view = guild_view(member.log())
        assert [m["name"] for m in view["members"]] == ["Ada", "Ben", "Cleo"]
        assert [(p["outcome"], p["votes"]) for p in view["proposals"]] == [("passed", {"Ada": "yes", "Cleo": "yes"})]
        assert member.log().heads() == heads, "every node holds the same log"
    assert training.pledged(ben.log()) and not training.pledged(ada.log()), "only the pledged node trains"


def test_the_pledged_node_trains_members_fetch_the_checked_release_and_a_withdrawal_taints_it_everywhere(trio):
    ada, ben, cleo = trio
    pledged_to_ben(trio)
    [released] = training.train_pledged(ben.log(), network=ben.network)  # fetches Ada's and Cleo's works
    ben.sync()
    release = released["body"]
    assert {ada.shop.member, ben.shop.member, cleo.shop.member} == set(release["owners"])
    assert sum(share["examples"] for share in release["owners"].values()) == 9
    cleo.sync()
    ben.offline()
    assert cleo.fetch() == [], "the trainer's node is off: the next sync tries again"
    ben.online()
    for member in (ada, cleo):
        member.sync()
        assert member.fetch() == [release["apprentice"]]
        assert member.fetch() == [], "fetched once"
    for member in trio:
        folder = member.home / "apprentices" / release["apprentice"]
        assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == release["manifest_sha256"]
        assert hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest() == release["weights_sha256"]
        assert guild_view(member.log())["releases"][0]["fetched"]

    withdrawn = sorted(w for w in release["works"] if cleo.log().state.owners[w] == cleo.shop.member)[0]
    set_consent(cleo.shop, [withdrawn], "withdrawn")
    written = guild_work.consent_changed(cleo.shop, [withdrawn])
    assert [r["type"] for r in written] == ["withdraw", "proposal"], "a retrain is proposed at once"
    cleo.sync()
    for member in (ada, ben):
        member.sync()
    for member in trio:
        view = guild_view(member.log())
        assert view["releases"][0]["tainted_by"] == [withdrawn]
        retrain = view["proposals"][0]
        assert retrain["outcome"] == "open" and retrain["because"] == f"withdrawn: {withdrawn[:12]}"
    assert not ben.shop.blobs.path(withdrawn).exists(), "the trainer deleted its copy"
    assert cleo.shop.blobs.path(withdrawn).exists(), "the owner keeps her own file"

    retrain = guild_view(ada.log())["proposals"][0]["id"]
    for member in (ada, ben):
        member.says(guild_work.vote, retrain[:12], "yes")
    [successor] = training.train_pledged(ben.log(), network=ben.network)
    assert withdrawn not in successor["body"]["works"] and len(successor["body"]["works"]) == 16
    assert sum(share["examples"] for share in successor["body"]["owners"].values()) == 8
    ben.sync()
    ada.sync()
    releases_seen = guild_view(ada.log())["releases"]
    assert [r["tainted_by"] for r in releases_seen] == [[], [withdrawn]], "the successor is clean, the first marked"


def test_an_offline_node_catches_up_through_a_relay(trio):
    ada, ben, cleo = trio
    found_guild(ada, ben, cleo)
    cleo.offline()
    ada.says(guild_work.offer, "ink")
    digest = record_hash(ada.says(guild_work.propose, "ink", [], None, 1.0))
    ben.says(guild_work.vote, digest[:12], "no")
    ada.offline()  # Cleo can only hear of Ada's proposal from Ben
    cleo.online()
    report = cleo.sync()
    assert report.reached == [ben.address] and "Connection refused" in report.unreachable[ada.address]
    assert report.pulled >= 3 and not report.refused
    assert guild_view(cleo.log())["proposals"][0]["votes"] == {"Ben": "no"}
    cleo.says(guild_work.vote, digest[:12], "no")
    assert cleo.log().state.outcome(cleo.log().state.proposals[digest]) == "rejected"


def test_under_a_vote_charter_a_newcomer_is_admitted_when_the_members_vote_yes(trio):
    ada, ben, cleo = trio
    found_guild(ada, ben, join="vote")  # Ben is admitted at once: Ada alone had the vote, by inviting
    admission = guild_view(ada.log())["proposals"][0]
    assert admission["kind"] == "admit" and admission["outcome"] == "open"
    ada.says(guild_work.vote, admission["id"][:12], "yes")
    ben.sync()
    assert names(ben) == ["Ada", "Ben"]

    joined = cleo.join(ben.invite())  # the electorate is now Ada and Ben
    assert cleo.shop.member in joined.state.pending and guild_view(joined)["waiting"][0]["name"] == "Cleo"
    with pytest.raises(Conflict, match="cannot take this address record"):
        cleo.log().append("address", {"address": cleo.address})
    cleo_admission = guild_view(ben.log())["proposals"][0]["id"]
    ben.says(guild_work.vote, cleo_admission[:12], "yes")
    ada.says(guild_work.vote, cleo_admission[:12], "yes")
    cleo.says(lambda log: log.append("address", {"address": cleo.address}))
    assert names(ada) == ["Ada", "Ben", "Cleo"]


def test_a_workshop_restored_from_a_backup_catches_up_with_its_own_chain_before_it_signs(trio, tmp_path):
    ada, ben, cleo = trio
    found_guild(ada, ben, cleo)
    ada.shop.close()
    shutil.copytree(ada.home, tmp_path / "ada-backup")
    ada.shop = Workshop.open(ada.home)
    ada.says(lambda log: log.append("address", {"address": "http://10.0.0.9:8765"}))  # after the backup
    ada.says(guild_work.offer, "ink")
    signed = ada.log().heads()[ada.shop.member]["seq"]
    ada.shop.close()
    shutil.rmtree(ada.home)
    shutil.copytree(tmp_path / "ada-backup", ada.home)  # the laptop died; Ada restores last week's backup
    ada.shop = Workshop.open(ada.home)
    assert ada.log().heads()[ada.shop.member]["seq"] == signed - 2
    ada.says(lambda log: log.append("address", {"address": ada.address}))  # syncs first: her newer records return
    assert ada.log().heads()[ada.shop.member]["seq"] == signed + 1
    scopes = {row["consent"] for row in ada.shop.catalog.rows("SELECT consent FROM works")}
    assert scopes == {f"guild:{ada.log().id}"}, "her offer, signed before the loss, holds again"
    ben.sync()
    assert not any(member["forked"] for member in guild_view(ben.log())["members"])
    assert guild_view(ben.log())["members"][0]["address"] == ada.address


def test_an_outsider_is_refused_the_guilds_records_and_works_and_a_member_is_refused_works_no_proposal_sent_them(
    pair, tmp_path
):
    ada, ben = pair
    ada.add_drawings("ink", 1, seed=3)
    offer = ada.says(guild_work.offer, "ink")
    work = offer["body"]["examples"][0]["parts"]["before"]["work"]
    [stranger] = members(tmp_path, ["Mallory"])
    with Peer(stranger.shop, ada.log().id, ben.address, ben.network) as outsider:
        with pytest.raises(Unreachable, match="403 Forbidden"):
            outsider.records(ada.shop.member, 0)
        with pytest.raises(Unreachable, match="403 Forbidden"):
            outsider.blob(f"/guild/{ada.log().id}/works/{work}", work)
    with Peer(ben.shop, ada.log().id, ada.address, ada.network) as member:
        assert member.records(ada.shop.member, 0), "a member reads the log"
        with pytest.raises(Unreachable, match="404 Not Found"):  # only a passed proposal's trainer is sent works
            member.blob(f"/guild/{ada.log().id}/works/{work}", work)
    stranger.close()


def test_training_stops_with_one_sentence_when_a_contributors_node_is_off(trio):
    ada, ben, cleo = trio
    pledged_to_ben(trio)
    ada.offline()
    sentence = r"^Ada's node at http://10\.0\.0\.1:8765 did not send work \w{12} \(\[Errno 111\] Connection refused\)"
    with pytest.raises(Unreachable, match=sentence):
        training.train_pledged(ben.log(), network=ben.network)
    assert ben.log().state.releases == {}


def test_joining_through_an_inviters_node_that_is_off_says_so_and_joins_nothing(pair, tmp_path):
    ada, ben = pair
    [cleo] = members(tmp_path, ["Cleo"], ada.network)
    invite = ada.invite()
    ada.offline()
    sentence = (
        "The inviter's node at http://10.0.0.1:8765 did not answer ([Errno 111] Connection refused); "
        "try again when it is on."
    )
    with pytest.raises(Unreachable) as raised:
        cleo.join(invite)
    assert str(raised.value) == sentence and raised.value.address == ada.address
    assert guild_ids(cleo.shop) == []
    cleo.close()


AHEAD = {"GET heads": {"heads": {"f" * 64: {"seq": 99, "hash": ""}}}}  # so the sync asks it for records


def misbehaving(changed: dict) -> Callable[[httpx.Request], httpx.Response]:
    """A node that answers by method and the path's last part, as a well-behaved one would, but for `changed`."""
    answers = {
        "GET heads": {"heads": {}},
        "GET challenge": {"nonce": "0f" * 16},
        "GET records": {"records": []},
        "POST records": {"accepted": 0, "refused": [], "heads": {}},
    } | changed

    def answer(request: httpx.Request) -> httpx.Response:
        found = answers[f"{request.method} {request.url.path.rsplit('/', 1)[-1]}"]
        found = found(request) if callable(found) else found
        return found if isinstance(found, httpx.Response) else httpx.Response(200, json=found)

    return answer


MALFORMED = {  # what the node answers → what the report says of it
    "not JSON": ({"GET heads": httpx.Response(200, text="<html>Bad gateway</html>")}, "is not JSON"),
    "an error page": ({"GET heads": httpx.Response(500, text="<html>oops</html>")}, "500 Internal Server Error"),
    "a list": ({"GET heads": []}, "without a valid 'heads'"),
    "a head that is a number": ({"GET heads": {"heads": {"f" * 64: 5}}}, "is malformed"),
    "a sequence number as text": ({"GET heads": {"heads": {"f" * 64: {"seq": "9", "hash": ""}}}}, "is malformed"),
    "a sequence number past SQLite": ({"GET heads": {"heads": {"f" * 64: {"seq": 2**70, "hash": ""}}}}, "malformed"),
    "JSON nested past the parser": ({"GET heads": httpx.Response(200, content=b"[" * 100_000)}, "is not JSON"),
    "a nonce with a line break": (AHEAD | {"GET challenge": {"nonce": "0f\r\nX-Member: me"}}, "not a hex nonce"),
    "records that are not a list": (AHEAD | {"GET records": {"records": {"1": {}}}}, "without a valid 'records'"),
    "more records than asked": (AHEAD | {"GET records": {"records": [{}] * 201}}, "201 records where 200"),
    "a push count of what it was not sent": ({"POST records": {"accepted": 10**6}}, "answer to a push"),
    "refusals without a reason": ({"POST records": {"accepted": 0, "refused": ["no"]}}, "answer to a push"),
    "a head that does not move": (
        {"POST records": lambda request: {"accepted": 1, "heads": {request_author(request): {"seq": 0, "hash": ""}}}},
        "its head did not move",
    ),
}


def request_author(request: httpx.Request) -> str:
    return json.loads(request.content)["records"][0]["author"]


@pytest.mark.parametrize(("answers", "said"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_peer_answering_outside_the_protocol_is_named_unreachable_and_the_other_peers_still_sync(pair, answers, said):
    ada, ben = pair
    ben.log().append("address", {"address": ben.address})  # news that Ada can only pull from Ben
    hostile = "http://10.0.0.66:8765"
    ada.network.answers[hostile] = misbehaving(answers)
    remember_peer(ada.shop, ada.log().id, hostile)  # asked first
    report = ada.sync()
    assert list(report.unreachable) == [hostile] and said in report.unreachable[hostile]
    assert report.reached == [ben.address] and report.pulled == 1


def test_a_bug_in_this_node_is_not_taken_for_an_unreachable_peer(pair, monkeypatch):
    ada, ben = pair
    ben.log().append("address", {"address": ben.address})

    def broken(self: GuildLog, records: list, source: str) -> None:
        raise KeyError("seq")

    monkeypatch.setattr(GuildLog, "take", broken)
    with pytest.raises(KeyError, match="seq"):
        ada.sync()


def test_records_a_peer_relays_forged_or_from_outsiders_are_refused_and_named_in_the_report(pair, tmp_path, caplog):
    ada, ben = pair
    guild = ada.log().id
    seq, prev = ada.log().state.heads[ben.shop.member]
    signed = sign(ben.shop.identity, guild, seq + 1, prev, "address", {"address": "http://10.0.0.2:9000"})
    forged = signed | {"body": {"address": "http://mallory.example"}}
    stranger = Identity.create(tmp_path / "stranger.key")
    outsider = sign(stranger, guild, 1, "", "address", {"address": "http://nowhere.example"})
    relayed = {ben.shop.member: [forged], stranger.public_key: [outsider]}
    heads = {author: {"seq": records[0]["seq"], "hash": ""} for author, records in relayed.items()}
    relay = "http://10.0.0.66:8765"
    ada.network.answers[relay] = misbehaving(
        {
            "GET heads": {"heads": heads},
            "GET records": lambda r: {"records": relayed[r.url.params["author"]]},
            "GET forks": {"records": []},
        }
    )
    remember_peer(ada.shop, guild, relay)
    ben.offline()  # only the relay answers
    with caplog.at_level(logging.INFO, logger="apprentice.guild"):
        report = ada.sync()
    assert report.reached == [relay] and report.pulled == 0
    assert sorted(r["why"] for r in report.refused) == [
        "its author is not a member of the guild",
        "its signature does not match its author (forged or altered)",
    ]
    assert f"from {relay}: its signature does not match its author" in caplog.text
    assert f"rejected record address {stranger.public_key[:12]}#1 from {relay}" in caplog.text
    assert ada.log().state.addresses[ben.shop.member] == ben.address, "the forged address never landed"
