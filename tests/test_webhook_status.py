"""Twilio's status callbacks, through the real app: call-ups declared over the API, sent by
the real twilio library to the fake Twilio, whose signed callbacks come back to the app;
e-mail fallbacks go to a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from twilio.request_validator import RequestValidator

from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import settings_from_mapping
from dispatcher.store.database import Database
from dispatcher.store.message_status import ResendPolicy
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.conftest import START
from tests.fakes.smtp_server import SmtpServer, free_port, running_smtp_server
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

PATH = "/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
ANNA = ("P1", "+46701111111", "anna@example.se")
BO = ("P2", "+46702222222", None)  # no e-mail: SMS is the only way to reach him

Client = TestClient[web.Request, web.Application]


def roster(*people: tuple[str, str, str | None]) -> Roster:
    unit = Unit("U1", "Solgården", "Äldreomsorg", "Centrum", "Storgatan 1", None)
    placed = [
        Person(pid, pid, phone, PhoneKind.MOBILE, email, Role.ADMIN, 100.0, "Ekonomi", "U1", None)
        for pid, phone, email in people
    ]
    return Roster(units=(unit,), people=tuple(placed))


@dataclass
class World:
    app: web.Application
    client: Client
    fake: FakeTwilio
    smtp: SmtpServer
    clock: ManualClock
    public_url: str

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def declare(self, *people: tuple[str, str, str | None]) -> None:
        """Put `people` in the roster, declare a crisis for them, wait until it is sent."""
        await replace_roster(
            self.db,
            roster(*people),
            imported_by="test",
            source="test",
            warnings=0,
            imported_at_ms=to_millis(self.clock.now()),
        )
        leader = (await self.app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret
        response = await self.client.post(
            "/api/activations",
            json={"kind": "crisis", "title": "Storm", "scope": {}},
            headers={"Authorization": f"Bearer {leader}"},
        )
        assert response.status == 201, await response.text()
        await self.settle()

    async def settle(self) -> None:
        await self.app[DISPATCHER].wait_idle()

    def sid(self, number: str) -> str:
        """The Twilio id of the latest SMS to `number`."""
        return self.fake.messages_to(number)[-1].sid

    async def sms(self, number: str) -> dict[str, Any]:
        row = await self.db.fetch_one(
            "SELECT * FROM messages WHERE channel = 'sms' AND recipient = ?", (number,)
        )
        assert row is not None
        return dict(row)

    async def table(self, name: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.db.fetch_all(f"SELECT * FROM {name} ORDER BY 1")]

    async def callup_state(self, person_id: str) -> str:
        row = await self.db.fetch_one("SELECT state FROM callups WHERE person_id = ?", (person_id,))
        assert row is not None
        return str(row[0])

    async def post(self, params: Mapping[str, str], *, url: str | None = None) -> tuple[int, str]:
        """A callback signed by us over `url` (default: the one Twilio is told to call)."""
        signed_over = url or self.public_url + PATH
        signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(signed_over, params)
        response = await self.client.post(
            PATH, data=dict(params), headers={"X-Twilio-Signature": signature}
        )
        return response.status, await response.text()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
async def world(
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    smtp: SmtpServer,
    database_path: Path,
) -> AsyncIterator[World]:
    fake = FakeTwilio()
    twilio = await aiohttp_server(fake.app)
    port = free_port()  # the app's address must be known before it starts: Twilio calls it
    public_url = f"http://127.0.0.1:{port}"
    settings = settings_from_mapping(
        {
            "service": {"database": str(database_path), "public_url": public_url},
            "sms": {
                "provider": "twilio",
                "rate_per_second": 100,
                "twilio": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "auth_token": DEFAULT_AUTH_TOKEN,
                    "from_number": "+46766860000",
                    "api_base": str(twilio.make_url("/")).rstrip("/"),
                },
            },
            "email": {"provider": "smtp", "host": smtp.host, "port": smtp.port},
        },
        {},
    )
    clock = ManualClock(START)
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app, server_kwargs={"host": "127.0.0.1", "port": port})
    yield World(app, client, fake, smtp, clock, public_url)
    await fake.close()


def callback(sid: str, status: str, error_code: str | None = None) -> dict[str, str]:
    params = {"AccountSid": DEFAULT_ACCOUNT_SID, "MessageSid": sid, "MessageStatus": status}
    if error_code is not None:
        params["ErrorCode"] = error_code
    return params


# ---- moving forward, never back ------------------------------------------------------------


async def test_sent_then_delivered_and_duplicates_or_late_reports_change_nothing(
    world: World,
) -> None:
    number = ANNA[1]
    await world.declare(ANNA)
    sid = world.sid(number)
    assert (await world.sms(number))["state"] == "sent"

    with structlog.testing.capture_logs() as logs:
        answer = await world.fake.deliver(sid, "sent")
        world.clock.advance(timedelta(seconds=1))
        delivered = await world.fake.deliver(sid, "delivered")
    assert (answer.status, answer.text) == (200, EMPTY_TWIML)
    assert delivered.status == 200
    row = await world.sms(number)
    assert (row["state"], row["provider_status"]) == ("delivered", "delivered")
    assert [(e["status"], e["change"]) for e in logs] == [
        ("sent", "none"),
        ("delivered", "delivered"),
    ]
    assert logs[1]["message_id"] == row["id"]
    assert logs[1]["callup_id"] == row["callup_id"]
    assert logs[1]["activation_id"] == row["activation_id"]
    assert logs[1]["error_code"] is None

    world.clock.advance(timedelta(seconds=1))  # any write would now change updated_at
    for status in ("delivered", "sent", "queued", "undelivered"):
        code = 30007 if status == "undelivered" else None
        assert (await world.fake.deliver(sid, status, code)).status == 200
    assert await world.sms(number) == row  # a final state is final
    await world.settle()
    assert world.smtp.messages == []


async def test_delivered_before_sent_ends_delivered(world: World) -> None:
    await world.declare(ANNA)
    sid = world.sid(ANNA[1])
    await world.fake.deliver(sid, "delivered")
    await world.fake.deliver(sid, "sent")
    assert (await world.sms(ANNA[1]))["state"] == "delivered"


async def test_the_answer_is_empty_twiml_as_xml(world: World) -> None:
    await world.declare(ANNA)
    params = callback(world.sid(ANNA[1]), "delivered")
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(
        world.public_url + PATH, params
    )
    response = await world.client.post(PATH, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status == 200
    assert response.content_type == "application/xml"
    assert await response.text() == EMPTY_TWIML


# ---- signatures ------------------------------------------------------------------------------


async def test_a_forged_signature_gets_403_and_changes_nothing(world: World) -> None:
    await world.declare(ANNA)
    before = await world.table("messages")
    answer = await world.fake.deliver(world.sid(ANNA[1]), "undelivered", 30007, forged=True)
    assert answer.status == 403
    assert "X-Twilio-Signature" in answer.text
    assert await world.table("messages") == before
    assert await world.table("contact_problems") == []


async def test_a_missing_signature_gets_403(world: World) -> None:
    await world.declare(ANNA)
    before = await world.table("messages")
    response = await world.client.post(PATH, data=callback(world.sid(ANNA[1]), "delivered"))
    assert response.status == 403
    assert (await response.json())["error"] == "missing X-Twilio-Signature"
    assert await world.table("messages") == before


@pytest.mark.parametrize(
    "signed_over",
    [
        "https://127.0.0.1:{port}" + PATH,  # https where Twilio was told http
        "http://evil.example:{port}" + PATH,  # another host
        "http://127.0.0.1:{port}/webhooks/twilio/sms",  # another path
    ],
)
async def test_a_signature_over_another_url_gets_403(world: World, signed_over: str) -> None:
    await world.declare(ANNA)
    port = world.public_url.rsplit(":", 1)[1]
    params = callback(world.sid(ANNA[1]), "delivered")
    status, _ = await world.post(params, url=signed_over.format(port=port))
    assert status == 403
    assert (await world.sms(ANNA[1]))["state"] == "sent"
    assert (await world.post(params))[0] == 200  # the same report, signed right, is taken
    assert (await world.sms(ANNA[1]))["state"] == "delivered"


async def test_tampered_parameters_get_403(world: World) -> None:
    await world.declare(ANNA)
    sid = world.sid(ANNA[1])
    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(
        world.public_url + PATH, callback(sid, "delivered")
    )
    response = await world.client.post(
        PATH,
        data=callback(sid, "undelivered", "30007"),
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status == 403
    assert (await world.sms(ANNA[1]))["state"] == "sent"


async def test_the_url_is_rebuilt_from_public_url_not_from_the_request(
    aiohttp_client: AiohttpClient, database_path: Path
) -> None:
    """Behind a proxy Twilio calls https://kris.example.se; the app sees http://127.0.0.1:…"""
    public_url = "https://kris.example.se"
    settings = settings_from_mapping(
        {
            "service": {"database": str(database_path), "public_url": public_url},
            "sms": {
                "provider": "twilio",
                "twilio": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "auth_token": DEFAULT_AUTH_TOKEN,
                    "from_number": "+46766860000",
                },
            },
        },
        {},
    )
    client = await aiohttp_client(create_app(settings, clock=ManualClock(START)))
    params = callback("SM" + "0" * 32, "delivered")
    validator = RequestValidator(DEFAULT_AUTH_TOKEN)

    async def status_when_signed_over(url: str) -> int:
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        return (await client.post(PATH, data=params, headers=headers)).status

    assert await status_when_signed_over(public_url + PATH) == 200
    assert await status_when_signed_over(public_url + ":443" + PATH) == 200  # explicit port
    assert await status_when_signed_over(str(client.make_url(PATH))) == 403


