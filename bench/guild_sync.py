"""How fast a guild's log moves and folds: a new member's first sync of N records, and a node reading its state.

Two real nodes on 127.0.0.1 (the founder serves; the newcomer syncs over TLS), as `apprentice serve` and the CLI
run them.
Usage: python bench/guild_sync.py [--records 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apprentice.guild import membership
from apprentice.guild.log import GuildLog
from apprentice.guild.peers import sync
from apprentice.store.workshop import Workshop


def serve(home: Path) -> tuple[subprocess.Popen, str]:
    env = os.environ | {"APPRENTICE_HOME": str(home), "APPRENTICE_SYNC_SECONDS": "0"}
    command = [sys.executable, "-m", "apprentice.cli", "serve", "--no-browser", "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = process.stdout.readline() + process.stdout.readline()  # the page, then the guild part over TLS
    return process, re.search(r"reach your node at (https://127\.0\.0\.1:\d+)", lines).group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records the founder writes before the sync")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ada = Workshop.init(root / "ada", "Ada")
        process, address = serve(root / "ada")
        try:
            guild = membership.create(ada, "Bench guild", address)
            started = time.perf_counter()
            for _ in range(args.records - 1):
                guild.append("address", {"address": address})  # the schema allows no other field
            writing = time.perf_counter() - started
            ben = Workshop.init(root / "ben", "Ben")
            invite = membership.invite(guild)
            started = time.perf_counter()
            _, report = membership.join(ben, invite, "https://127.0.0.1:9")
            syncing = time.perf_counter() - started
            started = time.perf_counter()
            GuildLog(ben, guild.id).state.members()
            folding = time.perf_counter() - started
            started = time.perf_counter()
            again = sync(ben, guild.id, only=[address])
            idle = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait()
    held = report.pulled
    print(f"Command: python bench/guild_sync.py --records {args.records}")
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; SQLite synchronous=FULL")
    print(
        f"- founder signs and stores {args.records - 1} records: {writing:.2f} s ({(args.records - 1) / writing:.0f}/s)"
    )
    print(f"- newcomer joins and pulls {held} records over TLS: {syncing:.2f} s ({held / syncing:.0f} records/s)")
    print(f"- folding {held} records into the guild's state: {folding * 1000:.0f} ms")
    print(f"- a sync with nothing new: {idle * 1000:.0f} ms ({again.pulled} pulled)")


if __name__ == "__main__":
    main()
