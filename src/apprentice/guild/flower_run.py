"""Running a passed federated proposal on Flower's deployment runtime: the host's node starts a SuperLink (TLS, only
the contributors' announced node keys registered) and the run; each contributor's node starts a SuperNode that
connects outward to it. Flower's own commands run as child processes, telemetry off, no Ray.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from apprentice.errors import Conflict, Unreachable
from apprentice.files import write_atomically
from apprentice.guild import federation, flower_keys
from apprentice.guild.log import GuildLog
from apprentice.guild.run_files import RESULT, run_folder
from apprentice.guild.state import Proposal

APP = """[project]
name = "apprentice-guild"
version = "1.0.0"
description = "A guild's shared apprentice, trained where each member's pictures are"
license = "AGPL-3.0-or-later"
dependencies = []

[tool.flwr.app]
publisher = "apprentice"

[tool.flwr.app.components]
serverapp = "apprentice.guild.flower_apps:server"
clientapp = "apprentice.guild.flower_apps:client"

[tool.flwr.app.config]
plan = ""
proposal = ""
"""
CONNECTION = """[superlink]
default = "guild"

[superlink.guild]
address = "{address}"
root-certificates = "{certificate}"
"""
REFUSED = re.compile(
    r"Attempted to register SuperNode with public key: b'(-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----)"
)


def flower_env(home: Path) -> dict[str, str]:
    """The environment Flower's commands run in: telemetry and update checks off, nothing installed at run time,
    their own home."""
    return os.environ | {
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",  # nor does it ask the internet for a newer Flower
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "FLWR_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),  # its own commands
    }


def command(name: str) -> str:
    """One of Flower's commands, from the environment Apprentice runs in."""
    return str(Path(sys.executable).parent / name)


