"""Guilds across real processes: three member nodes served on 127.0.0.1, driven by the `apprentice guild` verbs.

Create, invite, join, offer, propose, vote, train on the pledged node, release, fetch and verify, withdraw and
see the taint everywhere; an offline node catching up through a relay; refusals named in the node's log; and a
sync killed midway that loses nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys

import httpx
import pytest

from apprentice.errors import Unreachable
from apprentice.guild.peers import Peer
from apprentice.guild.records import record_hash, sign
from apprentice.identity import Identity
from apprentice.store.workshop import Workshop

from conftest import write_pair_folder
from guild_nodes import Node, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(tmp_path, monkeypatch):
    monkeypatch.setenv("APPRENTICE_SYNC_SECONDS", "0")  # the tests say when to sync
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    members = [Node(tmp_path, name) for name in ("Ada", "Ben", "Cleo")]
    for number, node in enumerate(members):
        node.run("init", "--name", node.name)
        node.run("task", "new", "ink")
        node.run("add", "ink", write_pair_folder(tmp_path / f"pairs-{node.name}", 3, seed=10 * number))
        node.start()
    yield members
    for node in members:
        node.stop()


def found_guild(ada: Node, ben: Node, cleo: Node) -> None:
    ada.run("guild", "create", "Ink Co-op", "--address", ada.address)
    ben.run("guild", "join", ada.run("guild", "invite").strip(), "--address", ben.address)
    cleo.run("guild", "join", ben.run("guild", "invite").strip(), "--address", cleo.address)  # invited by Ben


def test_three_nodes_found_train_release_and_withdraw_with_every_node_agreeing(nodes, tmp_path):
    ada, ben, cleo = nodes
    found_guild(ada, ben, cleo)
    for node in nodes:
        node.run("guild", "offer", "ink")
    proposal = ada.json("guild", "propose", "ink", "--compute", "Ben", "--minutes", "0.05")
    digest = record_hash(proposal)
    assert "is open" in ada.run("guild", "vote", digest[:12], "yes")
    assert "is passed" in cleo.run("guild", "vote", digest[:12], "yes")
    assert "No passed proposal" in ada.run("guild", "work"), "only the pledged node trains"

    released = ben.json("guild", "work")
    assert len(released) == 1 and released[0]["type"] == "release"
    release = released[0]["body"]
    assert set(release["owners"]) == {node_key(n) for n in nodes}, "all three members' examples were trained on"
    assert sum(share["examples"] for share in release["owners"].values()) == 9

    for node in (ada, cleo):
        assert node.json("guild", "sync")["fetched"] == [release["apprentice"]]
    for node in nodes:
        view = node.guild()
        assert [m["name"] for m in view["members"]] == ["Ada", "Ben", "Cleo"]
        assert [p["outcome"] for p in view["proposals"]] == ["passed"]
        assert view["releases"][0]["apprentice"] == release["apprentice"] and view["releases"][0]["fetched"]
        folder = node.home / "apprentices" / release["apprentice"]
        manifest = (folder / "manifest.json").read_bytes()
        assert hashlib.sha256(manifest).hexdigest() == release["manifest_sha256"]
        assert hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest() == release["weights_sha256"]
    ada.run("apply", "Ink-Co-op-ink", tmp_path / "pairs-Ada" / "before" / "p0.png", "--out", tmp_path / "out")
    assert (tmp_path / "out" / "p0.png").is_file(), "a fetched apprentice is used like one's own"

    withdrawn = tmp_path / "pairs-Cleo" / "before" / "p1.png"
    work = hashlib.sha256(withdrawn.read_bytes()).hexdigest()
    assert "1 retrain proposal(s) opened" in cleo.run("consent", withdrawn, "--scope", "withdrawn")
    for node in (ada, ben):
        node.run("guild", "sync")
    for node in nodes:
        view = node.guild()
        assert view["releases"][0]["tainted_by"] == [work]
        retrain = view["proposals"][0]
        assert retrain["outcome"] == "open" and retrain["because"] == f"withdrawn: {work[:12]}"
    assert not ben.home.joinpath("blobs", work[:2], work[2:]).exists(), "the trainer deleted its copy"
    assert cleo.home.joinpath("blobs", work[:2], work[2:]).exists(), "the owner keeps her own file"
    assert "tainted" in ada.run("list")
    assert "guild's shared task" in ada.run("retrain", "Ink-Co-op-ink", expect=1)

    retrain = ada.guild()["proposals"][0]["id"]
    ada.run("guild", "vote", retrain[:12], "yes")
    ben.run("guild", "vote", retrain[:12], "yes")
    [successor] = ben.json("guild", "work")
    assert work not in successor["body"]["works"] and len(successor["body"]["works"]) == 16
    assert sum(share["examples"] for share in successor["body"]["owners"].values()) == 8
    ada.run("guild", "sync")
    releases = ada.guild()["releases"]
    assert [r["tainted_by"] for r in releases] == [[], [work]], "the successor is clean, the first stays marked"
    with httpx.Client(base_url=cleo.address) as http:
        nonce = http.get(f"/guild/{release_guild(ada)}/challenge").json()["nonce"]
        assert nonce and http.get(f"/guild/{release_guild(ada)}/works/{work}").status_code == 401


def test_an_offline_node_catches_up_through_a_relay_and_refusals_are_named_in_the_log(nodes):
    ada, ben, cleo = nodes
    found_guild(ada, ben, cleo)
    cleo_port = cleo.port()
    cleo.stop()
    ada.run("guild", "offer", "ink")
    proposal = record_hash(ada.json("guild", "propose", "ink", "--minutes", "1"))
    ben.run("guild", "vote", proposal[:12], "no")
    ada.stop()  # Ada is offline too: Cleo can only hear of Ada's proposal from Ben
    cleo.start(cleo_port)
    synced = cleo.json("guild", "sync")
    assert synced["reached"] == [ben.address] and ada.address in synced["unreachable"]
    assert cleo.guild()["proposals"][0]["votes"] == {"Ben": "no"}
    assert "is rejected" in cleo.run("guild", "vote", proposal[:12], "no")

    guild = release_guild(ben)
    stranger = Identity.create(ben.home.parent / "stranger.key")
    outsider = sign(stranger, guild, 1, "", "address", {"address": "http://nowhere"})
    replay = ben_record = first_record(ben, guild, "join")
    forged = ben_record | {"body": ben_record["body"] | {"name": "Mallory"}}
    fork = sign(Identity.load(cleo.home / "identity.key"), guild, 1, "", "address", {"address": "http://twin"})
    with httpx.Client(base_url=ben.address) as http:
        answers = [http.post(f"/guild/{guild}/records", json={"records": [r]}).json() for r in (outsider, forged, fork)]
        replayed = http.post(f"/guild/{guild}/records", json={"records": [replay]}).json()
    assert [a["refused"][0]["action"] for a in answers] == ["reject", "reject", "fork"]
    assert replayed["duplicates"] == 1
    log = ben.log()
    assert f"rejected record address {stranger.public_key[:12]}#1" in log and "not a member" in log
    assert "signature does not match its author (forged or altered)" in log
    assert "rejected forked record address" in log and "ignored replayed record join" in log
    assert any(m["forked"] for m in ben.guild()["members"] if m["name"] == "Cleo")


def test_a_sync_killed_midway_keeps_a_clean_prefix_and_the_next_sync_completes(nodes):
    ada, ben, cleo = nodes
    found_guild(ada, ben, cleo)
    guild = release_guild(ada)
    script = (  # 400 records by Ada, written straight into her log
        "from apprentice.store.workshop import Workshop; from apprentice.guild.log import GuildLog; import sys\n"
        "log = GuildLog(Workshop.open(__import__('pathlib').Path(sys.argv[1])), sys.argv[2])\n"
        "for i in range(400): log.append('address', {'address': sys.argv[3]})\n"
    )
    subprocess.run([sys.executable, "-c", script, str(ada.home), guild, ada.address], check=True)
    env = os.environ | {"APPRENTICE_HOME": str(cleo.home)}
    command = [sys.executable, "-m", "apprentice.cli", "guild", "sync"]
    catalog = cleo.home / "catalog.sqlite"
    before = held(catalog, guild, ada)  # the charter and the invite, from joining
    syncing = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: before < held(catalog, guild, ada) < before + 400, seconds=60, every=0.02), "no sync"
    syncing.send_signal(signal.SIGKILL)
    syncing.wait()
    partial = held(catalog, guild, ada)
    with sqlite3.connect(catalog) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [
            row[0] for row in db.execute("SELECT seq FROM guild_records WHERE author = ? ORDER BY seq", (key(ada),))
        ]
    assert seqs == list(range(1, len(seqs) + 1)), "a prefix of Ada's chain, no holes"
    assert partial < before + 400
    cleo.run("guild", "sync")
    assert held(catalog, guild, ada) == before + 400
    assert cleo.guild()["members"][0]["address"] == ada.address


def key(node: Node) -> str:
    return Identity.load(node.home / "identity.key").public_key


node_key = key


def held(catalog, guild: str, node: Node) -> int:
    try:
        with sqlite3.connect(catalog, timeout=5) as db:
            row = db.execute("SELECT COUNT(*) FROM guild_records WHERE guild = ? AND author = ?", (guild, key(node)))
            return row.fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def release_guild(node: Node) -> str:
    return node.guild()["id"]


def first_record(node: Node, guild: str, kind: str) -> dict:
    import json

    with sqlite3.connect(node.home / "catalog.sqlite") as db:
        rows = db.execute("SELECT record FROM guild_records WHERE guild = ? ORDER BY rowid", (guild,)).fetchall()
    return next(r for r in map(json.loads, (row[0] for row in rows)) if r["type"] == kind)


def test_a_workshop_restored_from_a_backup_catches_up_with_its_own_chain_before_it_signs(nodes, tmp_path):
    ada, ben, cleo = nodes
    found_guild(ada, ben, cleo)
    ada.stop()
    backup = tmp_path / "ada-backup"
    shutil.copytree(ada.home, backup)
    ada.start(0)
    ada.run("guild", "address", ada.address)  # written after the backup, and synced to the others
    ada.run("guild", "offer", "ink")
    ada_seq = held(ben.home / "catalog.sqlite", release_guild(ben), ada)
    ada.stop()
    shutil.rmtree(ada.home)
    shutil.copytree(backup, ada.home)  # the laptop died; Ada restores last week's backup
    ada.start(0)
    ada.run("guild", "address", ada.address)  # syncs first: her own newer records come back, then she signs
    assert held(ada.home / "catalog.sqlite", release_guild(ben), ada) == ada_seq + 1
    with sqlite3.connect(ada.home / "catalog.sqlite") as db:
        scopes = {row[0] for row in db.execute("SELECT consent FROM works")}
    assert scopes == {f"guild:{release_guild(ben)}"}, "her offer, signed before the loss, holds again"
    ben.run("guild", "sync")
    assert not any(member["forked"] for member in ben.guild()["members"])
    assert ben.guild()["members"][0]["address"] == ada.address

    stranger = Node(tmp_path, "Mallory")
    stranger.run("init", "--name", "Mallory")
    outsider = Peer(Workshop.open(stranger.home), release_guild(ben), ben.address)
    try:
        with pytest.raises(Unreachable, match="403"):
            outsider.records(key(ada), 0)
        work = first_record(ada, release_guild(ben), "offer")["body"]["examples"][0]["parts"]["before"]["work"]
        with pytest.raises(Unreachable, match="403"):
            outsider.blob(f"/guild/{release_guild(ben)}/works/{work}", work)
    finally:
        outsider.close()


def test_under_a_vote_charter_a_newcomer_is_admitted_when_the_members_vote_yes(nodes):
    ada, ben, cleo = nodes
    ada.run("guild", "create", "Voters", "--address", ada.address, "--join", "vote")
    ben.run("guild", "join", ada.run("guild", "invite").strip(), "--address", ben.address)  # admitted: Ada alone votes
    ben.run("guild", "sync")
    admission = ada.guild()["proposals"][0]
    assert admission["kind"] == "admit" and admission["outcome"] == "open"
    ada.run("guild", "vote", admission["id"][:12], "yes")
    ben.run("guild", "sync")
    assert [m["name"] for m in ben.guild()["members"]] == ["Ada", "Ben"]

    invite = ben.run("guild", "invite").strip()  # the electorate is now Ada and Ben
    assert "waiting for the members' vote" in cleo.run("guild", "join", invite, "--address", cleo.address)
    assert cleo.guild()["waiting"][0]["name"] == "Cleo"
    assert "cannot take this address record" in cleo.run("guild", "address", cleo.address, expect=1)
    cleo_admission = ben.guild()["proposals"][0]["id"]
    assert "is open" in ben.run("guild", "vote", cleo_admission[:12], "yes")
    assert "is passed" in ada.run("guild", "vote", cleo_admission[:12], "yes")
    cleo.run("guild", "address", cleo.address)
    assert [m["name"] for m in ada.guild()["members"]] == ["Ada", "Ben", "Cleo"]
