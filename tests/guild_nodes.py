"""Member nodes for guild tests: each a workshop folder served by a real `apprentice serve` process on 127.0.0.1,
its page over plain HTTP and its guild part over TLS, with the member key as its certificate.

Commands run as the member would type them, with that member's APPRENTICE_HOME.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from apprentice.cli import main


class Node:
    """One member: a workshop, and (while started) the serve process other members reach."""

    def __init__(self, root: Path, name: str) -> None:
        self.name, self.home = name, root / name
        self.process: subprocess.Popen | None = None
        self.address = ""  # the guild part, https://127.0.0.1:PORT
        self.page = ""  # the page, http://127.0.0.1:PORT
        self.log_path = root / f"{name}.log"

    def run(self, *args: str | Path, expect: int = 0, stdout: bool = False) -> str:
        """What the command printed (stdout only with `stdout`), after checking its exit code."""
        result = CliRunner().invoke(main, [str(a) for a in args], env={"APPRENTICE_HOME": str(self.home)})
        if result.exit_code != expect:
            command = " ".join(map(str, args))
            raise AssertionError(f"{self.name}: apprentice {command} → {result.output}{result.exception!r}")
        return result.stdout if stdout else result.output

    def json(self, *args: str | Path) -> dict | list:
        return json.loads(self.run(*args, "--json", stdout=True))

    def start(self, port: int = 0) -> None:
        """Serve the workshop's guild part on a free port (or `port`, to come back where the others know it to be)."""
        env = os.environ | {"APPRENTICE_HOME": str(self.home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        ports = ["--port", "0", "--guild-port", str(port)]
        command = [sys.executable, "-m", "apprentice.cli", "serve", "--no-browser", *ports]
        log = self.log_path.open("a")
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        lines = self.process.stdout.readline() + self.process.stdout.readline()
        page = re.search(r"http://127\.0\.0\.1:(\d+)/", lines)
        guild = re.search(r"reach your node at (https://127\.0\.0\.1:\d+) ", lines)
        if not (page and guild):
            self.stop()
            raise AssertionError(f"{self.name}'s node did not start: {lines!r} {self.log_path.read_text()}")
        self.page, self.address = f"http://127.0.0.1:{page.group(1)}", guild.group(1)

    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def guild(self) -> dict:
        return self.json("guild", "show")


def wait_for(condition, seconds: float = 30.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False