async def test_without_twilio_as_sms_provider_webhooks_are_refused(client: Client) -> None:
    params = callback("SM" + "0" * 32, "delivered")
    signature = RequestValidator("").compute_signature("http://127.0.0.1:8080" + PATH, params)
    response = await client.post(PATH, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status == 403
    assert await response.json() == {"error": "webhooks need [sms] provider = 'twilio'"}


# ---- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"), [("undelivered", "30007"), ("undelivered", "21610"), ("failed", "30006")]
)
async def test_a_permanent_failure_sends_the_callup_by_email_and_lists_the_number(
    world: World, status: str, code: str
) -> None:
    number, address = ANNA[1], ANNA[2]
    assert address is not None
    await world.declare(ANNA)
    sid = world.sid(number)
    await world.fake.deliver(sid, "sent")
    assert (await world.fake.deliver(sid, status, int(code))).status == 200
    await world.settle()

    row = await world.sms(number)
    assert (row["state"], row["error_code"], row["provider_status"]) == (
        "failed_permanent",
        code,
        status,
    )
    [email] = world.smtp.messages_to(address)
    assert "Solgården" in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    problems = await world.db.fetch_all(
        "SELECT person_id, channel, address, error_code FROM contact_problems"
    )
    assert [tuple(p) for p in problems] == [("P1", "sms", number, code)]
    assert await world.callup_state("P1") == "awaiting"

    await world.fake.deliver(sid, status, int(code))  # Twilio says it again
    await world.settle()
    assert len(world.smtp.messages_to(address)) == 1
    assert len(await world.table("messages")) == 2


