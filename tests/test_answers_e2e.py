"""End to end: the fake Twilio delivers signed inbound replies to the real app; the status
body must equal a count made independently from the replies sent."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from twilio.request_validator import RequestValidator

from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.conftest import START
from tests.fakes.smtp_server import free_port
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

UNITS = tuple(
    Unit(f"U{u}", f"Enhet {u}", "äldreomsorg", "Norr", f"Vägen {u}, Lerum", 4) for u in range(3)
)
PEOPLE = tuple(
    Person(
        f"P{i:02d}",
        f"Person {i}",
        f"+467010000{i:02d}",
        PhoneKind.MOBILE,
        None,
        Role.ADMIN,
        100,
        "Ekonomi",
        f"U{i % 3}",
        None,
    )
    for i in range(30)
)


@dataclass
class World:
    app: web.Application
    client: TestClient[web.Request, web.Application]
    fake: FakeTwilio
    inbound_url: str
    leader: str

    async def post_inbound(self, sid: str, sender: str, body: str) -> int:
        """An inbound SMS signed as Twilio signs it, with a chosen MessageSid."""
        params = {
            "AccountSid": DEFAULT_ACCOUNT_SID,
            "MessageSid": sid,
            "From": sender,
            "To": "+46766860000",
            "Body": body,
        }
        signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(self.inbound_url, params)
        response = await self.client.post(
            "/webhooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
        )
        return response.status


@pytest.fixture
async def world(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, database_path: Path
) -> AsyncIterator[World]:
    fake = FakeTwilio()
    twilio = await aiohttp_server(fake.app)
    port = free_port()  # Twilio signs the URL it calls: the app's address comes first
    public_url = f"http://127.0.0.1:{port}"
    settings = settings_from_mapping(
        {
            "service": {"database": str(database_path), "public_url": public_url},
            "sms": {
                "provider": "twilio",
                "rate_per_second": 1000,
                "twilio": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "auth_token": DEFAULT_AUTH_TOKEN,
                    "from_number": "+46766860000",
                    "api_base": str(twilio.make_url("/")).rstrip("/"),
                },
            },
        },
        {},
    )
    app = create_app(settings, clock=ManualClock(START))
    client = await aiohttp_client(app, server_kwargs={"host": "127.0.0.1", "port": port})
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE),
        imported_by="t",
        source="t",
        warnings=0,
        imported_at_ms=0,
    )
    leader = await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
    yield World(app, client, fake, public_url + "/webhooks/twilio/sms", leader.secret)
    await fake.close()


async def test_a_mix_of_replies_gives_exactly_the_counted_status(world: World) -> None:
    response = await world.client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers={"Authorization": f"Bearer {world.leader}"},
    )
    activation = await response.json()
    await world.app[DISPATCHER].wait_idle()
    assert len(world.fake.messages) == 30

    rng = random.Random(7)
    scripts = ["JA", "ja 30", "Ja! kommer om 20 min", "NEJ - sjuk", "nej tack", "hmm?", "👍", ""]
    final: dict[str, str] = {}  # person -> the state the last understood reply leaves
    sends: list[tuple[str, str, str]] = []  # (sid, sender, body), in delivery order
    for index, person in enumerate(PEOPLE):
        number = person.phone or ""
        replies = rng.sample(scripts, k=rng.randint(1, 3))  # a change of mind, or garbage
        for n, body in enumerate(replies):
            sends.append((f"SM{index:02d}{n:030d}", number, body))
    rng.shuffle(sends)  # out of order across people (each person's own order as delivered)
    sends += rng.sample(sends, k=10)  # Twilio delivering some webhooks twice
    seen: set[str] = set()
    for sid, number, body in sends:
        assert await world.post_inbound(sid, number, body) == 200
        if sid in seen:
            continue
        seen.add(sid)
        word = body.split()[0].strip("!").upper() if body.split() else ""
        if word == "JA":
            final[number] = "confirmed"
        elif word == "NEJ":
            final[number] = "declined"

    expected = Counter(final.values())
    expected["awaiting"] = 30 - len(final)
    status = await (
        await world.client.get(
            f"/api/activations/{activation['id']}/status",
            headers={"Authorization": f"Bearer {world.leader}"},
        )
    ).json()
    totals = status["totals"]
    assert (totals["confirmed"], totals["declined"], totals["awaiting"]) == (
        expected["confirmed"],
        expected["declined"],
        expected["awaiting"],
    )
    assert totals["called"] == 30
    per_unit = Counter(
        f"U{PEOPLE.index(p) % 3}" for p in PEOPLE if final.get(p.phone or "") == "confirmed"
    )
    assert {u["unit_id"]: u["confirmed"] for u in status["units"]} == {
        f"U{u}": per_unit[f"U{u}"] for u in range(3)
    }
    stored = await world.app[DATABASE].fetch_one("SELECT COUNT(*) FROM inbound_messages")
    assert stored is not None and stored[0] == len(seen)  # each MessageSid stored once
    answered = await world.app[DATABASE].fetch_one(
        "SELECT COUNT(*) FROM inbound_messages WHERE reply IS NOT NULL"
    )
    assert answered is not None and answered[0] > len(final)  # confirmations and help texts
