"""Standing down: over HTTP and from the command line, with the sandbox channels.

Who is told, on which channel and exactly once; what is cancelled; that it is idempotent;
and that an answer afterwards gets "no longer active" and changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import InboundSms
from dispatcher.cli import main
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.answering import Outcome
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.stand_down import notice_channel
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.e2e_support import StaffRow, UnitRow, import_roster, write_roster

Client = TestClient[web.Request, web.Application]

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 3),
    Unit("U2", "Björkängen", "förskola", "Norr", "Björkvägen 2, Lerum", 2),
)


def person(pid: str, placement: str, *, phone: bool = True, email: bool = False) -> Person:
    number = f"+467010000{pid[1:].zfill(2)}" if phone else None
    return Person(
        person_id=pid,
        name=f"Namn {pid}",
        phone=number,
        phone_kind=PhoneKind.MOBILE if number else PhoneKind.NONE,
        email=f"{pid.lower()}@example.se" if email else None,
        role=Role.ADMIN,
        pay_pct=100,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
    )


PEOPLE = (
    person("P1", "U1", email=True),  # confirms: told by SMS
    person("P2", "U1"),  # declines: not told
    person("P3", "U1"),  # still awaiting: told by SMS
    person("P4", "U2"),  # no answer by the deadline: told by SMS
    person("P5", "U2", phone=False),  # nobody can reach P5: failed, not told
    person("P6", "U2", phone=False, email=True),  # e-mail only, awaiting: told by e-mail
    person("P7", "U1", email=True),  # sent STOP after the call-up: told by e-mail
    person("P8", "U2"),  # sent STOP and has no e-mail: nothing left to tell them by
)
_sids = count(1)


def phone_of(pid: str) -> str:
    return f"+467010000{pid[1:].zfill(2)}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def settings(database_path: Path) -> Settings:
    fast = {"sms": {"rate_per_second": 1000}, "email": {"rate_per_second": 1000}}
    return settings_from_mapping({"service": {"database": str(database_path)}, **fast}, {})


async def put_roster(app: web.Application) -> None:
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE, ()),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )


@pytest.fixture
async def roster(client: Client, app: web.Application) -> None:
    await put_roster(app)


async def own_app(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> tuple[web.Application, Client, str]:
    """An app on settings of the test's own (the only one on its database), with the roster
    and a leader's token."""
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    await put_roster(app)
    token = await app[ACCESS_TOKENS].create("test leader", AccessRole.LEADER)
    return app, client, token.secret