async def test_a_permanent_failure_without_email_fails_the_callup(world: World) -> None:
    await world.declare(BO)
    await world.fake.deliver(world.sid(BO[1]), "undelivered", 30005)
    await world.settle()
    assert (await world.sms(BO[1]))["state"] == "failed_permanent"
    assert await world.callup_state("P2") == "failed"
    assert world.smtp.messages == []
    assert len(await world.table("contact_problems")) == 1


async def test_a_handset_off_is_resent_later_then_given_up_on(world: World) -> None:
    number, address = ANNA[1], ANNA[2]
    assert address is not None
    await world.declare(ANNA)
    policy = ResendPolicy()
    for resend in range(1, policy.max_attempts):
        old_sid = world.sid(number)
        await world.fake.deliver(old_sid, "undelivered", 30003)
        row = await world.sms(number)
        delay = row["next_attempt_at"] - to_millis(world.clock.now())
        assert (row["state"], row["error_code"]) == ("failed_temporary", "30003")
        assert delay == 2 * 60_000 * 2 ** (resend - 1)  # 2, 4, 8 minutes
        world.clock.advance(timedelta(seconds=1))  # any write would now change updated_at
        await world.fake.deliver(old_sid, "undelivered", 30003)  # a duplicate counts once
        await world.fake.deliver(old_sid, "sent")  # out of order: must not cancel the resend
        assert await world.sms(number) == row

        world.clock.advance(timedelta(milliseconds=delay - 1000 - 1))
        await world.settle()
        assert len(world.fake.messages_to(number)) == resend  # not due yet
        world.clock.advance(timedelta(milliseconds=1))
        await world.settle()
        assert len(world.fake.messages_to(number)) == resend + 1
        assert (await world.sms(number))["state"] == "sent"
        await world.fake.deliver(old_sid, "sent")  # the old attempt's late report
        assert (await world.sms(number))["provider_id"] == world.sid(number)
        assert (await world.sms(number))["state"] == "sent"
    assert world.smtp.messages == []

    await world.fake.deliver(world.sid(number), "undelivered", 30003)
    await world.settle()
    row = await world.sms(number)
    assert (row["state"], row["attempts"]) == ("failed_permanent", policy.max_attempts)
    assert len(world.fake.messages_to(number)) == policy.max_attempts  # three resends, no more
    assert len(world.smtp.messages_to(address)) == 1
    # A phone that stays off is no wrong number: nothing for the roster administrators to fix.
    assert await world.table("contact_problems") == []


async def test_an_answered_callup_is_not_resent(world: World) -> None:
    await world.declare(ANNA)
    async with world.db.transaction() as conn:
        await conn.execute("UPDATE callups SET state = 'confirmed'")  # the person answered
    await world.fake.deliver(world.sid(ANNA[1]), "undelivered", 30008)
    world.clock.advance(timedelta(hours=1))
    await world.settle()
    assert (await world.sms(ANNA[1]))["state"] == "cancelled"
    assert len(world.fake.messages_to(ANNA[1])) == 1


# ---- unknown messages ---------------------------------------------------------------------------


async def test_an_unknown_message_sid_is_answered_200_and_changes_nothing(world: World) -> None:
    await world.declare(ANNA)
    before = {name: await world.table(name) for name in ("messages", "callups")}
    with structlog.testing.capture_logs() as logs:
        status, text = await world.post(callback("SM" + "f" * 32, "undelivered", "30007"))
    assert (status, text) == (200, EMPTY_TWIML)
    assert {name: await world.table(name) for name in before} == before
    assert [(e["log_level"], e["change"]) for e in logs] == [("warning", "unknown_message")]


async def test_a_signed_callback_without_a_message_sid_is_a_bad_request(world: World) -> None:
    status, text = await world.post({"AccountSid": DEFAULT_ACCOUNT_SID, "MessageStatus": "sent"})
    assert status == 400
    assert "MessageSid" in text
