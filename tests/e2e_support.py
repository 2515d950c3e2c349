"""Shared set-up for the end-to-end dispatch tests (test_dispatch_e2e, test_dispatch_faults).

A "world" is everything a declaration touches, all real except Twilio: a roster written as
CSV and imported through the `dispatcher` command line, the app from `create_app` with the
`twilio` SMS channel pointed at an in-process `FakeTwilio` and the `smtp` e-mail channel at a
real aiosmtpd server on loopback, and a leader token. Assertions read what the fake phone
company and the mail server received, and the outbox rows.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp.typedefs import Handler
from pytest_aiohttp import AiohttpClient, AiohttpServer

from dispatcher import cli
from dispatcher.clock import Clock, ManualClock, from_millis
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.access import AccessRole
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.database import Database
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.fakes.smtp_server import SmtpServer, running_smtp_server
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

Client = TestClient[web.Request, web.Application]

FROM_NUMBER = "+46766860000"
PUBLIC_URL = "https://kris.example.se"
PENDING_STATES = ("queued", "sending", "failed_temporary")


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit_id: str
    name: str
    service: str
    area: str
    address: str
    crisis_need: str = ""


@dataclass(frozen=True, slots=True)
class StaffRow:
    person_id: str
    name: str
    placement: str
    phone: str = ""  # as people write it: "070-100 00 01", "08-712 34 56"
    email: str = ""
    reserve: str = ""


def write_roster(directory: Path, units: Sequence[UnitRow], staff: Sequence[StaffRow]) -> Path:
    """units.csv and staff.csv in the contract's format (semicolons, as Excel writes them)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "units.csv").open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(("unit_id", "name", "service", "area", "address", "crisis_need"))
        writer.writerows(
            (u.unit_id, u.name, u.service, u.area, u.address, u.crisis_need) for u in units
        )
    with (directory / "staff.csv").open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(
            (
                *("person_id", "name", "phone", "email", "role", "pay_pct", "department"),
                *("placement", "reserve_placement"),
            )
        )
        writer.writerows(
            (
                s.person_id,
                s.name,
                s.phone,
                s.email,
                "admin",
                "100",
                "Ekonomi",
                s.placement,
                s.reserve,
            )
            for s in staff
        )
    return directory


def import_roster(database: Path, roster: Path) -> None:
    """`dispatcher roster import` on the files in `roster`, into `database` (the real CLI).

    Blocking (the command runs its own event loop): from async code, use `asyncio.to_thread`.
    """
    config = roster / "import.toml"
    config.write_text(f"[service]\ndatabase = '{database}'\n", encoding="utf-8")
    argv = ["--config", str(config), "roster", "import"]
    argv += ["--units", str(roster / "units.csv"), "--staff", str(roster / "staff.csv")]
    if (roster / "training.csv").exists():
        argv += ["--training", str(roster / "training.csv")]
    status = cli.main(argv)
    assert status == 0, f"roster import failed with exit status {status}"


def mobile(n: int) -> str:
    """A valid Swedish mobile number as people write it; distinct for distinct n < 10^7."""
    digits = f"{n:07d}"
    return f"070-{digits[:3]} {digits[3:5]} {digits[5:]}"


def e164(n: int) -> str:
    """`mobile(n)` as the importer stores it."""
    return f"+4670{n:07d}"


