"""Answers by SMS: stored first, applied to the right call-up, answered after the commit.

The desk is driven through the real app: the sandbox channels send the call-ups, and
inbound SMS come either straight to `AnswerDesk.handle_sms` or, signed like Twilio signs
them, to `POST /webhooks/twilio/sms`.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer
from twilio.request_validator import RequestValidator

from dispatcher.answer_desk import Handled, InboundSms
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.answering import MAX_AUTOMATIC_REPLIES, Outcome
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, FakeTwilio

Client = TestClient[web.Request, web.Application]
PUBLIC_URL = "https://kris.example.se"
AUTH_TOKEN = "test-auth-token"

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 1),
    Unit("U2", "Björkängen", "förskola", "Söder", "Björkvägen 2, Lerum", 2),
)


def person(pid: str, placement: str, phone: str) -> Person:
    return Person(
        pid,
        f"Namn {pid}",
        phone,
        PhoneKind.MOBILE,
        f"{pid.lower()}@example.se",
        Role.ADMIN,
        100,
        "Ekonomi",
        placement,
        None,
    )


ANNA, BO, CIA = "+46701000001", "+46701000002", "+46701000003"
PEOPLE = (person("P1", "U1", ANNA), person("P2", "U1", BO), person("P3", "U2", CIA))
_sids = count(1)


@dataclasses.dataclass
class Desk:
    app: web.Application
    client: Client
    clock: ManualClock
    leader: str

    async def declare(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/activations", json=body, headers={"Authorization": f"Bearer {self.leader}"}
        )
        assert response.status == 201, await response.text()
        await self.app[DISPATCHER].wait_idle()
        result: dict[str, Any] = await response.json()
        return result

    async def sms(
        self, sender: str, body: str, *, sid: str | None = None, opt: str | None = None
    ) -> Handled:
        inbound = InboundSms(sid or f"SM{next(_sids):032d}", sender, body, opt)
        return await self.app[ANSWER_DESK].handle_sms(inbound)

    async def callup(self, person_id: str, activation_id: str | None = None) -> dict[str, Any]:
        sql = "SELECT * FROM callups WHERE person_id = ?"
        params: list[Any] = [person_id]
        if activation_id:
            sql += " AND activation_id = ?"
            params.append(activation_id)
        row = await self.app[DATABASE].fetch_one(sql, params)
        assert row is not None
        return dict(row)

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self.app[DATABASE].fetch_all(sql)]


@pytest.fixture
async def desk(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    database_path: Path,
    clock: ManualClock,
) -> AsyncIterator[Desk]:
    """The app with Twilio SMS (a fake Twilio API on loopback) and sandbox e-mail."""
    fake = await aiohttp_server(FakeTwilio(DEFAULT_ACCOUNT_SID, AUTH_TOKEN).app)
    settings = settings_from_mapping(
        {
            "service": {"database": str(database_path), "public_url": PUBLIC_URL},
            "sms": {
                "provider": "twilio",
                "rate_per_second": 1000,
                "twilio": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "auth_token": AUTH_TOKEN,
                    "from_number": "+46766860000",
                    "api_base": str(fake.make_url("/")).rstrip("/"),
                },
            },
        },
        {},
    )
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )
    leader = await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
    yield Desk(app, client, clock, leader.secret)


async def test_yes_with_eta_is_confirmed_and_answered_with_the_unit(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    handled = await desk.sms(ANNA, "Ja, kommer om 45 min")
    assert handled.outcome is Outcome.APPLIED
    assert handled.reply is not None
    assert "Solgården" in handled.reply and "45 min" in handled.reply
    assert "Solvägen 1" in handled.reply
    callup = await desk.callup("P1")
    assert (callup["state"], callup["eta_minutes"], callup["next_step_at"]) == (
        "confirmed",
        45,
        None,
    )
    assert await desk.rows("SELECT answer, eta_minutes, via FROM answers") == [("yes", 45, "sms")]
    stored = await desk.rows("SELECT sender, body, meaning, outcome FROM inbound_messages")
    assert stored == [(ANNA, "Ja, kommer om 45 min", "yes", "applied")]


async def test_no_with_reason_then_a_change_of_mind(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    declined = await desk.sms(ANNA, "NEJ - sjuk")
    assert declined.reply is not None and "inte" in declined.reply
    callup = await desk.callup("P1")
    assert (callup["state"], callup["reason"]) == ("declined", "sjuk")
    await desk.sms(ANNA, "ja 20")
    assert (await desk.callup("P1"))["state"] == "confirmed"
    assert await desk.rows("SELECT answer FROM answers ORDER BY id") == [("no",), ("yes",)]


async def test_garbage_gets_help_and_records_nothing(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    handled = await desk.sms(ANNA, "vad betyder detta?")
    assert handled.outcome is Outcome.HELP
    assert handled.reply is not None and "JA" in handled.reply
    assert (await desk.callup("P1"))["state"] == "awaiting"
    assert await desk.rows("SELECT * FROM answers") == []
    assert await desk.rows("SELECT outcome FROM inbound_messages") == [("help",)]


async def test_a_stranger_gets_a_neutral_text(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    handled = await desk.sms("+46709999999", "JA")
    assert handled.outcome is Outcome.UNKNOWN_SENDER
    assert handled.reply is not None
    assert await desk.rows("SELECT * FROM answers") == []


async def test_a_duplicate_message_sid_is_stored_and_applied_once(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    first = await desk.sms(ANNA, "JA 30", sid="SMdup")
    again = await desk.sms(ANNA, "JA 30", sid="SMdup")
    assert again.outcome is Outcome.DUPLICATE
    assert again.reply == first.reply
    assert len(await desk.rows("SELECT * FROM inbound_messages")) == 1
    assert len(await desk.rows("SELECT * FROM answers")) == 1


async def test_drill_and_crisis_at_once_never_mix(desk: Desk) -> None:
    drill = await desk.declare(kind="drill", title="Övning")
    crisis = await desk.declare(kind="crisis", title="Storm")
    code = crisis["reply_code"]
    asked = await desk.sms(ANNA, "JA")
    assert asked.outcome is Outcome.CODE_NEEDED
    assert asked.reply is not None
    assert drill["reply_code"] in asked.reply and code in asked.reply
    wrong = await desk.sms(ANNA, "JA Z9")
    assert wrong.outcome is Outcome.CODE_NEEDED
    applied = await desk.sms(ANNA, f"ja {code.lower()} 15")
    assert applied.outcome is Outcome.APPLIED
    assert (await desk.callup("P1", crisis["id"]))["state"] == "confirmed"
    assert (await desk.callup("P1", drill["id"]))["state"] == "awaiting"
    assert f"NEJ {code}" in (applied.reply or "")  # the confirmation says how to take it back


async def test_after_stand_down_a_reply_is_no_longer_active(desk: Desk) -> None:
    activation = await desk.declare(kind="crisis", title="Storm")
    now_ms = int(desk.clock.now().timestamp() * 1000)
    async with desk.app[DATABASE].transaction() as conn:
        await conn.execute(
            "UPDATE activations SET state = 'stood_down', stood_down_at = ? WHERE id = ?",
            (now_ms, activation["id"]),
        )
    handled = await desk.sms(ANNA, "JA")
    assert handled.outcome is Outcome.NOT_ACTIVE
    assert handled.reply is not None and "Storm" in handled.reply
    assert (await desk.callup("P1"))["state"] == "awaiting"


async def test_stop_opts_out_and_start_opts_back_in(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    stopped = await desk.sms(ANNA, "STOPP")
    assert (stopped.outcome, stopped.reply) == (Outcome.OPTED_OUT, None)
    assert await desk.rows("SELECT phone FROM opt_outs") == [(ANNA,)]
    started = await desk.sms(ANNA, "START", opt="START")
    assert started.outcome is Outcome.OPTED_IN
    assert await desk.rows("SELECT phone FROM opt_outs") == []


async def test_automatic_replies_stop_after_the_limit(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    replies = [(await desk.sms(ANNA, f"hmm {i}")).reply for i in range(MAX_AUTOMATIC_REPLIES + 3)]
    assert all(r is not None for r in replies[:MAX_AUTOMATIC_REPLIES])
    assert replies[MAX_AUTOMATIC_REPLIES:] == [None, None, None]
    assert len(await desk.rows("SELECT * FROM inbound_messages")) == MAX_AUTOMATIC_REPLIES + 3


async def test_surplus_yes_is_welcome_by_default(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")  # Solgården needs 1; Anna and Bo placed
    await desk.sms(ANNA, "JA")
    late = await desk.sms(BO, "JA")
    assert (await desk.callup("P2"))["state"] == "confirmed"
    assert late.reply is not None and "Tack!" in late.reply


def signed(url: str, params: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, params)}


async def test_webhook_answers_with_twiml_after_storing(desk: Desk) -> None:
    await desk.declare(kind="crisis", title="Storm")
    params = {"MessageSid": "SMhook1", "From": CIA, "To": "+46766860000", "Body": "ja 10"}
    response = await desk.client.post(
        "/webhooks/twilio/sms",
        data=params,
        headers=signed(PUBLIC_URL + "/webhooks/twilio/sms", params),
    )
    assert response.status == 200
    assert response.content_type == "application/xml"
    messages = [m.text for m in ET.fromstring(await response.text()).iter("Message")]
    assert len(messages) == 1 and "Björkängen" in (messages[0] or "")
    assert (await desk.callup("P3"))["state"] == "confirmed"


@pytest.mark.parametrize("signature", ["", "forged"])
async def test_webhook_refuses_a_bad_signature_and_stores_nothing(
    desk: Desk, signature: str
) -> None:
    await desk.declare(kind="crisis", title="Storm")
    params = {"MessageSid": "SMhook2", "From": CIA, "To": "+46766860000", "Body": "ja"}
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = await desk.client.post("/webhooks/twilio/sms", data=params, headers=headers)
    assert response.status == 403
    assert await desk.rows("SELECT * FROM inbound_messages") == []
    assert (await desk.callup("P3"))["state"] == "awaiting"


async def test_status_body_counts_answers(desk: Desk) -> None:
    activation = await desk.declare(kind="crisis", title="Storm")
    await desk.sms(ANNA, "ja")
    await desk.sms(CIA, "nej")
    response = await desk.client.get(
        f"/api/activations/{activation['id']}/status",
        headers={"Authorization": f"Bearer {desk.leader}"},
    )
    totals = (await response.json())["totals"]
    assert (totals["confirmed"], totals["declined"], totals["awaiting"]) == (1, 1, 1)
    assert totals["called"] == sum(
        totals[k] for k in ("confirmed", "declined", "awaiting", "no_answer", "failed")
    )


async def test_an_opted_out_number_gets_the_next_callup_by_email(desk: Desk) -> None:
    first = await desk.declare(kind="drill", title="Övning")
    await desk.sms(ANNA, "STOPP")
    second = await desk.declare(kind="crisis", title="Storm")
    rows = await desk.rows(
        "SELECT c.activation_id, m.channel, m.recipient FROM messages m"
        " JOIN callups c ON c.id = m.callup_id WHERE c.person_id = 'P1' ORDER BY m.id"
    )
    assert rows == [(first["id"], "sms", ANNA), (second["id"], "email", "p1@example.se")]


async def test_a_broken_form_body_is_a_400_not_a_crash(desk: Desk) -> None:
    response = await desk.client.post(
        "/webhooks/twilio/sms",
        data=b"--x\r\n",
        headers={"X-Twilio-Signature": "abc", "Content-Type": "multipart/form-data"},
    )
    assert response.status == 400
    assert (await response.json())["error"].startswith("body:")
    assert await desk.rows("SELECT * FROM inbound_messages") == []
