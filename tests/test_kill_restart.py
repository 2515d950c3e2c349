"""The kill test: `dispatcher serve` in its own process, sending to the fake Twilio in another,
is killed with SIGKILL in the middle of a 5,000-person drill and started again.

Every person gets exactly one call-up, except those whose message was in flight at the kill
(left `sending`), who get at most two; the restarted service asks Twilio about those before
resending, so duplicates should be rare (0 in every run so far).

Both services are outside this process, so the test polls them (`/healthz`, the fake's
`/_fake/messages`, the SQLite file) at a short, bounded interval instead of awaiting events.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from dispatcher import cli
from dispatcher.demo import write_demo_roster
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = 5000
KILL_AFTER = 600  # SMS at the fake Twilio before the kill: about a tenth of the drill
POLL_SECONDS = 0.05  # polling another process: short, and every wait below is bounded
PENDING = ("queued", "sending", "failed_temporary")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(what: str, condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not stopped within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_line(stream: IO[bytes], process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], POLL_SECONDS)
        if ready:
            return stream.readline().decode().strip()
        if process.poll() is not None:
            break
    raise AssertionError(f"no line from process {process.pid} within {timeout:g} s")


@pytest.fixture
def fake_twilio(tmp_path: Path) -> Iterator[str]:
    """The fake Twilio API as its own process; its base URL."""
    with (tmp_path / "fake_twilio.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.twilio_api", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        assert process.stdout is not None
        try:
            yield read_line(process.stdout, process, timeout=20)
        finally:
            stop(process)
            process.stdout.close()


@dataclass
class Service:
    """`dispatcher serve` as its own process, started and killed by the test."""

    config: Path
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dispatcher", "--config", str(self.config), "serve"],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=log,
                stderr=log,
            )
        wait_for("the service to answer /healthz", self._healthy, timeout=30)

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}: {self.tail()}")
        try:
            return bool(get_json(f"{self.url}/healthz")["status"] == "ok")
        except (urllib.error.URLError, ConnectionError):
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


@pytest.fixture
def service(tmp_path: Path, fake_twilio: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """A configured service, not yet started; stopped after the test whatever happens."""
    for name in list(os.environ):
        if name.startswith(("DISPATCHER_", "TWILIO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DISPATCHER_DATABASE", str(tmp_path / "dispatcher.sqlite3"))
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    port = free_port()
    config = tmp_path / "dispatcher.toml"
    config.write_text(
        f"""
[service]
port = {port}
public_url = "http://127.0.0.1:{port}"

[sms]
provider = "twilio"
rate_per_second = 1000  # segments: about 500 two-segment call-ups a second

[sms.twilio]
from_number = "+46766860000"
api_base = "{fake_twilio}"
timeout_seconds = 5.0

[email]
rate_per_second = 1000
""",
        encoding="utf-8",
    )
    running = Service(config, f"http://127.0.0.1:{port}", tmp_path / "serve.log")
    try:
        yield running
    finally:
        running.stop()


def query(sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Read the service's database (WAL: a reader never blocks the service)."""
    with contextlib.closing(sqlite3.connect(os.environ["DISPATCHER_DATABASE"])) as db:
        return db.execute(sql, params).fetchall()


def outbox_empty() -> bool:
    pending = ", ".join(f"'{state}'" for state in PENDING)
    return not query(f"SELECT 1 FROM messages WHERE state IN ({pending}) LIMIT 1")


def messages_at_fake(fake_twilio: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = get_json(f"{fake_twilio}/_fake/messages")["messages"]
    return messages


def test_killed_mid_dispatch_everyone_still_gets_one_callup(
    tmp_path: Path, service: Service, fake_twilio: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ["--config", str(service.config)]
    roster = write_demo_roster(tmp_path / "roster", people=PEOPLE, seed=2026).directory
    files = ["--units", str(roster / "units.csv"), "--staff", str(roster / "staff.csv")]
    assert cli.main([*config, "roster", "import", *files]) == 0
    service.start()
    capsys.readouterr()
    assert cli.main([*config, "activate", "--kind", "drill", "--title", "Natt", "--json"]) == 0
    activation_id = json.loads(capsys.readouterr().out)["id"]

    wait_for(
        f"{KILL_AFTER} SMS at the fake Twilio",
        lambda: len(messages_at_fake(fake_twilio)) >= KILL_AFTER,
        timeout=30,
    )
    service.kill()
    at_kill = Counter(m["to"] for m in messages_at_fake(fake_twilio))
    in_flight = {r[0] for r in query("SELECT recipient FROM messages WHERE state = 'sending'")}
    assert in_flight, "nothing was in flight at the kill: the test proved nothing"
    assert at_kill.total() < 0.9 * PEOPLE, "the drill was nearly done before the kill"
    # Sent before the kill, but the dead service never recorded it: recovery must find these.
    answer_lost = {number for number in in_flight if at_kill[number]}

    service.start()
    wait_for("the outbox to empty", outbox_empty, timeout=45)

    callups = query(
        "SELECT person_id, sms_number, email, state FROM callups WHERE activation_id = ?",
        activation_id,
    )
    sms = Counter(m["to"] for m in messages_at_fake(fake_twilio))
    emails = Counter(r[0] for r in query("SELECT recipient FROM sandbox_messages"))
    assert len(callups) > 0.9 * PEOPLE
    wrong: list[str] = []
    for person_id, number, email, state in callups:
        address = number or email  # SMS when there is a mobile, else e-mail (sandbox)
        got = sms[number] if number else emails[email] if email else 0
        allowed = (1, 2) if address in in_flight else (1,) if address else (0,)
        if got not in allowed or (state == "failed") != (address is None):
            wrong.append(f"{person_id}: {got} call-ups, state {state}")
    assert not wrong, f"{len(wrong)} people got the wrong number of call-ups: {wrong[:10]}"
    resent = sorted(number for number in answer_lost if sms[number] != 1)
    assert not resent, (
        f"recovery sent {len(resent)} SMS again that Twilio already had: {resent[:5]}"
    )
    assert set(sms) <= {c[1] for c in callups}, "an SMS went to someone not called up"
    assert {r[0] for r in query("SELECT DISTINCT state FROM messages")} == {"sent"}

    duplicates = sum(n - 1 for n in sms.values()) + sum(n - 1 for n in emails.values())
    print(
        f"\nkill test: {at_kill.total()} SMS at the fake when killed; {len(in_flight)} messages "
        f"in flight, {len(answer_lost)} of them at the fake unrecorded; {duplicates} duplicates"
    )
