"""Federated guild training across real processes on 127.0.0.1: a host and two contributors, each a member's node
(`apprentice serve`) running `apprentice guild work`, which start Flower's SuperLink and SuperNodes over TLS.

Proposal, vote, rounds, a withdrawal between rounds, release, fetch and verify; and a node whose key the proposal
does not name, refused by the SuperLink and named on the guild's log.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apprentice.guild import rounds
from apprentice.guild.flower_keys import node_keys
from apprentice.guild.flower_run import command, flower_env
from apprentice.guild.log import GuildLog
from apprentice.guild.network import SOCKETS
from apprentice.guild.records import record_hash
from apprentice.guild.run_files import RESULT
from apprentice.store.workshop import Workshop

from conftest import write_pair_folder
from guild_nodes import Node, wait_for
from servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(tmp_path, monkeypatch):
    monkeypatch.setenv("APPRENTICE_SYNC_SECONDS", "0")  # the tests and `guild work` say when to sync
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    members = [Node(tmp_path, name) for name in ("Ada", "Ben", "Cleo", "Dan")]
    for number, node in enumerate(members):
        node.run("init", "--name", node.name)
        node.run("task", "new", "ink")
        node.run("add", "ink", write_pair_folder(tmp_path / f"pairs-{node.name}", 4, seed=10 * number, size=(32, 32)))
        node.start()
    yield members
    for node in members:
        node.stop()


def work(node: Node, flower_port: int) -> subprocess.Popen:
    """`apprentice guild work` on the member's node, as its own process."""
    env = os.environ | {"APPRENTICE_HOME": str(node.home), "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "apprentice.cli", "guild", "work", "--flower-port", str(flower_port)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_federated_rounds_train_where_the_pictures_are_and_refuse_a_node_not_in_the_proposal(nodes, tmp_path):
    ada, ben, cleo, dan = nodes
    ada.run("guild", "create", "Ink Co-op", "--address", ada.address)
    for node in (ben, cleo, dan):
        node.run("guild", "join", ada.run("guild", "invite").strip(), "--address", node.address)
    for node in (ben, cleo):
        node.run("guild", "offer", "ink")
    guild_id = ada.guild()["id"]
    rounds.announce(Workshop.open(dan.home), guild_id, free_port(), SOCKETS)  # Dan's node key is on the log too
    flower_port = free_port()
    proposal = ada.json(
        "guild", "propose", "ink", "--from", "Ben", "--from", "Cleo", "--compute", "Ada", "--federated",
        "--rounds", "3", "--minutes", "0.3",
    )  # fmt: skip
    digest = record_hash(proposal)
    for node in (ada, ben, cleo):
        node.run("guild", "vote", digest[:12], "yes")
    assert ada.guild()["proposals"][0]["outcome"] == "passed"

    workers = {node.name: work(node, flower_port) for node in (ada, ben, cleo)}
    output = {name: [] for name in workers}
    link_log = ada.home / "runs" / f"federated-{digest[:16]}" / "superlink.log"
    try:
        started = lambda: "Activated node_id" in read(link_log) or workers["Ada"].poll() is not None  # noqa: E731
        assert wait_for(started, seconds=240) and workers["Ada"].poll() is None, read(link_log)
        rogue = rogue_node(dan, ada, tmp_path)  # Dan's node, with his announced key, which the proposal does not name
        host_lines = follow(workers["Ada"], output["Ada"], "Round 1: 2 member(s) trained", seconds=240)
        assert host_lines, "\n".join(output["Ada"])
        cleo.run("consent", *sorted((tmp_path / "pairs-Cleo").rglob("*.png")), "--scope", "withdrawn")
        for name, process in workers.items():
            rest, _ = process.communicate(timeout=300)
            output[name] += rest.splitlines()
            assert process.returncode == 0, f"{name}:\n" + "\n".join(output[name])
    finally:
        for process in workers.values():  # a stopped `guild work` stops the Flower processes it started
            process.terminate()
        for process in workers.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        if "rogue" in locals():
            rogue.kill()
            rogue.wait()

    release = next(r for r in ada.guild()["releases"])
    assert release["training"] == "federated" and release["host"] == "Ada" and release["rounds"] == 3
    kept = release["kept_round"]  # the round that scored best on the contributors' held-out works
    assert release["took_part"]["Ben"] == list(range(1, kept + 1))
    assert 1 in release["took_part"]["Cleo"], "Cleo's works taught round 1"
    result = json.loads((ada.home / "runs" / f"federated-{digest[:16]}" / RESULT).read_text())
    assert [r["members"] for r in result["rounds"]][::2] == [2, 1], "Cleo left after withdrawing, Ben went on"
    assert release["refused"] == ["Dan"], "the node the proposal does not name was refused, and named on the log"
    assert "Dan" not in release["took_part"] and {c["name"] for c in release["contributors"]} == {"Ben", "Cleo"}
    assert "Attempted to register SuperNode" in read(link_log)
    theirs = {p.read_bytes() for node in (ben, cleo) for p in (tmp_path / f"pairs-{node.name}").rglob("*.png")}
    held = {p.read_bytes() for p in (ada.home / "blobs").rglob("*") if p.is_file()}
    assert not theirs & held, "no picture of Ben's or Cleo's reached the host"

    for node in (ben, cleo, dan):
        node.run("guild", "sync")
    for node in nodes:
        view = node.guild()["releases"][0]
        assert view["apprentice"] == release["apprentice"] and view["fetched"]
        assert view["tainted_by"], "Cleo's works taught round 1, so her withdrawal taints the release"
        folder = node.home / "apprentices" / release["apprentice"]
        manifest = (folder / "manifest.json").read_bytes()
        assert hashlib.sha256(manifest).hexdigest() == release_record(ada)["manifest_sha256"]
    assert any("held-out PSNR" in line for line in output["Ben"]), "\n".join(output["Ben"])


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def follow(process: subprocess.Popen, lines: list[str], wanted: str, seconds: float) -> bool:
    """Read the process's output until a line holds `wanted` (True) or it ends or time runs out (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return False
        lines.append(line.rstrip())
        if wanted in line:
            return True
    return False


def rogue_node(dan: Node, ada: Node, tmp_path: Path) -> subprocess.Popen:
    """A SuperNode run by hand with Dan's key against Ada's SuperLink (its address and certificate as Ada announced
    them on the log), as a member the proposal leaves out would try."""
    link = announced(ada)
    (tmp_path / "ada-link.pem").write_text(link["link_certificate"])
    args = [command("flower-supernode"), "--superlink", link["link_address"], "--root-certificates"]
    args += [str(tmp_path / "ada-link.pem"), "--auth-supernode-private-key", str(node_keys(dan.home).node_private)]
    args += ["--host", "127.0.0.1", "--port", str(free_port()), "--node-config", f'home="{dan.home}"']
    log = (tmp_path / "rogue.log").open("ab")
    return subprocess.Popen(args, env=flower_env(tmp_path / "rogue-home"), stdout=log, stderr=log)


def announced(node: Node) -> dict:
    """The Flower node a member announced on the guild's log."""
    shop = Workshop.open(node.home)
    state = GuildLog(shop, node.guild()["id"]).state
    return state.flower[state.person[shop.member]]


def release_record(node: Node) -> dict:
    shop = Workshop.open(node.home)
    state = GuildLog(shop, node.guild()["id"]).state
    return next(iter(state.releases.values()))
