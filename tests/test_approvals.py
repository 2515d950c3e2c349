"""The two-person rule through the real app: a crisis waits, sends nothing, and a second
leader's approval plans and sends the call-ups from the roster as it is then."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dispatcher.cli import main
from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import Settings
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER, ESCALATOR
from dispatcher.web.app import create_app

Client = TestClient[web.Request, web.Application]

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Björkängen", "förskola", "Norr", "Björkvägen 2, Lerum", None),
)


def person(pid: str, placement: str, phone: str | None = None, email: str | None = None) -> Person:
    return Person(
        person_id=pid,
        name=f"Namn {pid}",
        phone=phone,
        phone_kind=PhoneKind.MOBILE if phone else PhoneKind.NONE,
        email=email,
        role=Role.MANAGER,
        pay_pct=100,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
    )


PEOPLE = (
    person("P1", "U1", phone="+46701000001"),
    person("P2", "U1", phone="+46701000002"),
    person("P3", "U1", email="p3@example.se"),
    person("P4", "U2", phone="+46701000004"),
)


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, escalation=dataclasses.replace(settings.escalation, two_person_approval=True)
    )


@pytest.fixture
def app(strict: Settings, clock: ManualClock) -> web.Application:
    """The real app with the two-person rule on (replaces conftest's `app`)."""
    return create_app(strict, clock=clock)


async def import_roster(app: web.Application, units: Any, people: Any) -> None:
    await replace_roster(
        app[DATABASE],
        Roster(tuple(units), tuple(people), ()),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )


@pytest.fixture
async def roster(client: Client, app: web.Application) -> None:
    await import_roster(app, UNITS, PEOPLE)


@pytest.fixture
async def second_leader(client: Client, app: web.Application) -> str:
    return (await app[ACCESS_TOKENS].create("Krisledare Bo", AccessRole.LEADER)).secret


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def declare(client: Client, token: str, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/activations", json=body, headers=auth(token))
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def approve(client: Client, token: str, activation_id: str) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/activations/{activation_id}/approve", headers=auth(token))
    return response.status, await response.json()


async def count(app: web.Application, table: str) -> int:
    row = await app[DATABASE].fetch_one(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


async def sent_to(app: web.Application) -> list[str]:
    rows = await app[DATABASE].fetch_all("SELECT recipient FROM sandbox_messages ORDER BY 1")
    return [str(r[0]) for r in rows]


async def test_nothing_is_sent_until_a_second_leader_approves(
    client: Client,
    app: web.Application,
    strict: Settings,
    clock: ManualClock,
    tokens: dict[str, str],
    second_leader: str,
    roster: None,
) -> None:
    activation = await declare(client, tokens["leader"], kind="crisis", title="Storm")
    assert activation["state"] == "awaiting_approval"
    # Time passes and every worker runs: still nothing at all is sent.
    clock.advance(timedelta(hours=2))
    await app[ESCALATOR].tick()
    await app[DISPATCHER].wait_idle()
    assert [await count(app, t) for t in ("callups", "messages", "sandbox_messages")] == [0, 0, 0]

    status, body = await approve(client, tokens["leader"], activation["id"])
    assert (status, body["error"]) == (
        409,
        "a second leader must approve: this token declared the activation",
    )
    status, _ = await approve(client, tokens["viewer"], activation["id"])
    assert status == 403
    assert await count(app, "messages") == 0

    status, body = await approve(client, second_leader, activation["id"])
    assert status == 200, body
    assert body["state"] == "active"
    assert body["approved_by"] == "Krisledare Bo"
    assert body["approved_at"] == clock.now().isoformat().replace("+00:00", "Z")
    await app[DISPATCHER].wait_idle()
    assert await sent_to(app) == ["+46701000001", "+46701000002", "+46701000004", "p3@example.se"]
    rows = await app[DATABASE].fetch_all("SELECT DISTINCT next_step_at FROM callups")
    reminder_at = to_millis(clock.now()) + strict.escalation.remind_after_minutes * 60_000
    assert [r[0] for r in rows] == [reminder_at]
    status_body = await (
        await client.get(
            f"/api/activations/{activation['id']}/status", headers=auth(tokens["viewer"])
        )
    ).json()
    assert status_body["totals"]["called"] == 4

    status, body = await approve(client, second_leader, activation["id"])
    assert (status, body["state"]) == (409, "active")


async def test_approval_calls_the_roster_as_it_is_when_approved(
    client: Client, app: web.Application, tokens: dict[str, str], second_leader: str, roster: None
) -> None:
    activation = await declare(
        client, tokens["leader"], kind="crisis", title="Storm", scope={"units": ["U1"]}
    )
    # P2 left, P7 joined and Solgården now needs three.
    bigger = dataclasses.replace(UNITS[0], crisis_need=3)
    people = [p for p in PEOPLE if p.person_id != "P2"] + [person("P7", "U1", "+46701000007")]
    await import_roster(app, [bigger, UNITS[1]], people)

    status, _ = await approve(client, second_leader, activation["id"])
    assert status == 200
    rows = await app[DATABASE].fetch_all("SELECT person_id FROM callups ORDER BY person_id")
    assert [r[0] for r in rows] == ["P1", "P3", "P7"]
    units = await app[DATABASE].fetch_all(
        "SELECT unit_id, needed FROM activation_units WHERE activation_id = ?", (activation["id"],)
    )
    assert [tuple(u) for u in units] == [("U1", 3)]


async def test_a_crisis_declared_on_the_command_line_needs_any_leader(
    client: Client,
    app: web.Application,
    database_path: Path,
    tmp_path: Path,
    tokens: dict[str, str],
    roster: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    config = tmp_path / "strict.toml"
    config.write_text(
        f"[service]\ndatabase = '{database_path}'\n[escalation]\ntwo_person_approval = true\n",
        encoding="utf-8",
    )
    # main() runs its own event loop: in a thread beside this test's loop.
    argv = ["--config", str(config), "activate", "--kind", "crisis", "--title", "Storm", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    activation_id = out.split('"id": "', 1)[1].split('"', 1)[0]
    row = await app[DATABASE].fetch_one(
        "SELECT state, declared_by, declared_by_token FROM activations WHERE id = ?",
        (activation_id,),
    )
    assert row is not None
    assert (row[0], row[1].startswith("cli:"), row[2]) == ("awaiting_approval", True, None)
    assert await count(app, "messages") == 0

    status, body = await approve(client, tokens["leader"], activation_id)
    assert (status, body["state"]) == (200, "active")
    assert await count(app, "callups") == 4


async def test_only_one_awaiting_approval_can_be_approved(
    client: Client, app: web.Application, tokens: dict[str, str], second_leader: str, roster: None
) -> None:
    status, body = await approve(client, second_leader, "20260302-NOPE")
    assert (status, body["error"]) == (404, "no activation '20260302-NOPE'")

    drill = await declare(client, tokens["leader"], kind="drill", title="Övning")
    assert drill["state"] == "active"  # drills never wait
    status, body = await approve(client, second_leader, drill["id"])
    assert (status, body["state"]) == (409, "active")

    crisis = await declare(client, tokens["leader"], kind="crisis", title="Storm")
    response = await client.post(
        f"/api/activations/{crisis['id']}/stand-down", headers=auth(tokens["leader"])
    )
    assert response.status == 200
    status, body = await approve(client, second_leader, crisis["id"])
    assert (status, body["state"]) == (409, "stood_down")
    rows = await app[DATABASE].fetch_all(
        "SELECT COUNT(*) FROM callups WHERE activation_id = ?", (crisis["id"],)
    )
    assert rows[0][0] == 0


async def test_approval_is_refused_when_the_roster_no_longer_has_the_scope(
    client: Client, app: web.Application, tokens: dict[str, str], second_leader: str, roster: None
) -> None:
    activation = await declare(
        client, tokens["leader"], kind="crisis", title="Storm", scope={"units": ["U2"]}
    )
    await import_roster(app, UNITS[:1], [p for p in PEOPLE if p.placement == "U1"])

    status, body = await approve(client, second_leader, activation["id"])
    assert status == 409
    assert body["error"].startswith("the roster changed since the declaration: scope.units")
    row = await app[DATABASE].fetch_one(
        "SELECT state FROM activations WHERE id = ?", (activation["id"],)
    )
    assert row is not None and row[0] == "awaiting_approval"
    assert await count(app, "callups") == 0