def start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a Flower process this node started, with the children it started (SuperExec, app processes)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_port(host: str, port: int, seconds: float, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise Unreachable(f"Flower's SuperLink did not start; see {log_path}.", f"{host}:{port}", "not listening")


def announcement(guild_log: GuildLog, link_address: str) -> dict | None:
    """The `flower` record body this node should sign, or None when the log already says it."""
    keys = flower_keys.node_keys(guild_log.workshop.root, link_address.rsplit(":", 1)[0] or "127.0.0.1")
    body = {"node_key": keys.node_key(), "link_certificate": keys.certificate(), "link_address": link_address}
    person = guild_log.state.person.get(guild_log.workshop.member, "")
    return None if guild_log.state.flower.get(person) == body else body


# -- the host ---------------------------------------------------------------------------------------------------


def host(
    guild_log: GuildLog, proposal: Proposal, nodes: dict[str, str], seconds: float, on_line: Callable[[str], None]
) -> tuple[dict, list[str], Path]:
    """Run the proposal's rounds on a SuperLink this node serves: (the run's result, refused node keys, its folder)."""
    shop, folder = guild_log.workshop, run_folder(guild_log.workshop, proposal.hash)
    keys = flower_keys.node_keys(shop.root)
    link = guild_log.state.flower[guild_log.state.person[shop.member]]["link_address"]
    host_name, port = link.rsplit(":", 1)
    home = folder / "flower-home"
    write_atomically(home / "config.toml", CONNECTION.format(address=link, certificate=keys.link_certificate).encode())
    write_atomically(folder / "app" / "pyproject.toml", APP.encode())
    (folder / RESULT).unlink(missing_ok=True)
    env, log_path = flower_env(home), folder / "superlink.log"
    tls = ["--ssl-certfile", str(keys.link_certificate), "--ssl-keyfile", str(keys.link_key)]
    tls += ["--ssl-ca-certfile", str(keys.link_certificate), "--enable-supernode-auth"]
    link_process = start([command("flower-superlink"), "--host", host_name, "--port", port, *tls], env, log_path)
    try:
        wait_for_port(host_name, int(port), 60, link_process, log_path)
        registered = {register(key, person, folder, env): person for person, key in nodes.items()}
        plan = {
            "home": str(shop.root),
            "guild": guild_log.id,
            "proposal": proposal.hash,
            "folder": str(folder),
            "kind": proposal.body["task_kind"],
            "task_config": proposal.body.get("task_config") or {},
            "rounds": proposal.body["rounds"],
            "seconds": seconds,
            "seed": 0,
            "timeout": max(120.0, 20 * seconds),
            "nodes": registered,
        }
        write_atomically(folder / "plan.json", json.dumps(plan).encode())
        run_app(folder, proposal, env, on_line)
    finally:
        stop(link_process)
    if not (folder / RESULT).is_file():
        raise Conflict(f"The federated run of proposal {proposal.hash[:12]} ended without a result; see {log_path}.")
    allowed = set(nodes.values())  # a contributor's node that knocked before the host registered it is no stranger
    refused = [key for key in refused_keys(log_path) if key not in allowed]
    return json.loads((folder / RESULT).read_text()), refused, folder


def register(node_key: str, person: str, folder: Path, env: dict[str, str]) -> str:
    """Register a contributor's announced node key with the SuperLink; the node id Flower gives it."""
    path = folder / "keys" / f"{person[:16]}.pub"
    write_atomically(path, (node_key + "\n").encode())
    done = subprocess.run(
        [command("flwr"), "supernode", "register", str(path), "guild", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r'"node-id":\s*(\d+)', done.stdout)
    if not found:
        raise Conflict(f"Flower's SuperLink did not register {person[:12]}'s node: {done.stdout[-300:]}")
    return found.group(1)


def run_app(folder: Path, proposal: Proposal, env: dict[str, str], on_line: Callable[[str], None]) -> None:
    """Start the guild's app on the SuperLink and follow its log until the run ends."""
    overrides = f'plan="{folder / "plan.json"}" proposal="{proposal.hash}"'
    args = [command("flwr"), "run", str(folder / "app"), "guild", "--stream", "--run-config", overrides]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            on_line(line.rstrip())
            if (folder / RESULT).is_file():
                break
        process.terminate()


def refused_keys(log_path: Path) -> list[str]:
    """The node keys (OpenSSH form) that Flower's SuperLink refused, as its log names them."""
    refused = set()
    for pem in REFUSED.findall(log_path.read_text(errors="replace")):
        key = serialization.load_pem_public_key(pem.replace("\\n", "\n").encode())
        refused.add(key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode())
    return sorted(refused)


# -- a contributor ----------------------------------------------------------------------------------------------


def contribute(guild_log: GuildLog, proposal: Proposal, until: Callable[[], bool], seconds: float) -> Path:
    """Run a SuperNode for this node's member, connected outward to the host's SuperLink, until `until()` says the
    run is over (or `seconds` pass); the folder of its progress."""
    shop, state = guild_log.workshop, guild_log.state
    link = state.flower[federation.host_of(proposal)]
    folder = run_folder(shop, proposal.hash)
    write_atomically(folder / "host.pem", link["link_certificate"].encode())
    keys = flower_keys.node_keys(shop.root)
    config = f'home="{shop.root}" guild="{guild_log.id}"'
    args = [command("flower-supernode"), "--superlink", link["link_address"], "--root-certificates"]
    args += [str(folder / "host.pem"), "--auth-supernode-private-key", str(keys.node_private)]
    args += ["--host", "127.0.0.1", "--port", str(free_port()), "--node-config", config]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        node = start(args, flower_env(folder / "flower-home"), folder / "supernode.log")
        try:  # a SuperNode that is turned away (say, before the host registered its key) tries again
            while time.monotonic() < deadline and node.poll() is None and not until():
                time.sleep(1.0)
        finally:
            stop(node)
    return folder


def free_port() -> int:
    """A port nothing on 127.0.0.1 listens on now (the SuperNode's own local API)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
