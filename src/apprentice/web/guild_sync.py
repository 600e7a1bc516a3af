"""While `apprentice serve` runs, it syncs every guild with the members' nodes it can reach, every minute.

So a member who only keeps the page open still catches up, relays for others and receives shared apprentices.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from apprentice.errors import ApprenticeError
from apprentice.guild.actions import catch_up_all
from apprentice.store.workshop import Workshop

log = logging.getLogger("apprentice.guild")


def interval() -> float:
    """Seconds between syncs: APPRENTICE_SYNC_SECONDS, 60 by default; 0 turns the background sync off."""
    try:
        return max(0.0, float(os.environ.get("APPRENTICE_SYNC_SECONDS", "60")))
    except ValueError:
        return 60.0


class BackgroundSync:
    """A daemon thread that syncs and fetches releases until stopped."""

    def __init__(self, home: Path, every: float) -> None:
        self.home, self.every = home, every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="guild-sync", daemon=True)

    def start(self) -> None:
        if self.every > 0:
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=15)

    def loop(self) -> None:
        while not self.stopping.wait(self.every):
            self.once()

    def once(self) -> None:
        shop = Workshop.open(self.home)
        try:
            for guild, done in catch_up_all(shop).items():
                report = done.report
                if report.pulled or report.pushed or done.fetched:
                    log.info(
                        "guild %s: synced, %d in, %d out, %d apprentice(s) fetched",
                        guild[:12],
                        report.pulled,
                        report.pushed,
                        len(done.fetched),
                    )
        except ApprenticeError as error:
            log.warning("guild sync: %s", error)
        except Exception:  # a bug: keep serving, say so in the log
            log.exception("guild sync failed")
        finally:
            shop.close()
