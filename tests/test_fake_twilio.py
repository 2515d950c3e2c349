"""The fake Twilio API itself: auth, shapes, filters, faults and signed webhooks, over raw HTTP."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer
from twilio.request_validator import RequestValidator

from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
AUTH = {"Authorization": aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)}
ALICE, BOB = "+46701234567", "+46709876543"


@dataclass
class Receiver:
    """Our side of the webhooks: records each post and whether its signature validates."""

    server: TestServer | None = None
    posts: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    reply: str = "<Response/>"

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    twilio = FakeTwilio()
    yield twilio
    await twilio.close()


@pytest.fixture
async def api(
    fake: FakeTwilio, aiohttp_server: AiohttpServer
) -> AsyncIterator[tuple[aiohttp.ClientSession, TestServer]]:
    server = await aiohttp_server(fake.app)
    async with aiohttp.ClientSession(base_url=server.make_url("/")) as session:
        yield session, server


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> Receiver:
    received = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = RequestValidator(DEFAULT_AUTH_TOKEN).validate(str(request.url), params, signature)
        received.posts.append((request.path, params, valid))
        return web.Response(text=received.reply, content_type="application/xml")

    app = web.Application()
    app.router.add_post("/webhooks/twilio/{kind}", webhook)
    received.server = await aiohttp_server(app)
    return received


async def create(session: aiohttp.ClientSession, to: str = ALICE, **form: str) -> Any:
    data = {"To": to, "From": "+46766860000", "Body": "Kom till Centrumskolan", **form}
    async with session.post(MESSAGES, data=data, headers=AUTH) as response:
        return response.status, await response.json(), response.headers


async def test_wrong_or_missing_credentials_get_twilios_401(api: Any) -> None:
    session, _ = api
    for headers in ({"Authorization": aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, "x")}, {}):
        async with session.get(MESSAGES, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["code"] == 20003


async def test_create_answers_the_real_shape_and_records_the_message(
    api: Any, fake: FakeTwilio
) -> None:
    status, body, _ = await create(
        api[0], StatusCallback="http://x/webhooks/twilio/status", ValidityPeriod="900"
    )
    assert status == 201
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "queued"
    assert body["num_segments"] == "1"
    assert body["date_sent"] is None
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None
    assert body["uri"].endswith(f"/Messages/{body['sid']}.json")
    [recorded] = fake.messages_to(ALICE)
    assert (recorded.body, recorded.from_, recorded.validity_period) == (
        "Kom till Centrumskolan",
        "+46766860000",
        900,
    )
    assert recorded.status_callback == "http://x/webhooks/twilio/status"


async def test_messaging_service_message_is_accepted_without_from(api: Any) -> None:
    data = {"To": ALICE, "MessagingServiceSid": "MG" + "0" * 32, "Body": "Hej"}
    async with api[0].post(MESSAGES, data=data, headers=AUTH) as response:
        body = await response.json()
    assert (response.status, body["status"], body["from"]) == (201, "accepted", None)


async def test_missing_sender_is_refused_like_twilio(api: Any) -> None:
    async with api[0].post(MESSAGES, data={"To": ALICE, "Body": "Hej"}, headers=AUTH) as response:
        assert (response.status, (await response.json())["code"]) == (400, 21603)


async def test_list_filters_by_to_and_date_sent(api: Any, fake: FakeTwilio) -> None:
    session, _ = api
    for to in (ALICE, ALICE, BOB):
        await create(session, to)
    sent_at = datetime.now(UTC).replace(microsecond=0)
    fake.messages[0].date_sent = sent_at  # the first to Alice has left Twilio; one is queued

    async def listed(**query: str) -> list[str]:
        async with session.get(MESSAGES, params=query, headers=AUTH) as response:
            assert response.status == 200
            return [m["sid"] for m in (await response.json())["messages"]]

    assert await listed(To=ALICE) == [fake.messages[1].sid, fake.messages[0].sid]
    since = (sent_at - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await listed(To=ALICE, **{"DateSent>": since}) == [fake.messages[0].sid]
    later = (sent_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await listed(To=ALICE, **{"DateSent>": later}) == []
    assert await listed(To=BOB) == [fake.messages[2].sid]


async def test_list_pages_through_next_page_uri(api: Any, fake: FakeTwilio) -> None:
    session, _ = api
    for _ in range(3):
        await create(session)
    seen: list[str] = []
    url: str | None = f"{MESSAGES}?To={ALICE.replace('+', '%2B')}&PageSize=2"
    while url is not None:
        async with session.get(url, headers=AUTH) as response:
            page = await response.json()
        seen += [m["sid"] for m in page["messages"]]
        url = page["next_page_uri"]
    assert seen == [m.sid for m in reversed(fake.messages)]


async def test_fetch_one_message_and_404_for_unknown(api: Any) -> None:
    session, _ = api
    _, created, _ = await create(session)
    async with session.get(created["uri"], headers=AUTH) as response:
        assert (await response.json())["sid"] == created["sid"]
    async with session.get(MESSAGES.replace(".json", "/SMnope.json"), headers=AUTH) as response:
        assert (response.status, (await response.json())["code"]) == (404, 20404)


async def test_rate_limit_answers_429_with_retry_after_then_recovers(
    api: Any, fake: FakeTwilio
) -> None:
    fake.rate_limit(2, retry_after=3)
    for _ in range(2):
        status, body, headers = await create(api[0])
        assert (status, body["code"], headers["Retry-After"]) == (429, 20429, "3")
    assert (await create(api[0]))[0] == 201
    assert len(fake.messages) == 1


async def test_random_500s_follow_the_ratio_and_the_seed(api: Any, fake: FakeTwilio) -> None:
    async def pattern() -> list[int]:
        fake.fail_randomly(0.2, seed=7)
        return [(await create(api[0]))[0] for _ in range(200)]

    first = await pattern()
    assert 20 <= first.count(500) <= 60
    assert set(first) == {201, 500}
    assert await pattern() == first


async def test_hang_holds_requests_until_released(api: Any, fake: FakeTwilio) -> None:
    fake.hang()
    pending = asyncio.create_task(create(api[0]))
    await fake.wait_until(lambda: fake.hanging == 1)
    assert not pending.done()
    assert fake.messages == []
    fake.release()
    assert (await pending)[0] == 201
    assert len(fake.messages) == 1


async def test_hang_after_create_records_the_message_first(api: Any, fake: FakeTwilio) -> None:
    fake.hang(after_create=True)
    pending = asyncio.create_task(create(api[0]))
    await fake.wait_until(lambda: fake.hanging == 1)
    assert len(fake.messages) == 1  # created, but the answer is not coming
    fake.reset()
    await pending


@pytest.mark.parametrize("code", [21211, 21610, 21614])
async def test_permanent_codes_per_number(api: Any, fake: FakeTwilio, code: int) -> None:
    fake.refuse(BOB, code)
    status, body, _ = await create(api[0], BOB)
    assert (status, body["code"], body["status"]) == (400, code, 400)
    assert body["more_info"].endswith(str(code)) and body["message"]
    assert (await create(api[0], ALICE))[0] == 201
    assert fake.messages_to(BOB) == []


async def test_status_callbacks_are_signed_and_forgeries_are_not(
    api: Any, fake: FakeTwilio, receiver: Receiver
) -> None:
    callback = receiver.url("/webhooks/twilio/status")
    _, created, _ = await create(api[0], StatusCallback=callback)
    answer = await fake.deliver(created["sid"], "undelivered", 30006)
    assert answer.status == 200
    [(_, params, valid)] = receiver.posts
    assert valid
    assert params["MessageSid"] == created["sid"]
    assert (params["MessageStatus"], params["ErrorCode"], params["To"]) == (
        "undelivered",
        "30006",
        ALICE,
    )
    assert params["AccountSid"] == DEFAULT_ACCOUNT_SID
    await fake.deliver(created["sid"], "sent", forged=True)  # out of order, and forged
    assert receiver.posts[-1][2] is False


async def test_auto_delivery_sends_sent_then_delivered_or_undelivered(
    api: Any, fake: FakeTwilio, receiver: Receiver
) -> None:
    fake.auto_deliver, fake.auto_delay = True, 0
    fake.undeliverable(BOB, 30005)
    callback = receiver.url("/webhooks/twilio/status")
    await create(api[0], ALICE, StatusCallback=callback)
    await create(api[0], BOB, StatusCallback=callback)
    await fake.wait_until(lambda: len(fake.callbacks) == 4)
    by_number: dict[str, list[tuple[str, str | None]]] = {}
    for _, params, valid in receiver.posts:
        assert valid
        by_number.setdefault(params["To"], []).append(
            (params["MessageStatus"], params.get("ErrorCode"))
        )
    assert by_number[ALICE] == [("sent", None), ("delivered", None)]
    assert by_number[BOB] == [("sent", None), ("undelivered", "30005")]
    assert fake.messages_to(ALICE)[0].date_sent is not None


async def test_inbound_sms_is_signed_and_twiml_replies_are_recorded(
    fake: FakeTwilio, receiver: Receiver
) -> None:
    receiver.reply = "<Response><Message>Tack, vi räknar med dig.</Message></Response>"
    answer = await fake.send_inbound(ALICE, "JA", receiver.url("/webhooks/twilio/sms"))
    assert answer.status == 200
    [(path, params, valid)] = receiver.posts
    assert valid and path == "/webhooks/twilio/sms"
    assert (params["From"], params["Body"], params["To"]) == (ALICE, "JA", fake.service_number)
    assert [m.body for m in fake.messages_to(ALICE)] == ["Tack, vi räknar med dig."]
    await fake.send_inbound(ALICE, "stop", receiver.url("/webhooks/twilio/sms"))
    assert receiver.posts[-1][1]["OptOutType"] == "STOP"


async def test_control_endpoints_drive_the_fake_over_http(api: Any, fake: FakeTwilio) -> None:
    session, _ = api
    async with session.post("/_fake/faults", json={"rate_limit": {"count": 1}}) as response:
        assert response.status == 200
    assert (await create(session))[0] == 429
    assert (await create(session))[0] == 201
    async with session.get("/_fake/messages", params={"to": ALICE}) as response:
        listed = (await response.json())["messages"]
    assert [m["to"] for m in listed] == [ALICE]
    async with session.post("/_fake/faults", json={"refuse": {ALICE: 21610}}):
        pass
    assert (await create(session))[1]["code"] == 21610
    async with session.post("/_fake/reset"):
        pass
    assert fake.messages == []
    assert (await create(session))[0] == 201


@pytest.mark.slow
async def test_runs_as_its_own_process() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.twilio_api",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            url = (await process.stdout.readline()).decode().strip()
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession(base_url=url) as session:
            status, body, _ = await create(session)
            assert status == 201
            async with session.get("/_fake/messages") as response:
                assert [m["sid"] for m in (await response.json())["messages"]] == [body["sid"]]
    finally:
        process.terminate()
        await process.communicate()
    assert process.returncode == 0
