"""The drill report through the real app: a full drill on the sandbox channels with answers
spread over a moved clock, whose report must equal an independent count of the events this
test made; the CSV, the chart, access, the audit, the command line; and the reasons a real
provider's refusals give (fake Twilio, a real SMTP server)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from dispatcher import cli
from dispatcher.answer_desk import InboundSms
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER, ESCALATOR
from dispatcher.web.app import create_app
from tests.conftest import START
from tests.e2e_support import StaffRow, UnitRow, e164, mobile, running_world, settle, write_roster
from tests.test_drill_report import independent_percentile

MINUTE = timedelta(minutes=1)
NORR = {"areas": ["Norr"]}
SECRET = ("Hemligsson", "Socialtjänst", "P11")  # the protected person's name, department, id

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", 3),
    Unit("U2", "Ekbacken", "förskola", "Norr", "Ekvägen 2", 2),
    Unit("U3", "Tallen", "skola", "Norr", "Tallvägen 3", 0),
    Unit("U9", "Björken", "skola", "Söder", "Björkvägen 9", 1),
)


def phone(n: int) -> str:
    return f"+46701000{n:03d}"


def person(
    n: int,
    unit: str,
    department: str,
    *,
    sms: bool = True,
    email: bool = False,
    protected: bool = False,
) -> Person:
    return Person(
        f"P{n:02d}",
        "Hemlig Hemligsson" if protected else f"Person {n}",
        phone(n) if sms else None,
        PhoneKind.MOBILE if sms else PhoneKind.NONE,
        f"p{n}@example.se" if email else None,
        Role.ADMIN,
        100,
        department,
        unit,
        None,
        protected=protected,
    )


PEOPLE = (
    person(1, "U1", "Ekonomi"),
    person(2, "U1", "Vård"),
    person(3, "U1", "Skola"),
    person(4, "U1", "Ekonomi"),
    person(5, "U2", "Vård"),
    person(6, "U2", "Skola"),
    person(7, "U2", "Ekonomi"),
    person(8, "U1", "Vård"),
    person(9, "U2", "Vård"),
    person(10, "U2", "Ekonomi"),
    person(11, "U1", "Socialtjänst", protected=True),
    person(12, "U2", "Ekonomi", sms=False),  # no way to reach them at all
    person(13, "U2", "Skola"),  # opted out of SMS before the drills, no e-mail
    person(14, "U1", "Skola", email=True),
    person(15, "U9", "Skola"),  # Söder: outside the Norr drills
)
IN_NORR = [p for p in PEOPLE if p.placement != "U9"]
BY_ID = {p.person_id: p for p in PEOPLE}

# (minutes after the call-up, person, reply): what the phones send during the drill.
SCRIPT = (
    (1.5, "P01", "ja"),
    (2, "P02", "nej sjuk"),
    (3.25, "P03", "ja 20"),
    (4, "P04", "nej"),
    (6, "P04", "Ja!"),  # a change of mind: confirmed from here
    (8, "P05", "ja"),
    (9, "P05", "ja 15"),  # an ETA after the yes: confirmed from 8 still
    (12, "P06", "JA"),
    (15, "P07", "hmm?"),  # not understood: no answer recorded
    (25, "P08", "ja"),
    (31, "P09", "nej"),
    (45, "P10", "ja"),
)
STAND_DOWN_AT = 70
LATE = (75, "P07", "ja")  # after the stand-down: not applied


def meaning(body: str) -> str | None:
    word = body.split(maxsplit=1)[0].strip("!").lower()
    return {"ja": "yes", "nej": "no"}.get(word)


@dataclass
class Expected:
    """The report's figures, counted from SCRIPT and the roster alone."""

    answers: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for minutes, who, body in SCRIPT:
            understood = meaning(body)
            if understood is not None:
                self.answers[who].append((minutes, understood))

    def state(self, p: Person) -> str:
        if p.person_id in ("P12", "P13"):
            return "failed"
        history = self.answers.get(p.person_id)
        if not history:
            return "no_answer"
        return "confirmed" if history[-1][1] == "yes" else "declined"

    def confirmed_at(self, p: Person) -> float | None:
        if self.state(p) != "confirmed":
            return None
        since = None
        for minutes, answer in self.answers[p.person_id]:
            since = None if answer == "no" else (minutes if since is None else since)
        return since

    def counts(self, people: list[Person]) -> dict[str, Any]:
        states = [self.state(p) for p in people]
        answered = sum(1 for p in people if self.answers.get(p.person_id))
        return {
            "called": len(people),
            "answered": answered,
            "confirmed": states.count("confirmed"),
            "declined": states.count("declined"),
            "no_answer": states.count("no_answer"),
            "failed": states.count("failed"),
            "response_rate": round(answered / len(people), 3) if people else None,
        }


