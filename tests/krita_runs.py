"""Launching the Krita installed here under a virtual display until a file it writes appears, for the real-Krita
tests; xvfb-run -a can hand Krita a display whose server is not up yet, so that one failure is tried again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

COMMAND = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "krita", "--nosplash"]


def run_krita_until(environment: dict, out: Path, wanted: str, limit: float = 240.0) -> bool:
    """Run Krita until `out / wanted` exists, it exits, or `limit` seconds pass (its output in out/krita.log)."""
    for _ in range(3):
        with (out / "krita.log").open("wb") as log:
            output = {"stdout": log, "stderr": subprocess.STDOUT}
            krita = subprocess.Popen(COMMAND, env=environment, start_new_session=True, **output)
            try:
                deadline = time.monotonic() + limit
                while not (out / wanted).exists() and time.monotonic() < deadline and krita.poll() is None:
                    time.sleep(0.5)
            finally:
                os.killpg(krita.pid, signal.SIGTERM)
                krita.wait(timeout=30)
        if "could not connect to display" not in (out / "krita.log").read_text(errors="replace"):
            break
    return (out / wanted).exists()
