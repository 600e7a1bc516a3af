"""Attacks by one hostile member (Mallory) and hostile non-members, played through the real protocol in one process:
each asserts the guild's promise holds — nothing written outside a workshop, no key or foreign work served, no
outcome changed, the record refused and named. See docs/THREATS.md."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apprentice.errors import BadInput, Unreachable
from apprentice.guild import membership, training
from apprentice.guild import work as guild_work
from apprentice.guild.log import GuildLog
from apprentice.guild.peers import Peer, known_addresses, remember_peer
from apprentice.guild.records import record_hash, sign
from apprentice.guild.views import guild_view
from apprentice.provenance.manifest import find

from guild_network import Member, found_guild, members

pytestmark = pytest.mark.hostile


@pytest.fixture
def guild(tmp_path):
    """Ada founded it, Ben and Mallory joined; Ada and Ben each offered three drawings of 'ink'."""
    made = members(tmp_path, ["Ada", "Ben", "Mallory"])
    ada, ben, mallory = made
    for number, member in enumerate(made):
        member.add_drawings("ink", 3, seed=10 * number)
    found_guild(ada, ben, mallory)
    for member in (ada, ben):
        member.says(guild_work.offer, "ink")
    for member in made:
        member.sync()
    yield made
    for member in made:
        member.close()


def signs(member: Member, kind: str, body: dict) -> dict:
    """A record `member` signs as the next of their chain, without any check of their own node's."""
    seq, prev = member.log().state.heads[member.shop.member]
    return sign(member.shop.identity, member.log().id, seq + 1, prev, kind, body)


def refusal(member: Member, record: dict) -> str:
    """Why `member`'s node refuses `record` when it is pushed to it (it must refuse it)."""
    intake = member.log().take([record], "mallory's node")
    assert intake.accepted == 0 and len(intake.refused) == 1, intake
    return intake.refused[0]["why"]