def spread(minutes: list[float]) -> dict[str, Any]:
    ms = [round(m * 60_000) for m in minutes]
    if not ms:
        return {"count": 0, "p50": None, "p90": None, "max": None}
    return {
        "count": len(ms),
        **{
            k: round(independent_percentile(ms, p) / 60_000, 1)
            for k, p in (("p50", 50), ("p90", 90))
        },
        "max": round(max(ms) / 60_000, 1),
    }


Client = TestClient[web.Request, web.Application]


@dataclass
class Drill:
    app: web.Application
    client: Client
    clock: ManualClock
    tokens: dict[str, str]
    database: Path
    sids: int = 0

    def auth(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def sms(self, who: str, body: str) -> None:
        self.sids += 1
        sender = BY_ID[who].phone
        assert sender is not None
        await self.app[ANSWER_DESK].handle_sms(InboundSms(f"SM{self.sids:032d}", sender, body))

    async def declare(self, kind: str, scope: dict[str, list[str]], title: str) -> str:
        response = await self.client.post(
            "/api/activations",
            json={"kind": kind, "title": title, "scope": scope},
            headers=self.auth("leader"),
        )
        assert response.status == 201, await response.text()
        activation_id: str = (await response.json())["id"]
        await self.settle()
        return activation_id

    async def stand_down(self, activation_id: str) -> None:
        response = await self.client.post(
            f"/api/activations/{activation_id}/stand-down", headers=self.auth("leader")
        )
        assert response.status == 200, await response.text()
        await self.settle()

    async def settle(self) -> None:
        await self.app[ESCALATOR].tick()
        await self.app[DISPATCHER].wait_idle()

    async def to_minute(self, start: Any, minutes: float) -> None:
        self.clock.set(start + minutes * MINUTE)
        await self.settle()

    async def get(self, path: str, **headers: str) -> tuple[int, str, str]:
        response = await self.client.get(path, headers={**self.auth(), **headers})
        return response.status, response.content_type, await response.text()


@pytest.fixture
async def drill(aiohttp_client: AiohttpClient, tmp_path: Path) -> AsyncIterator[Drill]:
    database = tmp_path / "drill.sqlite3"
    clock = ManualClock(START - timedelta(days=3))
    app = create_app(
        settings_from_mapping(
            {
                "service": {"database": str(database)},
                "sms": {"rate_per_second": 1000},
                "email": {"rate_per_second": 1000},
            },
            {},
        ),
        clock=clock,
    )
    client = await aiohttp_client(app)
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE),
        imported_by="t",
        source="t",
        warnings=0,
        imported_at_ms=0,
    )
    store = app[ACCESS_TOKENS]
    tokens = {r.value: (await store.create(f"t {r.value}", r)).secret for r in AccessRole}
    yield Drill(app, client, clock, tokens, database)


async def run_the_drills(d: Drill) -> tuple[str, dict[str, str]]:
    """A Söder drill, an earlier Norr drill, a Norr crisis, then the drill under test."""
    await d.sms("P13", "STOPP")
    others = {"soder": await d.declare("drill", {"areas": ["Söder"]}, "Söder")}
    await d.stand_down(others["soder"])

    d.clock.set(START - timedelta(days=2))
    others["earlier"] = await d.declare("drill", NORR, "Höstövning")
    d.clock.advance(2 * MINUTE)
    await d.sms("P01", "ja")
    d.clock.advance(2 * MINUTE)
    await d.sms("P02", "nej")
    d.clock.advance(26 * MINUTE)
    await d.stand_down(others["earlier"])

    d.clock.set(START - timedelta(days=1))
    others["crisis"] = await d.declare("crisis", NORR, "Storm")
    await d.sms("P03", "ja")
    await d.stand_down(others["crisis"])

    d.clock.set(START)
    current = await d.declare("drill", NORR, "Vinterövning")
    for minutes, who, body in SCRIPT:
        await d.to_minute(START, minutes)
        await d.sms(who, body)
    await d.to_minute(START, 61)  # past the answer deadline: the silent are no_answer
    await d.to_minute(START, STAND_DOWN_AT)
    await d.stand_down(current)
    await d.to_minute(START, LATE[0])
    await d.sms(LATE[1], LATE[2])
    return current, others


