"""The fake Twilio API (`tests/fakes/twilio_api.py`) as its own process on 127.0.0.1.

It runs in a separate process so that its work does not share our event loop or our CPU:
on a two-core machine one core serves the fake, the other runs what is measured.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _bench.report import ROOT

ACCOUNT_SID = "AC" + "be" * 16  # the fake's own credentials, nothing real
AUTH_TOKEN = "bench-fake-auth-token"
STARTUP_SECONDS = 30.0
STOP_SECONDS = 5.0
CONTROL_TIMEOUT_SECONDS = 30.0


class FakeTwilio:
    """A running fake: its base URL and its `/_fake/…` controls."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(  # our own loopback URL
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        """Forget every message (between runs, outside any timing)."""
        self._call("POST", "/_fake/reset")

    def message_count(self) -> int:
        return len(self._call("GET", "/_fake/messages")["messages"])


@contextmanager
def running_fake(log: Path) -> Iterator[FakeTwilio]:
    """Start the fake, yield it once it has printed its URL, always stop it afterwards."""
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_REGION", "TWILIO_EDGE")}
    command = [sys.executable, "-m", "tests.fakes.twilio_api", "--host", "127.0.0.1"]
    command += ["--port", "0", "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN]
    with log.open("w", encoding="utf-8") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    try:
        yield FakeTwilio(_first_line(process, log))
    finally:
        _stop(process)


def _first_line(process: subprocess.Popen[str], log: Path) -> str:
    """The URL the fake prints when it is listening, waiting at most STARTUP_SECONDS."""
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:  # bounded by the deadline
            if selector.select(timeout=left):
                line = process.stdout.readline().strip()
                if line.startswith("http://127.0.0.1:"):
                    return line
                break
    problem = log.read_text(encoding="utf-8").strip()[-800:] or "no output"
    raise RuntimeError(f"the fake Twilio process did not start: {problem}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)
    if process.stdout is not None:
        process.stdout.close()
