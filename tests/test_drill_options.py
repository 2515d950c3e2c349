"""Per-activation options through the real app: defaults per kind, validation, reserves in a
drill, gap reports to the exercise leader, the command line's flags; and a real crisis
taking precedence over a drill in what people see (the code SMS, the lists)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.activation_options import ActivationOptions, OptionsError, parse_report_to
from dispatcher.answer_desk import InboundSms
from dispatcher.cli import main
from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.settings import Settings
from dispatcher.store.activations import get_activation
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER, ESCALATOR
from dispatcher.web.app import create_app
from tests.conftest import START
from tests.test_escalator import phone, world_settings
from tests.test_gap_reports import PEOPLE, PERIOD, TEAM, UNITS, put_roster, team_settings, tick
from tests.test_reserves import short_unit_roster

Client = TestClient[web.Request, web.Application]

LEADER_PHONE = "+46705550001"  # "070-555 00 01" as given
LEADER_EMAIL = "ovningsledare@example.se"
REPORT_TO = [{"name": "Övningsledaren", "phone": "070-555 00 01", "email": LEADER_EMAIL}]


@pytest.fixture
def settings(database_path: Path) -> Settings:
    return team_settings(database_path)


@pytest.fixture
async def roster(client: Client, app: web.Application) -> None:
    await put_roster(app, UNITS, PEOPLE)


async def post(client: Client, token: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/api/activations",
        json={"title": "Storm", **body},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status, await response.json()


async def declare(client: Client, token: str, kind: str, title: str, **body: Any) -> str:
    status, answer = await post(client, token, kind=kind, title=title, **body)
    assert status == 201, answer
    return str(answer["id"])


async def options_of(app: web.Application, activation_id: str) -> dict[str, Any]:
    record = await get_activation(app[DATABASE], activation_id)
    assert record is not None
    return record.options


async def gap_report_recipients(app: web.Application, activation_id: str) -> set[str]:
    rows = await app[DATABASE].fetch_all(
        "SELECT recipient FROM messages WHERE purpose = 'gap_report' AND activation_id = ?",
        (activation_id,),
    )
    return {str(r[0]) for r in rows}


# --- defaults and validation ---------------------------------------------------------------


async def test_defaults_per_kind_are_stored_resolved(
    client: Client, app: web.Application, tokens: dict[str, str], roster: None
) -> None:
    leader = tokens["leader"]
    crisis = await declare(client, leader, "crisis", "Storm")
    drill = await declare(client, leader, "drill", "Övning")
    led = await declare(client, leader, "drill", "Ledd", options={"report_to": REPORT_TO})
    asked = await declare(client, leader, "drill", "Stor", options={"reserves": True})
    assert await options_of(app, crisis) == {
        "reserves": True,
        "gap_reports": True,
        "report_to": [],
    }
    assert await options_of(app, drill) == {
        "reserves": False,
        "gap_reports": False,
        "report_to": [],
    }
    assert await options_of(app, led) == {
        "reserves": False,
        "gap_reports": True,
        "report_to": [{"name": "Övningsledaren", "phone": LEADER_PHONE, "email": LEADER_EMAIL}],
    }
    assert (await options_of(app, asked))["reserves"] is True


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ("all", "options"),
        ({"reserves": "yes"}, "options.reserves"),
        ({"gap_reports": 1}, "options.gap_reports"),
        ({"colour": "red"}, "options.colour"),
        ({"report_to": {"name": "Eva"}}, "options.report_to"),
        ({"report_to": ["Eva"]}, "options.report_to[0]"),
        ({"report_to": [{"name": "Eva"}]}, "options.report_to[0]"),
        ({"report_to": [{"name": " ", "email": "e@x.se"}]}, "options.report_to[0].name"),
        ({"report_to": [{"name": "Eva", "phone": "08-123 456 78"}]}, "options.report_to[0].phone"),
        ({"report_to": [{"name": "Eva", "phone": "inte"}]}, "options.report_to[0].phone"),
        ({"report_to": [{"name": "Eva", "phone": 46701}]}, "options.report_to[0].phone"),
        ({"report_to": [{"name": "Eva", "email": "eva"}]}, "options.report_to[0].email"),
        (
            {"report_to": [{"name": "Eva", "email": "e@x.se", "role": 1}]},
            "options.report_to[0].role",
        ),
        ({"report_to": [REPORT_TO[0]] * 11}, "options.report_to"),
    ],
)
async def test_bad_options_are_refused_naming_the_field(
    client: Client,
    app: web.Application,
    tokens: dict[str, str],
    roster: None,
    options: Any,
    field: str,
) -> None:
    status, body = await post(client, tokens["leader"], kind="drill", options=options)
    assert status == 400, body
    assert body["field"] == field
    assert await app[DATABASE].fetch_all("SELECT id FROM activations") == []


def test_null_options_and_flags_mean_the_defaults() -> None:
    assert ActivationOptions.from_json(None) == ActivationOptions()
    drill = ActivationOptions.from_json({"reserves": None, "gap_reports": None, "report_to": None})
    assert drill.resolved("drill") == {"reserves": False, "gap_reports": False, "report_to": []}
    assert (
        ActivationOptions.from_json({"gap_reports": False}).resolved("crisis")["gap_reports"]
        is False
    )


def test_report_to_from_the_command_line() -> None:
    assert parse_report_to("Eva Ek:070-555 00 01") == {"name": "Eva Ek", "phone": "070-555 00 01"}
    assert parse_report_to("Eva:eva@example.se") == {"name": "Eva", "email": "eva@example.se"}
    with pytest.raises(OptionsError):
        parse_report_to("Eva")


# --- what the options do -----------------------------------------------------------------


async def reserve_world(aiohttp_client: AiohttpClient, tmp_path: Path) -> tuple[Client, str]:
    clock = ManualClock(START)
    app = create_app(world_settings(tmp_path / "reserves.sqlite3"), clock=clock)
    client = await aiohttp_client(app)
    await replace_roster(
        app[DATABASE],
        short_unit_roster(),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=to_millis(clock.now()),
    )
    return client, (await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret


@pytest.mark.parametrize(
    ("options", "called"), [({}, ["P1", "P2"]), ({"reserves": True}, ["P1", "P2", "R1"])]
)
async def test_a_drill_calls_reserves_only_when_its_options_say_so(
    aiohttp_client: AiohttpClient, tmp_path: Path, options: dict[str, Any], called: list[str]
) -> None:
    client, token = await reserve_world(aiohttp_client, tmp_path)
    app = client.app
    drill = await declare(
        client, token, "drill", "Övning", scope={"units": ["U1"]}, options=options
    )
    handled = await app[ANSWER_DESK].handle_sms(InboundSms("SM" + "1" * 32, phone(1), "NEJ"))
    assert handled.callup_id is not None
    await app[ESCALATOR].tick()
    await app[DISPATCHER].wait_idle()
    rows = await app[DATABASE].fetch_all(
        "SELECT person_id FROM callups WHERE activation_id = ? ORDER BY id", (drill,)
    )
    assert [r[0] for r in rows] == called


async def test_drill_gap_reports_go_to_the_exercise_leader_only(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str], roster: None
) -> None:
    leader = tokens["leader"]
    led = await declare(client, leader, "drill", "Ledd", options={"report_to": REPORT_TO})
    crisis = await declare(client, leader, "crisis", "Storm")
    silent = await declare(client, leader, "drill", "Tyst")
    assert await tick(app, clock, PERIOD) == 2
    assert await gap_report_recipients(app, led) == {LEADER_PHONE, LEADER_EMAIL}
    assert await gap_report_recipients(app, crisis) == TEAM  # the leader gets no crisis report
    assert await gap_report_recipients(app, silent) == set()


async def test_a_drill_asking_for_gap_reports_without_a_leader_reports_to_the_crisis_team(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str], roster: None
) -> None:
    drill = await declare(
        client, tokens["leader"], "drill", "Övning", options={"gap_reports": True}
    )
    off = await declare(
        client,
        tokens["leader"],
        "drill",
        "Av",
        options={"gap_reports": False, "report_to": REPORT_TO},
    )
    assert await tick(app, clock, PERIOD) == 1
    assert await gap_report_recipients(app, drill) == TEAM
    assert await gap_report_recipients(app, off) == set()


# --- a real crisis takes precedence ------------------------------------------------------


async def test_the_code_sms_lists_the_crisis_before_the_drill(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str], roster: None
) -> None:
    await declare(client, tokens["leader"], "drill", "Övningen")
    clock.advance(timedelta(minutes=5))
    await declare(client, tokens["leader"], "crisis", "Stormen")
    sender = PEOPLE[0].phone
    assert sender is not None
    handled = await app[ANSWER_DESK].handle_sms(InboundSms("SM" + "7" * 32, sender, "ja"))
    assert handled.outcome == "code_needed"
    assert handled.reply is not None
    assert handled.reply.index("Stormen") < handled.reply.index("Övningen")
    # Nothing was applied to either.
    rows = await app[DATABASE].fetch_all("SELECT DISTINCT state FROM callups")
    assert {r[0] for r in rows} == {"awaiting"}


async def test_the_lists_show_open_crises_before_drills(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str], roster: None
) -> None:
    leader = {"Authorization": f"Bearer {tokens['leader']}"}
    old = await declare(client, tokens["leader"], "crisis", "Avblåst kris")
    assert (await client.post(f"/api/activations/{old}/stand-down", headers=leader)).status == 200
    clock.advance(timedelta(minutes=1))
    await declare(client, tokens["leader"], "crisis", "Stormen")
    clock.advance(timedelta(minutes=1))
    await declare(client, tokens["leader"], "drill", "Övningen")  # newer, still after the crisis
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    listed = (await (await client.get("/api/activations", headers=viewer)).json())["activations"]
    assert [a["title"] for a in listed] == ["Stormen", "Övningen", "Avblåst kris"]
    page = await (await client.get("/dashboard", headers=viewer)).text()
    assert page.index("Stormen") < page.index("Övningen") < page.index("Avblåst kris")


# --- the command line --------------------------------------------------------------------


def test_activate_takes_the_drill_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    database = tmp_path / "d.sqlite3"
    config = tmp_path / "dispatcher.toml"
    config.write_text(f"[service]\ndatabase = '{database}'\n", encoding="utf-8")
    base = ["--config", str(config)]
    assert main([*base, "demo", "setup", "--people", "40"]) == 0
    capsys.readouterr()
    drill = ["activate", "--kind", "drill", "--title", "Övning", "--json"]
    assert main([*base, *drill, "--report-to", "Eva:nope-phone"]) == 1
    assert "--report-to" in capsys.readouterr().err
    assert main([*base, *drill, "--reserves", "--report-to", "Eva Ek:070-555 00 01"]) == 0
    activation_id = json.loads(capsys.readouterr().out)["id"]
    with sqlite3.connect(database) as conn:
        (stored,) = conn.execute(
            "SELECT options_json FROM activations WHERE id = ?", (activation_id,)
        ).fetchone()
    conn.close()
    assert json.loads(stored) == {
        "reserves": True,
        "gap_reports": True,
        "report_to": [{"name": "Eva Ek", "phone": LEADER_PHONE, "email": ""}],
    }