async def declare(client: Client, token: str, kind: str = "crisis") -> dict[str, Any]:
    response = await client.post(
        "/api/activations", json={"kind": kind, "title": "Storm"}, headers=auth(token)
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def stand_down(client: Client, token: str, activation_id: str) -> tuple[int, Any]:
    response = await client.post(
        f"/api/activations/{activation_id}/stand-down", headers=auth(token)
    )
    return response.status, await response.json()


async def sms_from(app: web.Application, pid: str, text: str) -> Any:
    return await app[ANSWER_DESK].handle_sms(
        InboundSms(f"SM{next(_sids):032d}", phone_of(pid), text)
    )


async def callup_states(app: web.Application) -> dict[str, str]:
    rows = await app[DATABASE].fetch_all("SELECT person_id, state FROM callups")
    return {str(r[0]): str(r[1]) for r in rows}


async def notices(app: web.Application) -> Counter[tuple[str, str]]:
    rows = await app[DATABASE].fetch_all(
        "SELECT channel, recipient FROM messages WHERE purpose = 'stand_down'"
    )
    return Counter((str(r[0]), str(r[1])) for r in rows)


async def test_everyone_who_may_act_is_told_once_on_their_channel(
    client: Client, app: web.Application, tokens: dict[str, str], roster: None
) -> None:
    activation = await declare(client, tokens["leader"])
    await app[DISPATCHER].wait_idle()
    await sms_from(app, "P1", "JA 20")
    await sms_from(app, "P2", "NEJ sjuk")
    await sms_from(app, "P7", "STOP")
    await sms_from(app, "P8", "STOP")
    async with app[DATABASE].transaction() as conn:  # as the escalation deadline leaves it
        await conn.execute("UPDATE callups SET state = 'no_answer' WHERE person_id = 'P4'")
        await conn.execute("UPDATE callups SET next_step_at = 1 WHERE state = 'awaiting'")
    states = await callup_states(app)
    assert (states["P1"], states["P2"], states["P5"]) == ("confirmed", "declined", "failed")

    status, body = await stand_down(client, tokens["leader"], activation["id"])
    assert status == 200
    assert body["state"] == "stood_down"
    assert body["stood_down_by"] == "test leader"
    assert body["stood_down_at"] == "2026-03-02T08:00:00Z"

    expected = {
        ("sms", phone_of("P1")),
        ("sms", phone_of("P3")),
        ("sms", phone_of("P4")),
        ("email", "p6@example.se"),
        ("email", "p7@example.se"),
    }
    assert await notices(app) == Counter(expected)
    await app[DISPATCHER].wait_idle()
    sent = await app[DATABASE].fetch_all(
        "SELECT channel, recipient, subject, body FROM sandbox_messages"
        " WHERE body LIKE '%avblåst%' OR subject LIKE '%avblåst%'"
    )
    assert Counter((r["channel"], r["recipient"]) for r in sent) == Counter(expected)
    sms_text = next(r["body"] for r in sent if r["recipient"] == phone_of("P1"))
    assert sms_text.startswith(
        "Exempelkommun: Storm är avblåst. Du behövs inte längre på Solgården"
    )
    email = next(r for r in sent if r["recipient"] == "p6@example.se")
    assert "Namn P6" in email["body"] and "Björkängen" in email["body"]

    rows = await app[DATABASE].fetch_all(
        "SELECT COUNT(*) FROM callups WHERE next_step_at IS NOT NULL"
    )
    assert rows[0][0] == 0  # escalation stopped
    assert await callup_states(app) == states  # the answers stand as they were

    # Again: the same activation, nothing more done or sent.
    again_status, again = await stand_down(client, tokens["leader"], activation["id"])
    assert (again_status, again) == (200, body)
    assert await notices(app) == Counter(expected)


async def test_messages_not_yet_sent_are_cancelled(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    slow = dataclasses.replace(settings, sms=dataclasses.replace(settings.sms, rate_per_second=1))
    app, slow_client, leader = await own_app(aiohttp_client, slow, clock)
    activation = await declare(slow_client, leader)
    status, _ = await stand_down(slow_client, leader, activation["id"])
    assert status == 200

    rows = await app[DATABASE].fetch_all(
        "SELECT channel, recipient, state FROM messages WHERE purpose = 'callup'"
    )
    sms_states = Counter(str(r["state"]) for r in rows if r["channel"] == "sms")
    # Six call-up SMS of two segments at one segment a second: one or two have left.
    assert sms_states["cancelled"] >= 4
    assert not {"queued", "failed_temporary"} & {str(r["state"]) for r in rows}
    left = {str(r["recipient"]) for r in rows if r["state"] != "cancelled"}
    # Only those whose call-up left are told; nobody twice.
    told = await notices(app)
    assert set(told) == {("sms", r) if r.startswith("+") else ("email", r) for r in left}
    assert set(told.values()) <= {1}


async def test_a_yes_after_stand_down_gets_no_longer_active_and_changes_nothing(
    client: Client, app: web.Application, tokens: dict[str, str], roster: None
) -> None:
    activation = await declare(client, tokens["leader"])
    await app[DISPATCHER].wait_idle()
    await sms_from(app, "P1", "JA")
    assert (await stand_down(client, tokens["leader"], activation["id"]))[0] == 200
    before = await callup_states(app)

    late_yes = await sms_from(app, "P3", "JA 10")
    late_no = await sms_from(app, "P1", "NEJ")
    for handled in (late_yes, late_no):
        assert handled.outcome is Outcome.NOT_ACTIVE
        assert (
            handled.reply
            == "Exempelkommun: Storm är inte längre aktuell. Ditt svar har inte registrerats."
        )
    assert await callup_states(app) == before
    rows = await app[DATABASE].fetch_all("SELECT COUNT(*) FROM answers")
    assert rows[0][0] == 1  # P1's yes before the stand-down, nothing after


async def test_unknown_closed_and_forbidden(
    client: Client, app: web.Application, tokens: dict[str, str], roster: None
) -> None:
    assert (await stand_down(client, tokens["leader"], "20260302-NOPE"))[0] == 404
    activation = await declare(client, tokens["leader"])
    status, body = await stand_down(client, tokens["viewer"], activation["id"])
    assert status == 403
    assert "leader" in body["error"]
    assert (await callup_states(app))["P1"] == "awaiting"

    async with app[DATABASE].transaction() as conn:
        await conn.execute(
            "UPDATE activations SET state = 'cancelled' WHERE id = ?", (activation["id"],)
        )
    status, body = await stand_down(client, tokens["admin"], activation["id"])
    assert status == 409
    assert body["state"] == "cancelled"
    assert await notices(app) == Counter()


async def test_one_awaiting_approval_can_be_stood_down(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    strict = dataclasses.replace(
        settings, escalation=dataclasses.replace(settings.escalation, two_person_approval=True)
    )
    _, strict_client, leader = await own_app(aiohttp_client, strict, clock)
    activation = await declare(strict_client, leader)
    assert activation["state"] == "awaiting_approval"
    status, body = await stand_down(strict_client, leader, activation["id"])
    assert (status, body["state"]) == (200, "stood_down")


@pytest.mark.parametrize(
    ("sms", "email", "opted_out", "by_sms", "by_email", "channel"),
    [
        ("+46701", "a@x.se", False, True, False, "sms"),
        ("+46701", "a@x.se", False, True, True, "sms"),
        ("+46701", "a@x.se", False, False, True, "email"),  # the SMS failed: e-mail went
        ("+46701", "a@x.se", True, True, False, "email"),  # opted out since
        ("+46701", None, True, True, False, None),
        ("+46701", None, False, False, False, "sms"),  # confirmed, record unclear
        (None, "a@x.se", False, False, True, "email"),
        (None, None, False, False, False, None),
    ],
)
def test_notice_channel(
    sms: str | None,
    email: str | None,
    opted_out: bool,
    by_sms: bool,
    by_email: bool,
    channel: str | None,
) -> None:
    assert (
        notice_channel(
            sms_number=sms,
            email=email,
            opted_out=opted_out,
            reached_by_sms=by_sms,
            reached_by_email=by_email,
        )
        == channel
    )


def test_command_line_stand_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    database = tmp_path / "d.sqlite3"
    roster = write_roster(
        tmp_path / "roster",
        [UnitRow("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1")],
        [
            StaffRow("P1", "Anna", "U1", phone="070-100 00 01"),
            StaffRow("P2", "Bo", "U1", email="bo@example.se"),
        ],
    )
    import_roster(database, roster)
    capsys.readouterr()
    config = tmp_path / "dispatcher.toml"
    config.write_text(f"[service]\ndatabase = '{database}'\n", encoding="utf-8")
    assert main(["--config", str(config), "activate", "--kind", "crisis", "--title", "Storm"]) == 0
    activation_id = capsys.readouterr().out.split()[2].rstrip(":")

    # No service is running: nothing has left, so everything is cancelled and nobody told.
    assert main(["--config", str(config), "stand-down", activation_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Stood down crisis {activation_id}: Storm.")
    assert "2 unsent message(s) cancelled; 0 stand-down notice(s) queued" in out
    with contextlib.closing(sqlite3.connect(database)) as db:
        state, by = db.execute(
            "SELECT state, stood_down_by FROM activations WHERE id = ?", (activation_id,)
        ).fetchone()
        left = db.execute("SELECT COUNT(*) FROM messages WHERE state != 'cancelled'").fetchone()
    assert state == "stood_down" and by.startswith("cli:")
    assert left == (0,)

    assert main(["--config", str(config), "stand-down", activation_id]) == 0
    assert capsys.readouterr().out.startswith(f"Already stood down: {activation_id}")
    assert main(["--config", str(config), "stand-down", "NOPE"]) == 1
    assert "no activation 'NOPE'" in capsys.readouterr().err