def _merged(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def world_settings(
    database: Path, api_base: str, smtp: SmtpServer, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Twilio SMS to the fake and SMTP e-mail to the test server, both fast-paced."""
    raw: dict[str, Any] = {
        "service": {"database": str(database), "public_url": PUBLIC_URL},
        "sms": {
            "provider": "twilio",
            "rate_per_second": 1000,
            "twilio": {
                "account_sid": DEFAULT_ACCOUNT_SID,
                "auth_token": DEFAULT_AUTH_TOKEN,
                "from_number": FROM_NUMBER,
                "api_base": api_base,
                "timeout_seconds": 5.0,
            },
        },
        "email": {
            "provider": "smtp",
            "host": smtp.host,
            "port": smtp.port,
            "rate_per_second": 1000,
            "timeout_seconds": 5.0,
        },
    }
    return settings_from_mapping(_merged(raw, overrides or {}), {})


@dataclass
class DispatchWorld:
    app: web.Application
    client: Client
    fake: FakeTwilio
    smtp: SmtpServer
    leader: str  # a leader's bearer token
    twilio_requests: Counter[str]  # API requests that reached the fake, by method

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app[DISPATCHER]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.leader}"}

    async def post(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        response = await self.client.post(path, json=body, headers=self.auth)
        return response.status, await response.json()

    async def get(self, path: str) -> Any:
        response = await self.client.get(path, headers=self.auth)
        assert response.status == 200, await response.text()
        return await response.json()

    async def declare(self, body: Mapping[str, Any]) -> dict[str, Any]:
        status, activation = await self.post("/api/activations", body)
        assert status == 201, activation
        assert isinstance(activation, dict)
        return activation

    async def count(self, table: str) -> int:
        row = await self.db.fetch_one(f"SELECT COUNT(*) FROM {table}")
        assert row is not None
        return int(row[0])

    async def outbox_states(self) -> Counter[str]:
        rows = await self.db.fetch_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
        return Counter({str(r[0]): int(r[1]) for r in rows})

    async def pending(self) -> int:
        states = await self.outbox_states()
        return sum(states[s] for s in PENDING_STATES)

    def sms_per_number(self) -> Counter[str]:
        return Counter(m.to for m in self.fake.messages)

    def emails_per_address(self) -> Counter[str]:
        return Counter(str(m["To"]) for m in self.smtp.messages)


def count_requests(fake: FakeTwilio) -> Counter[str]:
    """Count the fake's API requests by method as they arrive (GET: lookups, POST: sends).

    An observing middleware on the fake's app; call before the fake's server starts.
    """
    seen: Counter[str] = Counter()

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/_fake/"):
            seen[request.method] += 1
        return await handler(request)

    fake.app.middlewares.append(observe)
    return seen


@asynccontextmanager
async def running_world(
    tmp_path: Path,
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    roster: Path,
    *,
    clock: Clock | None = None,
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[DispatchWorld]:
    """Import `roster`, start the fake Twilio, an SMTP server and the app; stop all after."""
    database = tmp_path / "dispatcher.sqlite3"
    await asyncio.to_thread(import_roster, database, roster)
    fake = FakeTwilio()
    requests = count_requests(fake)
    twilio = await aiohttp_server(fake.app)
    api_base = str(twilio.make_url("/")).rstrip("/")
    with running_smtp_server() as smtp:
        app = create_app(world_settings(database, api_base, smtp, settings), clock=clock)
        client = await aiohttp_client(app)
        try:
            token = await app[ACCESS_TOKENS].create("e2e leader", AccessRole.LEADER)
            yield DispatchWorld(app, client, fake, smtp, token.secret, requests)
        finally:
            fake.release()  # nothing may stay hung while the dispatcher stops
            await client.close()  # stops the dispatcher while the SMTP server still answers
    await twilio.close()


async def settle(world: DispatchWorld, clock: ManualClock, *, rounds: int = 12) -> int:
    """Let the dispatcher work until no message is pending, moving the clock on each time it
    is idle with retries waiting: just far enough that every waiting retry is due.

    Returns how many times the clock had to move; fails after `rounds` moves.
    """
    for moves in range(rounds + 1):
        await world.dispatcher.wait_idle()
        if not await world.pending():
            return moves
        row = await world.db.fetch_one(
            "SELECT MAX(next_attempt_at) FROM messages"
            " WHERE state IN ('queued', 'failed_temporary')"
        )
        assert row is not None and row[0] is not None, await world.outbox_states()
        clock.advance(max(timedelta(0), from_millis(int(row[0])) - clock.now()))
    raise AssertionError(f"still pending after {rounds} moves: {await world.outbox_states()}")
