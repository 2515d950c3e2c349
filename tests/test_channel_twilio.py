"""The Twilio SMS channel, through the real `twilio` library, against the fake Twilio API."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from dispatcher.channels import (
    Outcome,
    OutgoingSms,
    ProviderUnavailable,
    classify_twilio_error,
    open_channels,
)
from dispatcher.channels.twilio_sms import (
    CREDENTIALS_REJECTED,
    TwilioSmsChannel,
    parse_retry_after,
)
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.database import Database
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

ALICE, BOB = "+46701234567", "+46709876543"
PUBLIC_URL = "https://kris.example.se"


def twilio_settings(api_base: str, **twilio: Any) -> Settings:
    section = {
        "account_sid": DEFAULT_ACCOUNT_SID,
        "auth_token": DEFAULT_AUTH_TOKEN,
        "from_number": "+46766860000",
        "api_base": api_base,
        "timeout_seconds": 2.0,
        "validity_period_seconds": 900,
        **twilio,
    }
    raw = {"service": {"public_url": PUBLIC_URL}, "sms": {"provider": "twilio", "twilio": section}}
    return settings_from_mapping(raw, {})


def base_url(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


def callup(to: str = ALICE, message_id: int = 1) -> OutgoingSms:
    return OutgoingSms(message_id, to, "KRIS Exempelkommun: kom till Centrumskolan. Svara JA/NEJ")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    twilio = FakeTwilio()
    yield twilio
    await twilio.close()


@pytest.fixture
async def server(fake: FakeTwilio, aiohttp_server: AiohttpServer) -> TestServer:
    return await aiohttp_server(fake.app)


@pytest.fixture
async def channel(server: TestServer) -> AsyncIterator[TwilioSmsChannel]:
    settings = twilio_settings(base_url(server))
    sms = TwilioSmsChannel(settings.sms.twilio, settings.service.public_url)
    yield sms
    await sms.close()


async def test_sent_with_sid_callback_and_validity(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    result = await channel.send(callup())
    [message] = fake.messages_to(ALICE)
    assert result.outcome is Outcome.SENT
    assert (result.provider_id, result.provider_status) == (message.sid, "queued")
    assert message.body == callup().body
    assert message.from_ == "+46766860000"
    assert message.status_callback == f"{PUBLIC_URL}/webhooks/twilio/status"
    assert message.validity_period == 900


async def test_open_channels_gives_twilio_with_a_messaging_service(
    server: TestServer, fake: FakeTwilio, tmp_path: Path
) -> None:
    service = "MG" + "1" * 32
    settings = twilio_settings(base_url(server), from_number="", messaging_service_sid=service)
    db = await Database.open(tmp_path / "db.sqlite3")
    sms, email = await open_channels(settings, db)
    try:
        assert isinstance(sms, TwilioSmsChannel)
        result = await sms.send(callup())
    finally:
        await sms.close()
        await email.close()
        await db.close()
    assert (result.outcome, result.provider_status) == (Outcome.SENT, "accepted")
    assert (fake.messages[0].messaging_service_sid, fake.messages[0].from_) == (service, None)


@pytest.mark.parametrize("code", [21211, 21610, 21614, 21635])
async def test_permanent_codes_are_permanent(
    channel: TwilioSmsChannel, fake: FakeTwilio, code: int
) -> None:
    fake.refuse(BOB, code)
    result = await channel.send(callup(BOB))
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, str(code))
    assert result.retry_after is None and not result.may_have_sent
    assert str(code) in result.detail


async def test_429_is_temporary_with_retry_after(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    fake.rate_limit(1, retry_after=7)
    result = await channel.send(callup())
    assert (result.outcome, result.error_code, result.retry_after) == (
        Outcome.TEMPORARY,
        "20429",
        7.0,
    )
    assert (await channel.send(callup())).outcome is Outcome.SENT


async def test_retry_after_belongs_to_the_send_that_got_it(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    fake.rate_limit(1, retry_after=5)
    results = await asyncio.gather(*(channel.send(callup(ALICE, n)) for n in range(10)))
    limited = [r for r in results if r.outcome is Outcome.TEMPORARY]
    assert [r.retry_after for r in limited] == [5.0]
    assert all(r.retry_after is None for r in results if r.outcome is Outcome.SENT)


async def test_500_is_temporary(channel: TwilioSmsChannel, fake: FakeTwilio) -> None:
    fake.fail_randomly(1.0)
    result = await channel.send(callup())
    assert (result.outcome, result.error_code, result.retry_after) == (
        Outcome.TEMPORARY,
        "20500",
        None,
    )


async def test_wrong_credentials_are_temporary_and_logged_as_an_error(
    server: TestServer, fake: FakeTwilio
) -> None:
    """A 401 is our configuration's fault, not the number's: the message waits for the fix."""
    settings = twilio_settings(base_url(server), auth_token="wrong")
    sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL)
    try:
        with structlog.testing.capture_logs() as logs:
            first = await sms.send(callup(ALICE, 1))
            second = await sms.send(callup(BOB, 2))
    finally:
        await sms.close()
    for result in (first, second):
        assert (result.outcome, result.error_code) == (Outcome.TEMPORARY, "20003")
        assert not result.may_have_sent  # refused at the door: nothing was created
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == [CREDENTIALS_REJECTED] * 2  # once per occurrence
    assert "TWILIO_AUTH_TOKEN" in CREDENTIALS_REJECTED
    assert fake.messages == []


def test_credentials_codes_are_temporary_other_4xx_stay_permanent() -> None:
    assert classify_twilio_error(401, 20003) is Outcome.TEMPORARY
    assert classify_twilio_error(401, None) is Outcome.TEMPORARY
    assert classify_twilio_error(400, 21211) is Outcome.PERMANENT
    assert classify_twilio_error(404, 20404) is Outcome.PERMANENT


async def test_hang_is_temporary_within_the_timeout(server: TestServer, fake: FakeTwilio) -> None:
    settings = twilio_settings(base_url(server), timeout_seconds=0.3)
    sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL)
    fake.hang(after_create=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        result = await sms.send(callup())
    finally:
        await sms.close()
    assert loop.time() - started < 1.5
    assert (result.outcome, result.error_code, result.may_have_sent) == (
        Outcome.TEMPORARY,
        "timeout",
        True,
    )
    assert len(fake.messages_to(ALICE)) == 1  # created all the same: why find_sent exists


async def test_unreachable_twilio_is_temporary_and_nothing_was_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = twilio_settings(f"http://127.0.0.1:{port}")
    sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL)
    try:
        result = await sms.send(callup())
    finally:
        await sms.close()
    assert (result.outcome, result.error_code, result.may_have_sent) == (
        Outcome.TEMPORARY,
        "connect",
        False,
    )


async def test_find_sent_finds_only_messages_created_since(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    earlier = await channel.send(callup(ALICE, 1))
    old = fake.message(str(earlier.provider_id))
    old.date_created -= timedelta(minutes=5)  # created before the claim…
    old.date_sent = datetime.now(UTC)  # …but sent after it: still not ours
    await channel.send(callup(BOB, 2))
    since = datetime.now(UTC) - timedelta(minutes=1)
    latest = await channel.send(callup(ALICE, 3))  # still queued: no DateSent yet
    assert await channel.find_sent(ALICE, since) == [latest.provider_id]
    assert await channel.find_sent(ALICE, datetime.now(UTC) + timedelta(seconds=2)) == []


async def test_find_sent_ignores_twilios_own_replies_to_the_person(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    twiml_app = web.Application()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            text="<Response><Message>Tack! Registrerat.</Message></Response>",
            content_type="application/xml",
        )

    twiml_app.router.add_post("/sms", answer)
    async with TestServer(twiml_app) as webhook:
        await fake.send_inbound(ALICE, "JA", str(webhook.make_url("/sms")))
    assert [m.direction for m in fake.messages_to(ALICE)] == ["outbound-reply"]
    assert await channel.find_sent(ALICE, since) == []  # a reply is not a call-up that went out
    sent = await channel.send(callup(ALICE, 9))
    assert await channel.find_sent(ALICE, since) == [sent.provider_id]


async def test_find_sent_raises_when_twilio_cannot_answer(
    channel: TwilioSmsChannel, fake: FakeTwilio
) -> None:
    fake.fail_randomly(1.0)
    with pytest.raises(ProviderUnavailable):
        await channel.find_sent(ALICE, datetime.now(UTC))


async def test_region_and_edge_cannot_move_the_host(
    server: TestServer, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    settings = twilio_settings(base_url(server))
    sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL)
    try:
        assert (await sms.send(callup())).outcome is Outcome.SENT
    finally:
        await sms.close()
    assert len(fake.messages) == 1


async def test_close_leaves_no_unclosed_session(server: TestServer) -> None:
    settings = twilio_settings(base_url(server))

    async def resource_warnings(close: bool) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL)
            await sms.send(callup())
            if close:
                await sms.close()
            del sms
            gc.collect()
        return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]

    assert await resource_warnings(close=True) == []
    assert await resource_warnings(close=False) != []  # the check can see a leak


async def test_a_shared_session_is_left_open(server: TestServer, fake: FakeTwilio) -> None:
    settings = twilio_settings(base_url(server))
    async with aiohttp.ClientSession() as session:
        sms = TwilioSmsChannel(settings.sms.twilio, PUBLIC_URL, session)
        assert (await sms.send(callup())).outcome is Outcome.SENT
        await sms.close()
        assert not session.closed


def test_retry_after_header_forms() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Fri, 20 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("inf") is None
