"""The real service for `scripts/bench_replies`: set up through the `dispatcher` command
line and run as `dispatcher serve` in its own process, with the Twilio SMS channel
pointed at the fake Twilio process.

Set-up (not timed): a configuration file, a demo roster imported with
`dispatcher roster import`, a crisis declared with `dispatcher activate`, an access token
from `dispatcher token create`. Then `dispatcher serve` hands the call-ups to the fake
(status callbacks come back signed, as from Twilio) and `wait_for_dispatch` waits until
every first message has been handed over and reported delivered.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _bench.children import Server, clean_environment, free_port, running_server
from _bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from _bench.rosters import RosterFiles

SERVICE_NUMBER = "+46766860000"
COMMAND_TIMEOUT_SECONDS = 600.0
# Messages not yet handed over or not yet reported back by the fake's status callbacks.
_UNSETTLED = (
    "SELECT COUNT(*) FROM messages WHERE state IN ('queued', 'sending', 'failed_temporary')"
    " OR (channel = 'sms' AND state = 'sent')"
)


@dataclass(frozen=True, slots=True)
class ServiceSetup:
    """Where one benchmark service lives: its configuration, database and address."""

    directory: Path
    config: Path
    database: Path
    port: int

    @property
    def public_url(self) -> str:
        """The service's own address: Twilio's signatures and callbacks both use it."""
        return f"http://127.0.0.1:{self.port}"


def write_config(directory: Path, fake: FakeTwilio) -> ServiceSetup:
    """The service's settings for a run. SMS and e-mail at the highest rate the settings
    allow, so the dispatch before the measurement is short; escalation and gap reports
    far enough out that none fall inside a run (they would add work to the measurement)."""
    directory.mkdir(parents=True, exist_ok=True)
    setup = ServiceSetup(
        directory, directory / "dispatcher.toml", directory / "dispatcher.sqlite3", free_port()
    )
    setup.config.write_text(
        f"""\
[service]
host = "127.0.0.1"
port = {setup.port}
public_url = "{setup.public_url}"
database = "{setup.database}"

[sms]
provider = "twilio"
rate_per_second = 1000

[sms.twilio]
account_sid = "{ACCOUNT_SID}"
auth_token = "{AUTH_TOKEN}"
from_number = "{SERVICE_NUMBER}"
api_base = "{fake.url}"

[email]
provider = "sandbox"
rate_per_second = 1000

[escalation]
remind_after_minutes = 600
other_channel_after_minutes = 1200
answer_deadline_minutes = 1440
gap_report_every_minutes = 1440
""",
        encoding="utf-8",
    )
    return setup


def dispatcher_cli(setup: ServiceSetup, *arguments: str) -> str:
    """Run one `dispatcher` command (its own process) and return its standard output."""
    command = [sys.executable, "-m", "dispatcher", "--config", str(setup.config), *arguments]
    done = subprocess.run(
        command,
        cwd=setup.directory,  # no config/templates/ overrides from the checkout
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dispatcher {arguments[0]} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout


def import_roster(setup: ServiceSetup, files: RosterFiles) -> None:
    units, staff, training = files.paths
    dispatcher_cli(
        setup, "roster", "import", "--units", str(units), "--staff", str(staff),
        "--training", str(training), "--json",
    )  # fmt: skip


def declare_crisis(setup: ServiceSetup) -> str:
    """Declare a crisis for the whole municipality; its activation id."""
    raw = dispatcher_cli(setup, "activate", "--kind", "crisis", "--title", "Storm", "--json")
    activation_id: str = json.loads(raw)["id"]
    return activation_id


def create_token(setup: ServiceSetup, role: str) -> str:
    raw = dispatcher_cli(setup, "token", "create", "--role", role, "--name", f"bench {role}")
    return raw.strip().splitlines()[-1]


@contextmanager
def running_service(setup: ServiceSetup) -> Iterator[Server]:
    """`dispatcher serve` in its own process, ready once it answers `/healthz`; its logs
    (one JSON line per request and per answer, as in production) go to a file."""
    command = [sys.executable, "-m", "dispatcher", "--config", str(setup.config), "serve"]
    log = setup.directory / "service.log"
    with running_server(
        "dispatcher serve", command, log, cwd=setup.directory, url=setup.public_url
    ) as server:
        with urllib.request.urlopen(f"{setup.public_url}/healthz", timeout=30) as answer:
            if answer.status != 200:
                raise RuntimeError(f"dispatcher serve is not healthy: {answer.read()!r}")
        yield server


def logged_errors(setup: ServiceSetup) -> int:
    """Error events in the service's log (JSON lines; an exception is logged as an error)."""
    with (setup.directory / "service.log").open(encoding="utf-8") as log:
        return sum('"level": "error"' in line for line in log)


def unsettled_messages(database: Path) -> int:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return int(connection.execute(_UNSETTLED).fetchone()[0])


def wait_for_dispatch(database: Path, server: Server, max_seconds: float) -> tuple[float, int]:
    """Wait until every message is handed over and every SMS reported delivered, at most
    `max_seconds`; the seconds waited and the messages still unsettled then (0: all done)."""
    started = time.monotonic()
    while True:  # bounded by max_seconds
        if server.process.poll() is not None:
            raise RuntimeError("dispatcher serve stopped during the dispatch (see service.log)")
        unsettled = unsettled_messages(database)
        waited = time.monotonic() - started
        if unsettled == 0 or waited >= max_seconds:
            return waited, unsettled
        time.sleep(0.5)  # the service's own progress: nothing to wait on but the database


def deliver_automatically(fake: FakeTwilio) -> None:
    """Make the fake report each SMS sent, then delivered, by signed status callbacks."""
    request = urllib.request.Request(  # our own loopback URL
        fake.url + "/_fake/faults",
        data=json.dumps({"auto_deliver": True, "auto_delay": 0.05}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
