"""Guilds across real processes: member nodes served by `apprentice serve` on 127.0.0.1, driven by the CLI verbs,
talking over TLS pinned to their member keys.

What only processes and sockets show: one full run of the verbs between three nodes, and a sync killed midway
that loses nothing. The sync logic itself is proven in one process, in test_guild_sync.py.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from apprentice.guild.network import SOCKETS
from apprentice.guild.records import record_hash
from apprentice.identity import Identity

from conftest import write_pair_folder
from guild_nodes import Node, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(request, tmp_path, monkeypatch):
    monkeypatch.setenv("APPRENTICE_SYNC_SECONDS", "0")  # the tests say when to sync
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    members = [Node(tmp_path, name) for name in getattr(request, "param", ("Ada", "Ben", "Cleo"))]
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
    assert set(release["owners"]) == {key(n) for n in nodes}, "all three members' examples were trained on"
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
    with SOCKETS.client(cleo.address, {key(cleo)}) as http:  # over TLS, to Cleo's key only
        nonce = http.get(f"/guild/{release_guild(ada)}/challenge").json()["nonce"]
        assert nonce and http.get(f"/guild/{release_guild(ada)}/works/{work}").status_code == 401


@pytest.mark.parametrize("nodes", [("Ada", "Cleo")], indirect=True, ids=["two nodes"])
def test_a_sync_killed_midway_keeps_a_clean_prefix_and_the_next_sync_completes(nodes):
    ada, cleo = nodes
    ada.run("guild", "create", "Ink Co-op", "--address", ada.address)
    cleo.run("guild", "join", ada.run("guild", "invite").strip(), "--address", cleo.address)
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


def held(catalog, guild: str, node: Node) -> int:
    try:
        with sqlite3.connect(catalog, timeout=5) as db:
            row = db.execute("SELECT COUNT(*) FROM guild_records WHERE guild = ? AND author = ?", (guild, key(node)))
            return row.fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def release_guild(node: Node) -> str:
    return node.guild()["id"]
