"""Scheduled drills through the real app: schedule, change, cancel, run on time, run or miss
after being down, restart, and a run repeated for the same time.

The clock is a `ManualClock` years ahead of the wall clock, so APScheduler's real date jobs
never fire during a test; the tests move the clock and call `run_due()` themselves (as the
job's wake-up would). Assertions read the database, which is the same whoever ran the drill.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.cli import main
from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.drill_schedule_input import declaration_of
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store import drill_schedules
from dispatcher.store.database import Database
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ACTIVATIONS, DATABASE, DISPATCHER, DRILL_SCHEDULES
from dispatcher.web.app import create_app

MINUTE = timedelta(minutes=1)
# Monday 2 March 2037, 06:00Z (07:00 in Stockholm): far from the wall clock.
MONDAY = datetime(2037, 3, 2, 6, 0, tzinfo=UTC)
NINE_LOCAL = datetime(2037, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm (winter time)

ROSTER = Roster(
    units=(Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", None),),
    people=(
        Person(
            person_id="P1",
            name="Anna",
            phone="+46701000001",
            phone_kind=PhoneKind.MOBILE,
            email=None,
            role=Role.MANAGER,
            pay_pct=100.0,
            department="Ekonomi",
            placement="U1",
            reserve_placement=None,
        ),
    ),
    training=(),
)

Api = Callable[..., Awaitable[tuple[int, Any]]]


def settings_for(database: Path) -> Settings:
    return settings_from_mapping(
        {"service": {"database": str(database)}, "drills": {"missed_grace_minutes": 30}}, {}
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "dispatcher.sqlite3"


async def started(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock, *, roster: bool = True
) -> tuple[web.Application, TestClient[Any, Any], Api]:
    app = create_app(settings_for(database), clock=clock)
    client = await aiohttp_client(app)
    if roster:
        await replace_roster(
            app[DATABASE],
            ROSTER,
            imported_by="test",
            source="test",
            warnings=0,
            imported_at_ms=to_millis(clock.now()),
        )
    leader = await app[ACCESS_TOKENS].create("övningsledare", AccessRole.LEADER)
    viewer = await app[ACCESS_TOKENS].create("vägg", AccessRole.VIEWER)

    async def api(method: str, path: str, body: Any = None, *, as_viewer: bool = False) -> Any:
        token = viewer if as_viewer else leader
        response = await client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token.secret}"}
        )
        return response.status, await response.json()

    return app, client, api


async def drills_declared(app: web.Application) -> list[tuple[str, str, str | None]]:
    rows = await app[DATABASE].fetch_all(
        "SELECT id, kind, idempotency_key FROM activations ORDER BY declared_at"
    )
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


async def run_due_at(app: web.Application, clock: ManualClock, moment: datetime) -> None:
    await app[DRILL_SCHEDULES].wait_idle()  # the runner's own wake-ups ran before time moves
    clock.set(moment)
    await app[DRILL_SCHEDULES].run_due()
    await app[DISPATCHER].wait_idle()


async def test_a_one_off_drill_runs_at_its_stockholm_time_and_once(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    status, body = await api(
        "POST",
        "/api/drill-schedules",
        {"title": "Måndagsövning", "at": "2037-03-02T09:00", "scope": {"units": ["U1"]}},
    )
    assert status == 201, body
    assert body["next_run_at"] == "2037-03-02T08:00:00.000Z"
    assert (body["state"], body["announced"], body["next_run_local"]) == (
        "scheduled",
        False,
        "2037-03-02 09:00",
    )
    await run_due_at(app, clock, NINE_LOCAL - timedelta(seconds=1))
    assert await drills_declared(app) == []
    await run_due_at(app, clock, NINE_LOCAL)
    await run_due_at(app, clock, NINE_LOCAL + MINUTE)
    declared = await drills_declared(app)
    assert [(kind, key) for _, kind, key in declared] == [
        ("drill", f"schedule:{body['id']}:{to_millis(NINE_LOCAL)}")
    ]
    _, listed = await api("GET", "/api/drill-schedules", as_viewer=True)
    (schedule,) = listed["drill_schedules"]
    assert schedule["state"] == "done"
    assert schedule["last_activation_id"] == declared[0][0]
    assert schedule["next_run_at"] is None


async def test_a_cron_drill_moves_to_its_next_time_after_running(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    _, body = await api(
        "POST", "/api/drill-schedules", {"title": "Veckoövning", "cron": "0 9 * * 1"}
    )
    assert body["next_run_at"] == "2037-03-02T08:00:00.000Z"
    await run_due_at(app, clock, NINE_LOCAL + 5 * MINUTE)
    _, listed = await api("GET", "/api/drill-schedules")
    (schedule,) = listed["drill_schedules"]
    assert schedule["state"] == "scheduled"
    assert schedule["next_run_at"] == "2037-03-09T08:00:00.000Z"
    assert schedule["last_run_at"] == "2037-03-02T08:00:00.000Z"
    assert len(await drills_declared(app)) == 1


async def test_cancel_works_nothing_is_declared_at_the_time(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    _, body = await api(
        "POST", "/api/drill-schedules", {"title": "Övning", "at": "2037-03-02T09:00"}
    )
    status, cancelled = await api("POST", f"/api/drill-schedules/{body['id']}/cancel")
    assert (status, cancelled["state"], cancelled["next_run_at"]) == (200, "cancelled", None)
    await run_due_at(app, clock, NINE_LOCAL)
    assert await drills_declared(app) == []
    status, again = await api("POST", f"/api/drill-schedules/{body['id']}/cancel")
    assert (status, again["state"]) == (200, "cancelled")
    status, refused = await api("PATCH", f"/api/drill-schedules/{body['id']}", {"title": "X"})
    assert (status, refused["state"]) == (409, "cancelled")


async def test_change_moves_the_time(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    _, body = await api(
        "POST", "/api/drill-schedules", {"title": "Övning", "at": "2037-03-02T09:00"}
    )
    status, changed = await api(
        "PATCH", f"/api/drill-schedules/{body['id']}", {"at": "2037-03-02T10:00", "title": "Ny"}
    )
    assert status == 200, changed
    assert (changed["title"], changed["next_run_at"]) == ("Ny", "2037-03-02T09:00:00.000Z")
    await run_due_at(app, clock, NINE_LOCAL)
    assert await drills_declared(app) == []
    await run_due_at(app, clock, NINE_LOCAL + 60 * MINUTE)
    assert len(await drills_declared(app)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "2037-03-02T09:00"}, "title"),
        ({"title": "Övning"}, "at"),
        ({"title": "Övning", "at": "2037-03-02T09:00", "cron": "0 9 * * 1"}, "cron"),
        ({"title": "Övning", "cron": "0 25 * * *"}, "cron"),
        ({"title": "Övning", "at": "tomorrow"}, "at"),
        ({"title": "Övning", "at": "2037-03-01T09:00"}, "at"),  # in the past
        ({"title": "Övning", "at": "2037-03-02T09:00", "scope": {"units": ["U9"]}}, "scope.units"),
        ({"title": "Övning", "at": "2037-03-02T09:00", "announced": "yes"}, "announced"),
        (
            {"title": "Övning", "at": "2037-03-02T09:00", "options": {"reserves": 1}},
            "options.reserves",
        ),
        ({"title": "Övning", "at": "2037-03-02T09:00", "when": "now"}, "when"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    aiohttp_client: AiohttpClient,
    database: Path,
    clock: ManualClock,
    body: dict[str, Any],
    field: str,
) -> None:
    _, _, api = await started(aiohttp_client, database, clock)
    status, answer = await api("POST", "/api/drill-schedules", body)
    assert (status, answer.get("field")) == (400, field), answer


async def test_a_viewer_lists_but_does_not_schedule(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    _, _, api = await started(aiohttp_client, database, clock)
    status, _ = await api(
        "POST", "/api/drill-schedules", {"title": "Ö", "at": "2037-03-02T09:00"}, as_viewer=True
    )
    assert status == 403
    status, listed = await api("GET", "/api/drill-schedules", as_viewer=True)
    assert (status, listed) == (200, {"drill_schedules": []})


async def test_restart_keeps_schedules_and_a_drill_due_within_the_grace_runs_once(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    first, client, api = await started(aiohttp_client, database, clock)
    _, body = await api(
        "POST",
        "/api/drill-schedules",
        {"title": "Övning", "at": "2037-03-02T09:00", "announced": True},
    )
    _, weekly = await api("POST", "/api/drill-schedules", {"title": "V", "cron": "0 9 * * 1"})
    await first[DRILL_SCHEDULES].wait_idle()
    assert first[DRILL_SCHEDULES].jobs() == {
        f"drill-schedule-{body['id']}": NINE_LOCAL,
        f"drill-schedule-{weekly['id']}": NINE_LOCAL,
    }
    await client.close()  # down over nine o'clock
    clock.set(NINE_LOCAL + 29 * MINUTE)
    second = create_app(settings_for(database), clock=clock)
    await aiohttp_client(second)  # start-up runs what is due within the grace
    await second[DRILL_SCHEDULES].run_due()
    # The one-off is done; the weekly one ran too and is registered for next Monday.
    assert second[DRILL_SCHEDULES].jobs() == {
        f"drill-schedule-{weekly['id']}": NINE_LOCAL + timedelta(days=7)
    }
    declared = await drills_declared(second)
    assert sorted(key or "" for _, _, key in declared) == [
        f"schedule:{body['id']}:{to_millis(NINE_LOCAL)}",
        f"schedule:{weekly['id']}:{to_millis(NINE_LOCAL)}",
    ]
    schedule = await drill_schedules.get(second[DATABASE], body["id"])
    assert schedule is not None and (schedule.state, schedule.announced) == ("done", True)


async def test_a_drill_due_longer_ago_than_the_grace_is_missed_not_run(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    _, client, api = await started(aiohttp_client, database, clock)
    _, once = await api(
        "POST", "/api/drill-schedules", {"title": "En gång", "at": "2037-03-02T09:00"}
    )
    _, weekly = await api("POST", "/api/drill-schedules", {"title": "Vecka", "cron": "0 9 * * 1"})
    await client.close()
    clock.set(NINE_LOCAL + 31 * MINUTE)
    second = create_app(settings_for(database), clock=clock)
    await aiohttp_client(second)
    await second[DRILL_SCHEDULES].run_due()
    assert await drills_declared(second) == []
    db = second[DATABASE]
    missed_once = await drill_schedules.get(db, once["id"])
    missed_weekly = await drill_schedules.get(db, weekly["id"])
    assert missed_once is not None and missed_weekly is not None
    assert (missed_once.state, missed_once.last_missed_at) == ("missed", to_millis(NINE_LOCAL))
    assert missed_weekly.state == "scheduled"
    assert missed_weekly.next_run_at == to_millis(NINE_LOCAL + timedelta(days=7))
    audited = await db.fetch_all(
        "SELECT subject FROM audit_log WHERE action = 'drill_schedule.missed' ORDER BY subject"
    )
    assert sorted(r[0] for r in audited) == sorted([str(once["id"]), str(weekly["id"])])


async def test_a_run_repeated_for_the_same_time_declares_one_activation(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    _, body = await api(
        "POST", "/api/drill-schedules", {"title": "Övning", "at": "2037-03-02T09:00"}
    )
    await app[DRILL_SCHEDULES].wait_idle()
    clock.set(NINE_LOCAL)
    schedule = await drill_schedules.get(app[DATABASE], body["id"])
    assert schedule is not None
    # An earlier run declared the drill and stopped before recording it (a crash).
    earlier, created = await app[ACTIVATIONS].declare(
        declaration_of(schedule, to_millis(NINE_LOCAL)), "schedule"
    )
    assert created
    await app[DRILL_SCHEDULES].run(body["id"])
    await app[DRILL_SCHEDULES].run(body["id"])
    assert [a for a, _, _ in await drills_declared(app)] == [earlier.id]
    recorded = await drill_schedules.get(app[DATABASE], body["id"])
    assert recorded is not None
    assert (recorded.state, recorded.last_activation_id) == ("done", earlier.id)


async def test_the_drill_takes_the_schedules_options(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app, _, api = await started(aiohttp_client, database, clock)
    status, body = await api(
        "POST",
        "/api/drill-schedules",
        {"title": "Övning", "at": "2037-03-02T09:00", "options": {"reserves": True}},
    )
    assert (status, body["options"]) == (201, {"reserves": True})
    await run_due_at(app, clock, NINE_LOCAL)
    row = await app[DATABASE].fetch_one("SELECT options_json FROM activations")
    assert row is not None and '"reserves": true' in row[0]


# --------------------------------------------------------------------------- the CLI


def test_cli_schedules_lists_and_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    config = tmp_path / "dispatcher.toml"
    config.write_text(f"[service]\ndatabase = '{tmp_path / 'd.sqlite3'}'\n", encoding="utf-8")

    def run(*arguments: str) -> int:
        return main(["--config", str(config), *arguments])

    async def seed() -> None:
        db = await Database.open(tmp_path / "d.sqlite3")
        try:
            await replace_roster(
                db, ROSTER, imported_by="test", source="test", warnings=0, imported_at_ms=0
            )
        finally:
            await db.close()

    asyncio.run(seed())
    assert run("drills", "schedule", "--title", "Vecka", "--cron", "0 9 * * 1", "--announced") == 0
    assert "Scheduled drill 1: Vecka, next " in capsys.readouterr().out
    assert run("drills", "schedule", "--title", "Fel", "--cron", "0 9 * *") == 1
    assert "--cron: must have 5 fields" in capsys.readouterr().err
    assert run("drills", "schedule", "--title", "Förr", "--at", "2001-01-01T09:00") == 1
    assert "--at: must be in the future" in capsys.readouterr().err
    assert run("drills", "list", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["cron"], listed["announced"], listed["state"]) == (
        "0 9 * * 1",
        True,
        "scheduled",
    )
    assert run("drills", "cancel", "1") == 0
    assert run("drills", "cancel", "7") == 1
    capsys.readouterr()
    assert run("drills", "list") == 0
    out = capsys.readouterr().out
    assert "cancelled" in out and "0 9 * * 1" in out and "yes" in out
