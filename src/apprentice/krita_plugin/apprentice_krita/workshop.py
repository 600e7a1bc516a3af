"""The plugin's client of `apprentice serve`: the JSON API on 127.0.0.1 over the standard library's urllib.

Every call blocks, so the docker makes them on a worker thread; errors are one sentence (WorkshopError).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

DEFAULT_ADDRESS = "http://127.0.0.1:8765"
SETTINGS = Path(__file__).with_name("settings.json")  # written by `apprentice krita install`
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class WorkshopError(Exception):
    """What the workshop (or the way to it) said went wrong, in one sentence."""


class NotRunning(WorkshopError):
    """Nothing answers at the workshop's address."""


def settings() -> dict:
    """What `apprentice krita install` recorded: how to start the workshop, and where it answers."""
    try:
        return json.loads(SETTINGS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class Workshop:
    """Your workshop as `apprentice serve` shows it on this computer; one method per API call."""

    def __init__(self, address: str = "", timeout: float = 60.0) -> None:
        self.address = (address or settings().get("address") or DEFAULT_ADDRESS).rstrip("/")
        parts = urlsplit(self.address)
        if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
            raise WorkshopError(f"{self.address} is not on this computer; the plugin talks only to 127.0.0.1.")
        self.timeout = timeout
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> bytes:
        """The answer's body; WorkshopError with the workshop's own sentence when it refuses."""
        headers = {"Accept": "application/json"} | ({"Content-Type": content_type} if content_type else {})
        request = urllib.request.Request(self.address + path, data=body, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            raise WorkshopError(detail(error.read(), f"The workshop answered {error.code} to {path}.")) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            raise NotRunning(
                f"Apprentice's workshop is not running at {self.address} ({reason(error)}); "
                "press Start workshop, or run `apprentice serve`."
            ) from None

    def call(self, method: str, path: str, payload: dict | None = None) -> object:
        body = None if payload is None else json.dumps(payload).encode()
        answer = self.request(method, path, body, "application/json" if body is not None else "")
        return json.loads(answer) if answer else None

    def upload(self, path: str, files: list[tuple[str, bytes]], fields: dict[str, str] | None = None) -> dict:
        body, content_type = multipart(files, fields or {})
        return json.loads(self.request("POST", path, body, content_type))

    def running(self) -> bool:
        """Whether the workshop answers (quickly)."""
        try:
            Workshop(self.address, timeout=2.0).call("GET", "/api/tasks")
        except WorkshopError:
            return False
        return True

    def tasks(self) -> list[dict]:
        return self.call("GET", "/api/tasks")

    def new_task(self, name: str, kind: str = "paired") -> dict:
        return self.call("POST", "/api/tasks", {"name": name, "kind": kind})

    def task(self, name: str) -> dict:
        """One task with its examples (`example_list`) and its newest apprentice's manifest."""
        return self.call("GET", f"/api/tasks/{quote(name, safe='')}")

    def apprentices(self, name: str) -> list[dict]:
        """The task's apprentices, newest first, each with its manifest (scores, owners learned from)."""
        return self.call("GET", f"/api/tasks/{quote(name, safe='')}/apprentices")

    def add_examples(self, name: str, files: list[tuple[str, bytes]]) -> dict:
        """Add examples from named PNG files: X.before.png + X.after.png, or one sequence's frames in name order."""
        return self.upload(f"/api/tasks/{quote(name, safe='')}/examples", files, {"mine": "true"})

    def train(self, name: str, steps: int | None = None, minutes: float | None = None) -> dict:
        return self.call("POST", f"/api/tasks/{quote(name, safe='')}/train", {"steps": steps, "minutes": minutes})

    def training(self, name: str) -> dict:
        """The task's training state: running, step, loss, held-out scores, preview_url, error, apprentice."""
        return self.call("GET", f"/api/tasks/{quote(name, safe='')}/train")

    def stop(self, name: str) -> dict:
        return self.call("POST", f"/api/tasks/{quote(name, safe='')}/train/stop")

    def download(self, url: str) -> bytes:
        """A file the workshop offers (a job's output, the training preview), by its /api/ address."""
        if not url.startswith("/api/"):
            raise WorkshopError(f"{url} is not a file of this workshop; apply the apprentice again.")
        return self.request("GET", url)

    def apply(self, name: str, files: list[tuple[str, bytes]], between: int = 1, timing: str = "") -> dict:
        """Apply the task's newest apprentice to named PNG files (key poses in name order for in-betweens: `between`
        of them spaced evenly, or as the timing chart says)."""
        fields = {"timing": timing} if timing else {"between": str(between)}
        return self.upload(f"/api/tasks/{quote(name, safe='')}/apply", files, fields)


def detail(body: bytes, otherwise: str) -> str:
    try:
        found = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        found = None
    return found if isinstance(found, str) and found else otherwise


def reason(error: Exception) -> str:
    cause = getattr(error, "reason", error)
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body: each field, then each file as a `files` part; and its Content-Type."""
    boundary = "apprentice-" + secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    for name, data in files:
        safe = name.replace('"', "").replace("\r", "").replace("\n", "")
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{safe}"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def start_command() -> list[str] | None:
    """How to run `apprentice serve --no-browser`: as installed, else `apprentice` on PATH or by this interpreter."""
    recorded = settings().get("command")
    if isinstance(recorded, list) and recorded and all(isinstance(part, str) for part in recorded):
        return [*recorded, "serve", "--no-browser"]
    beside = Path(sys.executable).with_name("apprentice.exe" if os.name == "nt" else "apprentice")
    found = shutil.which("apprentice") or (str(beside) if beside.is_file() else None)
    return [found, "serve", "--no-browser"] if found else None


def start_workshop() -> subprocess.Popen:
    """Start `apprentice serve` in the background (it listens on 127.0.0.1 only)."""
    command = start_command()
    if command is None:
        raise WorkshopError("Apprentice is not installed where Krita can find it; run `apprentice krita install`.")
    environment = os.environ | settings().get("environment", {})
    return subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