async def test_a_full_drill_reports_what_happened(drill: Drill) -> None:
    current, others = await run_the_drills(drill)
    status, content_type, text = await drill.get(f"/api/activations/{current}/report")
    assert (status, content_type) == (200, "application/json"), text
    report = json.loads(text)
    expected = Expected()

    assert report["activation"]["kind"] == "drill"
    assert report["totals"] == {"needed": 5, **expected.counts(IN_NORR)}
    first = [history[0][0] for history in expected.answers.values()]
    confirmed = [m for p in IN_NORR if (m := expected.confirmed_at(p)) is not None]
    assert report["first_answer_minutes"] == spread(first)
    assert report["confirmation_minutes"] == spread(confirmed)

    for unit in report["units"]:
        members = [p for p in IN_NORR if p.placement == unit["unit_id"]]
        needed = {u.unit_id: u.crisis_need for u in UNITS}[unit["unit_id"]]
        times = sorted(m for p in members if (m := expected.confirmed_at(p)) is not None)
        covered = 0.0 if not needed else (times[needed - 1] if len(times) >= needed else None)
        assert {k: unit[k] for k in expected.counts(members)} == expected.counts(members)
        assert (unit["needed"], unit["covered_after_minutes"]) == (needed, covered)
    assert {u["unit_id"]: u["covered_after_minutes"] for u in report["units"]} == {
        "U1": 6.0,  # P01 at 1.5, P03 at 3.25, P04 (after changing their mind) at 6
        "U2": 12.0,  # P05 at 8, P06 at 12
        "U3": 0.0,  # needs nobody
    }

    departments = {d["department"]: d for d in report["departments"]}
    for name in ("Ekonomi", "Vård", "Skola"):
        members = [p for p in IN_NORR if p.department == name and not p.protected]
        assert {k: departments[name][k] for k in expected.counts(members)} == expected.counts(
            members
        )
    assert departments["skyddade personer"]["called"] == 1

    reasons = {p["person_id"]: p["reasons"] for p in report["not_reached"]["people"]}
    assert reasons == {
        "P07": ["no_answer"],
        None: ["no_answer"],  # the protected person, unnamed
        "P12": ["no_contact"],
        "P13": ["opted_out"],
        "P14": ["no_answer"],
    }

    points = [(p["minutes"], p["confirmed"]) for p in report["confirmations_over_time"]["total"]]
    assert points == [(0.0, 0)] + [(m, i) for i, m in enumerate(sorted(confirmed), start=1)]

    trend = report["trend"]
    assert [t["activation_id"] for t in trend] == [others["earlier"], current]
    assert [t["current"] for t in trend] == [False, True]
    assert trend[0]["answered"] == 2 and trend[0]["confirmed"] == 1
    assert trend[0]["first_answer_minutes"] == spread([2, 4])
    assert trend[1]["response_rate"] == report["totals"]["response_rate"]
    assert not any(secret in text for secret in SECRET)