def files_under(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def ada_work(ada: Member) -> str:
    return next(iter(ada.log().state.offers.values()))["parts"]["before"]["work"]


# -- 1. ids used as paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("work", ["..identity.key", "../catalog.sqlite", "/etc/passwd", "AB" * 32, "ab" * 31])
def test_a_work_id_that_is_not_a_hash_is_refused_in_an_offer_and_names_no_file(guild, work):
    ada, _, mallory = guild
    example = {"fingerprint": "0" * 64, "name": "x", "size": [8, 8], "sequence": "", "position": 0}
    example["parts"] = {"before": {"work": work, "layer": "", "file": "x.png"}}
    why = refusal(ada, signs(mallory, "offer", {"task": "ink", "kind": "paired", "examples": [example]}))
    assert "malformed" in why
    with pytest.raises(BadInput, match="is not a work id"):
        ada.shop.blobs.path(work)


def test_a_withdrawal_naming_a_path_deletes_nothing(guild):
    ada, _, mallory = guild
    before = files_under(ada.home)
    assert "malformed" in refusal(ada, signs(mallory, "withdraw", {"works": ["../catalog.sqlite"]}))
    assert "malformed" in refusal(ada, signs(mallory, "withdraw", {"works": [".." + "0" * 62]}))
    after = files_under(ada.home)
    assert set(before) <= set(after) and (ada.home / "identity.key").read_bytes() == before["identity.key"]


@pytest.mark.parametrize("apprentice", ["../../outside", "/tmp/evil", "0123456789abcdef/../x", "0123456789ABCDEF"])
def test_a_release_whose_apprentice_id_is_a_path_is_refused_and_nothing_is_written_outside(guild, apprentice):
    ada, _, mallory = guild
    body = {"proposal": "0" * 64, "task": "ink", "apprentice": apprentice, "manifest_sha256": "1" * 64}
    body |= {"weights_sha256": "2" * 64, "owners": {mallory.shop.member: {"name": "M", "examples": 1, "pixels": 1}}}
    body |= {"works": ["3" * 64]}
    assert refusal(ada, signs(mallory, "release", body)) == "its release's apprentice is malformed"
    with pytest.raises(BadInput, match="is not an apprentice id"):
        ada.shop.apprentice_folder(apprentice)


# -- 2. the electorate ------------------------------------------------------------------------------------------


def test_a_proposer_cannot_choose_an_electorate_of_one_by_claiming_to_have_seen_less(guild):
    ada, _, mallory = guild
    state = mallory.log().state
    seq = state.heads[mallory.shop.member][0]
    body = {"kind": "train", "task": "ink", "task_kind": "paired", "contributors": [ada.shop.member]}
    body |= {"compute": {"member": mallory.shop.member, "minutes": 1.0}, "electorate": [mallory.shop.member]}
    alone = signs(mallory, "proposal", body | {"seen": {mallory.shop.member: seq}})
    assert refusal(ada, alone) == "the records its proposer says they had seen leave out records those rest on"
    whole = state.cut()
    packed = signs(mallory, "proposal", body | {"seen": whole})
    assert refusal(ada, packed) == "its electorate is not the guild's members when it was proposed"
    assert not ada.log().state.proposals, "no proposal of Mallory's reached the log"


def test_an_applicant_the_members_refused_reads_nothing_more_and_is_not_synced_with(tmp_path):
    ada, ben, mallory = made = members(tmp_path, ["Ada", "Ben", "Mallory"])
    found_guild(ada, ben, join="vote")
    ada.says(guild_work.vote, guild_view(ada.log())["proposals"][0]["id"][:12], "yes")
    mallory.join(ada.invite())
    admission = next(p for p in guild_view(ada.log())["proposals"] if p["outcome"] == "open")
    with Peer(mallory.shop, ada.log().id, ada.address, ada.network) as applicant:
        assert applicant.records(ada.shop.member, 0), "waiting for the vote, an applicant may read the log"
        for member in (ada, ben):
            member.says(guild_work.vote, admission["id"][:12], "no")
        with pytest.raises(Unreachable, match="403"):
            applicant.records(ada.shop.member, 0)
    assert mallory.address not in known_addresses(ada.log()), "a refused applicant's node is not synced with"
    for member in made:
        member.close()


# -- 3. readers of works and releases ---------------------------------------------------------------------------


def test_a_member_is_sent_no_work_without_a_passed_proposal_that_pledges_their_machine(guild):
    ada, _, mallory = guild
    work = ada_work(ada)
    with Peer(mallory.shop, ada.log().id, ada.address, ada.network) as peer:
        with pytest.raises(Unreachable, match="404"):
            peer.blob(f"/guild/{ada.log().id}/works/{work}", work)
        with pytest.raises(Unreachable, match="404"):
            peer.blob(f"/guild/{ada.log().id}/works/..identity.key", work)


def test_the_trainer_is_sent_only_the_works_of_the_contributors_its_proposal_named(guild):
    ada, ben, mallory = guild
    digest = record_hash(ada.says(guild_work.propose, "ink", ["Ben"], "Mallory", 0.02))
    for member in (ada, ben):
        member.says(guild_work.vote, digest[:12], "yes")
    mallory.sync()
    ben_work = next(e for e in ben.log().state.offers.values() if e["owner"] == ben.shop.member)
    ben_work = ben_work["parts"]["before"]["work"]
    with Peer(mallory.shop, ben.log().id, ben.address, ben.network) as trainer:
        assert hashlib.sha256(trainer.blob(f"/guild/{ben.log().id}/works/{ben_work}", ben_work)).hexdigest() == ben_work
    trainer = Peer(mallory.shop, ada.log().id, ada.address, ada.network)
    with trainer, pytest.raises(Unreachable, match="404"):  # Ada was not among the proposal's contributors
        trainer.blob(f"/guild/{ada.log().id}/works/{ada_work(ada)}", ada_work(ada))


# -- 4. another guild's withdrawal ------------------------------------------------------------------------------


def test_a_member_of_another_guild_cannot_withdraw_a_work_this_guild_never_saw(guild, tmp_path):
    ada, _, mallory = guild
    work = ada_work(ada)
    why = refusal(ada, signs(mallory, "withdraw", {"works": [work]}))
    assert why == "it withdraws works its author never offered to this guild"
    assert ada.shop.blobs.path(work).is_file() and work not in ada.log().state.withdrawn


# -- 5. releases held to their proposal -------------------------------------------------------------------------


def release_by(trainer: Member, proposal: str, works: list[str], owners: dict) -> dict:
    body = {"proposal": proposal, "task": "ink", "apprentice": "ab" * 8, "manifest_sha256": "1" * 64}
    return signs(trainer, "release", body | {"weights_sha256": "2" * 64, "owners": owners, "works": works})


def test_a_release_must_hold_to_its_proposal_and_answer_it_once(guild):
    ada, ben, mallory = guild
    digest = record_hash(ada.says(guild_work.propose, "ink", ["Ada", "Ben"], "Mallory", 0.02))
    for member in (ada, ben):
        member.says(guild_work.vote, digest[:12], "yes")
    mallory.sync()
    state = ada.log().state
    offered = {p["work"] for e in state.offers.values() for p in e["parts"].values()}
    share = {"name": "Ada", "examples": 3, "pixels": 48 * 40 * 3}
    honest_owners = {ada.shop.member: share, ben.shop.member: share | {"name": "Ben"}}
    outside = release_by(mallory, digest, sorted(offered) + ["4" * 64], honest_owners)
    assert refusal(ada, outside) == "it lists works the proposal's contributors did not offer for its task"
    credited = release_by(mallory, digest, sorted(offered), {mallory.shop.member: share})
    assert refusal(ada, credited) == "it credits others than the owners of the works it lists"
    greedy = release_by(mallory, digest, sorted(offered), honest_owners | {ben.shop.member: share | {"examples": 9}})
    assert refusal(ada, greedy) == "its contributors' shares are more than the examples it lists"
    assert "malformed" in refusal(ada, release_by(mallory, digest, [], honest_owners)), "a release lists its works"
    first = release_by(mallory, digest, sorted(offered), honest_owners)
    assert ada.log().take([first], "mallory").accepted == 1
    body = first["body"] | {"apprentice": "cd" * 8}
    again = sign(mallory.shop.identity, first["guild"], first["seq"] + 1, record_hash(first), "release", body)
    assert refusal(ada, again) == "that proposal was answered by a release already"


# -- 6. equivocation --------------------------------------------------------------------------------------------


def test_a_member_who_signs_two_votes_at_one_place_decides_nothing_on_every_node(guild):
    ada, ben, mallory = guild
    digest = record_hash(ada.says(guild_work.propose, "ink", ["Ada"], "Ada", 0.02))
    for member in guild:
        member.sync()
    yes = signs(mallory, "vote", {"proposal": digest, "vote": "yes"})
    no = signs(mallory, "vote", {"proposal": digest, "vote": "no"})
    assert ada.log().take([yes], "mallory").accepted == 1
    assert ben.log().take([no], "mallory").accepted == 1
    ada.sync()
    ben.sync()
    ada.sync()
    for member in (ada, ben):
        state = member.log().state
        assert mallory.shop.member in state.forked, f"{member.name} holds the proof"
        assert state.outcome(state.proposals[digest]) == "open", "Mallory's votes count nowhere"
    assert not ada.sync().refused, "a proof already held is not taken (and refused) again at every sync"
    ben.says(guild_work.vote, digest[:12], "yes")
    ada.sync()
    outcomes = {m.name: m.log().state.outcome(m.log().state.proposals[digest]) for m in (ada, ben)}
    assert outcomes == {"Ada": outcomes["Ben"], "Ben": outcomes["Ben"]}


# -- 7. malformed records ---------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_subnormal=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
TYPES = ["charter", "invite", "join", "address", "offer", "withdraw", "proposal", "vote", "release", "rotate"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(TYPES), body=st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_a_signed_record_with_any_body_is_taken_or_refused_and_every_view_still_renders(guild, kind, body):
    ada, _, mallory = guild
    intake = ada.log().take([signs(mallory, kind, body)], "fuzz")
    assert intake.accepted + len(intake.refused) + intake.waiting == 1
    guild_view(ada.log())  # the page and `guild show` still render


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.dictionaries(st.text(max_size=8), JSON, max_size=9) | JSON)
def test_anything_pushed_as_a_record_is_refused_with_a_reason(guild, record):
    ada = guild[0]
    intake = ada.log().take([record], "fuzz")
    assert intake.accepted == 0 and intake.refused and all(r["why"] for r in intake.refused)


# -- what a release is checked against --------------------------------------------------------------------------


def test_an_honest_release_still_trains_fetches_and_applies(guild):
    ada, ben, mallory = guild
    digest = record_hash(ada.says(guild_work.propose, "ink", ["Ada", "Ben"], "Ben", 0.02))
    for member in (ada, mallory):
        member.says(guild_work.vote, digest[:12], "yes")
    ben.sync()
    [released] = training.train_pledged(ben.log(), network=ben.network)
    ben.sync()
    assert ada.sync() and ada.fetch() == [released["body"]["apprentice"]]
    assert mallory.sync() and mallory.fetch() == [released["body"]["apprentice"]]
    name = training.local_task(ada.log().state, "ink")
    assert find(ada.shop, name).id == released["body"]["apprentice"]


def test_membership_is_unchanged_by_a_join_replayed_into_another_guild(guild, tmp_path):
    ada, _, mallory = guild
    [zed] = members(tmp_path, ["Zed"], ada.network)
    other = membership.create(zed.shop, "Other", zed.address)
    replay = mallory.log().records_after(mallory.shop.member, 0)[0]
    assert "another guild" in GuildLog(zed.shop, other.id).take([replay], "mallory").refused[0]["why"]
    assert GuildLog(zed.shop, other.id).state.members() == [zed.shop.member]
    zed.close()


# -- 8. what a peer sends is bounded ----------------------------------------------------------------------------


def test_a_peer_answering_more_bytes_than_any_page_of_records_is_cut_off_and_the_others_still_sync(guild):
    ada, ben, _ = guild
    flood = "http://10.0.0.99:8765"
    ada.network.answers[flood] = lambda request: httpx.Response(200, content=b'{"heads": {' + b" " * 17 * 2**20 + b"}}")
    remember_peer(ada.shop, ada.log().id, flood)
    report = ada.sync()
    assert "answered more than 16,777,216 bytes" in report.unreachable[flood] and ben.address in report.reached


def test_a_push_larger_than_any_batch_of_records_is_refused_before_it_is_read(guild):
    ada, _, mallory = guild
    peer = Peer(mallory.shop, ada.log().id, ada.address, ada.network)
    with peer, pytest.raises(Unreachable, match="413"):
        peer.push([{"pad": "x" * (9 * 2**20)}])


def test_one_caller_cannot_use_up_the_challenges_every_member_needs(guild):
    ada, ben, mallory = guild
    with Peer(mallory.shop, ada.log().id, ada.address, ada.network) as peer:
        for _ in range(32):
            peer.request("GET", f"/guild/{ada.log().id}/challenge")
        with pytest.raises(Unreachable, match="429"):
            peer.request("GET", f"/guild/{ada.log().id}/challenge")


def test_a_signed_read_cannot_be_replayed_to_another_node_or_for_another_query(guild):
    ada, ben, mallory = guild
    guild_id = ada.log().id
    path = f"/guild/{guild_id}/records"
    with Peer(mallory.shop, guild_id, ben.address, ben.network) as to_ben:
        nonce = to_ben.parsed(to_ben.request("GET", f"/guild/{guild_id}/challenge"), "nonce", str)["nonce"]
        from apprentice.guild.peers import proof_message

        meant_for_ada = proof_message(
            guild_id, nonce, path, f"author={ada.shop.member}&after=0&limit=5", "10.0.0.1:8765"
        )
        headers = {"X-Apprentice-Member": mallory.shop.member, "X-Apprentice-Nonce": nonce}
        headers["X-Apprentice-Proof"] = mallory.shop.identity.sign(meant_for_ada)
        with pytest.raises(Unreachable, match="401"):
            to_ben.request("GET", path, params={"author": ada.shop.member, "after": 0, "limit": 5}, headers=headers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(heads=JSON, records=JSON, pushed=JSON, forks=JSON)
def test_a_peer_answering_anything_at_all_is_named_unreachable_and_the_sync_goes_on(
    guild, heads, records, pushed, forks
):
    ada, ben, _ = guild
    liar = "http://10.0.0.77:8765"
    answers = {"heads": heads, "records": records, "forks": forks, "challenge": {"nonce": "0f" * 16}}

    def answer(request: httpx.Request) -> httpx.Response:
        body = pushed if request.method == "POST" else answers[request.url.path.rsplit("/", 1)[-1]]
        return httpx.Response(200, content=json.dumps(body).encode())  # Python's JSON: Infinity too, as a peer may

    ada.network.answers[liar] = answer
    remember_peer(ada.shop, ada.log().id, liar)
    before = ada.log().heads()
    report = ada.sync()
    assert ben.address in report.reached and (liar in report.reached or liar in report.unreachable)
    assert set(before) <= set(ada.log().heads()), "nothing this node held was lost"
