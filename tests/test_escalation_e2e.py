"""A whole crisis on a moved clock, with a restart in the middle: reminder, other channel,
deadline, a reserve called, the gap closing, and the gap reports to the crisis team."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import InboundSms
from dispatcher.clock import ManualClock
from dispatcher.declarations import Declaration
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import (
    ACCESS_TOKENS,
    ACTIVATIONS,
    ANSWER_DESK,
    DATABASE,
    DISPATCHER,
    ESCALATOR,
    GAP_REPORTER,
)
from dispatcher.web.app import create_app
from tests.conftest import START

MINUTE = timedelta(minutes=1)
ANNA, BO, RESERVE, STAB = "+46701000001", "+46701000002", "+46701000003", "+46701999999"


def person(
    pid: str, phone: str, email: str | None, placement: str | None, reserve: str | None
) -> Person:
    return Person(
        pid,
        f"Namn {pid}",
        phone,
        PhoneKind.MOBILE,
        email,
        Role.ADMIN,
        100,
        "Ekonomi",
        placement,
        reserve,
    )


ROSTER = Roster(
    (
        Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", 2),
        Unit("U2", "Ekbacken", "förskola", "Söder", "Ekvägen 2", 0),
    ),
    (
        person("P1", ANNA, "anna@example.se", "U1", None),
        person("P2", BO, None, "U1", None),
        person("P3", RESERVE, None, "U2", "U1"),  # Solgården is his reserve placement
    ),
)


def settings_for(database: Path) -> Settings:
    return settings_from_mapping(
        {
            "service": {"database": str(database)},
            "escalation": {"gap_report_every_minutes": 15},
            "crisis_team": [{"name": "Stab", "phone": STAB}],
        },
        {},
    )


@asynccontextmanager
async def running(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> AsyncIterator[web.Application]:
    app = create_app(settings_for(database), clock=clock)
    client = await aiohttp_client(app)
    try:
        yield app
    finally:
        await client.close()


async def sandbox_sms(app: web.Application, number: str) -> list[str]:
    rows = await app[DATABASE].fetch_all(
        "SELECT body FROM sandbox_messages WHERE recipient = ? ORDER BY id", (number,)
    )
    return [r[0] for r in rows]


async def settle(app: web.Application, clock: ManualClock) -> None:
    await app[ESCALATOR].tick()
    await app[GAP_REPORTER].send_due_reports(clock.now())
    await app[DISPATCHER].wait_idle()


async def test_a_crisis_escalates_calls_a_reserve_and_reports_across_a_restart(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    database = tmp_path / "d.sqlite3"
    clock = ManualClock(START)
    async with running(aiohttp_client, database, clock) as app:
        await replace_roster(
            app[DATABASE], ROSTER, imported_by="t", source="t", warnings=0, imported_at_ms=0
        )
        leader = await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
        activation, _ = await app[ACTIVATIONS].declare(
            Declaration.from_json({"kind": "crisis", "title": "Storm", "scope": {"units": ["U1"]}}),
            leader.token.name,
        )
        await settle(app, clock)
        assert len(await sandbox_sms(app, ANNA)) == 1 and len(await sandbox_sms(app, BO)) == 1

        clock.advance(10 * MINUTE)  # no answers yet: a reminder each
        await settle(app, clock)
        assert "Påminnelse" in (await sandbox_sms(app, ANNA))[-1]
        await app[ANSWER_DESK].handle_sms(InboundSms("SM1", BO, "nej sjuk"))

    clock.advance(15 * MINUTE)  # the service was down; 25 minutes after the call-up
    async with running(aiohttp_client, database, clock) as app:
        await settle(app, clock)
        mail = await app[DATABASE].fetch_all(
            "SELECT recipient FROM sandbox_messages WHERE channel = 'email'"
        )
        assert [r[0] for r in mail] == ["anna@example.se"]  # Anna: the other channel
        reports = await sandbox_sms(app, STAB)
        assert len(reports) == 1 and "0/2" in reports[0]  # one catch-up report, not two
        # Bo said no while Anna is still awaited: one reserve covers the part nobody is on the
        # way for (his reserve placement is Solgården).
        assert len(await sandbox_sms(app, RESERVE)) == 1

        clock.advance(40 * MINUTE)  # past the deadline: Anna is no_answer; the reserve reminded
        await settle(app, clock)
        anna = await app[DATABASE].fetch_one("SELECT state FROM callups WHERE person_id = 'P1'")
        assert anna is not None and anna[0] == "no_answer"
        assert "Påminnelse" in (await sandbox_sms(app, RESERVE))[-1]
        await app[ANSWER_DESK].handle_sms(InboundSms("SM2", RESERVE, "ja 20"))
        await app[ANSWER_DESK].handle_sms(InboundSms("SM3", ANNA, "JA 5"))
        await settle(app, clock)
        status = await app[DATABASE].fetch_all(
            "SELECT person_id, state FROM callups WHERE activation_id = ? ORDER BY person_id",
            (activation.id,),
        )
        assert [tuple(r) for r in status] == [
            ("P1", "confirmed"),
            ("P2", "declined"),
            ("P3", "confirmed"),
        ]
        covered = (await sandbox_sms(app, STAB))[-1]
        assert "2/2" in covered  # the report that every unit is covered

        clock.advance(60 * MINUTE)  # nothing is due any more: nothing more is sent
        before = len(await sandbox_sms(app, STAB)) + len(await sandbox_sms(app, ANNA))
        await settle(app, clock)
        assert len(await sandbox_sms(app, STAB)) + len(await sandbox_sms(app, ANNA)) == before