async def test_csv_chart_access_and_audit(drill: Drill) -> None:
    current, _ = await run_the_drills(drill)
    path = f"/api/activations/{current}/report"
    _, _, as_json = await drill.get(path)
    totals = json.loads(as_json)["totals"]

    for query, headers in (("?format=csv", {}), ("", {"Accept": "text/csv"})):
        status, content_type, text = await drill.get(path + query, **headers)
        assert (status, content_type) == (200, "text/csv"), text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["section"] == "total" and rows[0]["id"] == current
        assert int(rows[0]["called"]) == totals["called"]
        assert float(rows[0]["response_rate"]) == totals["response_rate"]
        assert {r["section"] for r in rows} == {
            "total",
            "unit",
            "department",
            "not_reached",
            "trend",
        }
        assert not any(secret in text for secret in SECRET)
        assert "skyddad person" in text

    status, content_type, svg = await drill.get(path + "/chart.svg")
    assert (status, content_type) == (200, "image/svg+xml")
    root = ET.fromstring(svg.encode("utf-8"))
    assert (root.attrib["width"], root.attrib["height"]) == ("800", "480")
    polylines = list(root.iter("{http://www.w3.org/2000/svg}polyline"))
    assert len(polylines) == 3  # Solgården, Ekbacken and the total
    total = [tuple(map(float, p.split(","))) for p in polylines[-1].attrib["points"].split()]
    assert len({y for _, y in total}) == totals["confirmed"] + 1  # one step per confirmation
    assert not any(secret in svg for secret in SECRET)

    assert (await drill.get(path + "?format=xml"))[0] == 400
    assert (await drill.get("/api/activations/nope/report"))[0] == 404
    assert (await drill.get("/api/activations/nope/report/chart.svg"))[0] == 404
    for suffix in ("", "?format=csv", "/chart.svg"):
        response = await drill.client.get(path + suffix)
        assert response.status == 401

    audited = await drill.app[DATABASE].fetch_all(
        "SELECT subject, detail_json FROM audit_log WHERE action = 'export.read'"
    )
    formats = [json.loads(r["detail_json"])["format"] for r in audited if r["subject"] == current]
    assert sorted(formats) == ["csv", "csv", "json"]  # the chart names nobody: not audited


async def test_the_command_line_report(
    drill: Drill, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current, _ = await run_the_drills(drill)
    config = tmp_path / "cli.toml"
    config.write_text(f"[service]\ndatabase = '{drill.database}'\n", encoding="utf-8")
    chart = tmp_path / "chart.svg"

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        status = await asyncio.to_thread(cli.main, ["--config", str(config), "report", *argv])
        return status, capsys.readouterr().out

    status, out = await run(current, "--format", "json", "--chart", str(chart))
    assert status == 0 and json.loads(out)["totals"]["called"] == len(IN_NORR)
    assert ET.fromstring(chart.read_bytes()).attrib["width"] == "800"
    status, out = await run(current, "--format", "csv")
    assert status == 0 and next(csv.DictReader(io.StringIO(out)))["called"] == str(len(IN_NORR))
    status, out = await run(current)
    assert status == 0
    assert "Solgården" in out and "no_contact" in out and "skyddad person" in out
    assert not any(secret in out for secret in SECRET)
    assert (await run("nope"))[0] == 1


async def test_provider_refusals_give_their_reasons(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    """Twilio refuses one number as invalid and another as opted out; the mail server
    bounces one address: the report says so, person by person."""
    roster = write_roster(
        tmp_path / "roster",
        [UnitRow("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", "2")],
        [
            StaffRow("R1", "Rut Ett", "U1", mobile(1), "r1@example.se"),  # SMS and e-mail refused
            StaffRow("R2", "Rut Två", "U1", mobile(2), "r2@example.se"),  # STOP; e-mail goes out
            StaffRow("R3", "Rut Tre", "U1", mobile(3)),  # answers yes
        ],
    )
    clock = ManualClock(START)
    async with running_world(
        tmp_path, aiohttp_server, aiohttp_client, roster, clock=clock
    ) as world:
        world.fake.refuse(e164(1), 21211)
        world.fake.refuse(e164(2), 21610)
        world.smtp.refuse("r1@example.se")
        activation = await world.declare({"kind": "drill", "title": "Övning", "scope": NORR})
        await settle(world, clock)
        clock.advance(5 * MINUTE)
        await world.app[ANSWER_DESK].handle_sms(InboundSms("SM" + "0" * 32, e164(3), "ja"))
        report = await world.get(f"/api/activations/{activation['id']}/report")
    reasons = {p["person_id"]: p["reasons"] for p in report["not_reached"]["people"]}
    assert reasons == {
        "R1": ["invalid_number", "bounced_email"],
        "R2": ["opted_out", "no_answer"],
    }
    assert report["confirmation_minutes"]["p50"] == 5.0
    assert report["totals"]["failed"] == 1
