"""Reserves through a moved clock: who is called when a unit is left short, and when it stops.

Uses the escalation world of test_escalator (the app's wiring on a real database with the
sandbox channels); answers go through the real answer desk.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import InboundSms
from dispatcher.channels.sandbox import list_sandbox_messages
from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Roster
from dispatcher.reserves import calls_reserves
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER, ESCALATOR
from dispatcher.web.app import create_app
from tests.test_escalator import (
    MINUTE,
    World,
    mail,
    person,
    phone,
    running_world,
    trained,
    unit,
    world_settings,
)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "dispatcher.sqlite3"


def short_unit_roster() -> Roster:
    """U1 needs 2 and has 2 placed; R1 has it as reserve placement; T1 and T2 trained there
    (T1 more recently); OLD trained there too long ago to count."""
    return Roster(
        units=(unit("U1", 2), unit("U2")),
        people=(
            person("P1", 1, placement="U1"),
            person("P2", 2, placement="U1"),
            person("R1", 11, reserve="U1"),
            person("T1", 21),
            person("T2", 22),
            person("OLD", 23),
        ),
        training=(
            trained("T1", "U1", "VT2026", date(2026, 2, 2)),
            trained("T2", "U1", "HT2025", date(2025, 9, 1)),
            trained("OLD", "U1", "VT2024", date(2024, 2, 5)),
        ),
    )


async def called(world: World, activation_id: str) -> list[tuple[str, str, str]]:
    """(person, placement kind, state) of every call-up, in the order they were made."""
    rows = await world.db.fetch_all(
        "SELECT person_id, placement_kind, state FROM callups WHERE activation_id = ? ORDER BY id",
        (activation_id,),
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_which_activations_call_reserves() -> None:
    assert calls_reserves("crisis", {})
    assert not calls_reserves("crisis", {"reserves": False})
    assert not calls_reserves("drill", {})
    assert calls_reserves("drill", {"reserves": True})


async def test_a_decline_and_a_silence_call_two_reserves_until_the_gap_closes(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, short_unit_roster()) as world:
        activation = await world.declare(units=["U1"])
        assert (await world.tick()).reserves == 0  # short of nobody yet: all still awaiting

        clock.advance(5 * MINUTE)
        await world.answer(phone(1), "NEJ sjuk")
        assert (await world.tick()).reserves == 1  # P1's place: the reserve placement first
        assert (await world.callup("R1"))["placement_kind"] == "reserve"
        assert len(await world.sent_to(phone(11))) == 1

        clock.advance(55 * MINUTE)  # P2's deadline; R1 (called at 5 min) still has time
        result = await world.tick()
        assert (result.no_answer, result.reserves) == (1, 1)
        assert await called(world, activation) == [
            ("P1", "crisis", "declined"),
            ("P2", "crisis", "no_answer"),
            ("R1", "reserve", "awaiting"),
            ("T1", "trained", "awaiting"),  # the most recent training week first
        ]

        await world.answer(phone(11), "JA 30")
        assert (await world.tick()).reserves == 0  # the gap (1) has T1 on the way
        await world.answer(phone(21), "ja")
        assert (await world.tick()).reserves == 0
        clock.advance(6 * 60 * MINUTE)
        assert (await world.tick()).reserves == 0
        assert [p for p, _, _ in await called(world, activation)] == ["P1", "P2", "R1", "T1"]
        status = await world.db.fetch_one(
            "SELECT COUNT(*) FROM callups WHERE activation_id = ? AND state = 'confirmed'",
            (activation,),
        )
        assert status is not None and status[0] == 2


async def test_a_reserve_who_declines_is_followed_by_the_next(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, short_unit_roster()) as world:
        activation = await world.declare(units=["U1"])
        await world.answer(phone(1), "nej")
        await world.tick()
        await world.answer(phone(11), "nej")
        await world.tick()
        await world.answer(phone(21), "nej")
        await world.tick()
        await world.answer(phone(22), "nej")
        assert (await world.tick()).reserves == 0  # nobody left: OLD's training is too old
        assert [p for p, _, _ in await called(world, activation)] == ["P1", "P2", "R1", "T1", "T2"]


async def test_a_drill_calls_no_reserves_unless_its_options_ask(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, short_unit_roster()) as world:
        activation = await world.declare(kind="drill", units=["U1"])
        await world.answer(phone(1), "NEJ")
        clock.advance(2 * 60 * MINUTE)
        assert (await world.tick()).reserves == 0
        assert len(await called(world, activation)) == 2

        async with world.db.transaction() as conn:
            await conn.execute(
                "UPDATE activations SET options_json = ? WHERE id = ?",
                (json.dumps({"reserves": True}), activation),
            )
        assert (await world.tick()).reserves == 2  # one declined, one silent
        assert [k for _, k, _ in await called(world, activation)][2:] == ["reserve", "trained"]


async def test_never_someone_called_here_or_busy_in_another_open_activation(
    database: Path, clock: ManualClock
) -> None:
    roster = Roster(
        units=(unit("U1", 1), unit("U2"), unit("U3")),
        people=(
            person("P1", 1, placement="U1"),
            person("R1", 11, placement="U2", reserve="U1"),  # called to U2 in this activation
            person("R2", 12, placement="U3", reserve="U1"),  # awaiting in the drill
            person("R3", 13, reserve="U1"),
        ),
    )
    async with running_world(database, clock, roster) as world:
        drill = await world.declare(kind="drill", units=["U3"])
        crisis = await world.declare(units=["U1", "U2"])
        await world.answer(phone(1), "NEJ")
        assert (await world.tick()).reserves == 1
        assert [p for p, _, _ in await called(world, crisis)] == ["P1", "R1", "R3"]
        assert [p for p, _, _ in await called(world, drill)] == ["R2"]
        # R3 has no other open call-up: no reply code in the message.
        assert (await world.callup("R3"))["reply_code"] == ""


async def test_an_opted_out_reserve_is_called_by_email(database: Path, clock: ManualClock) -> None:
    roster = Roster(
        units=(unit("U1", 1),),
        people=(
            person("P1", 1, placement="U1"),
            person("R1", 11, reserve="U1", email=False),  # opted out, no e-mail: unreachable
            person("R2", 12, reserve="U1"),  # opted out, has e-mail
        ),
    )
    async with running_world(database, clock, roster) as world:
        await world.answer(phone(11), "STOP")
        await world.answer(phone(12), "STOP")
        activation = await world.declare(units=["U1"])
        await world.answer(phone(1), "NEJ")
        assert (await world.tick()).reserves == 1
        assert [p for p, _, _ in await called(world, activation)] == ["P1", "R2"]
        assert await world.sent_to(phone(12)) == []
        assert len(await world.sent_to(mail("R2"))) == 1


async def test_the_app_calls_a_reserve_when_an_answer_wakes_it(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    app = create_app(world_settings(database), clock=clock)
    client = await aiohttp_client(app)
    await replace_roster(
        app[DATABASE],
        short_unit_roster(),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=to_millis(clock.now()),
    )
    token = await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
    response = await client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm", "scope": {"units": ["U1"]}},
        headers={"Authorization": f"Bearer {token.secret}"},
    )
    assert response.status == 201
    activation = (await response.json())["id"]
    handled = await app[ANSWER_DESK].handle_sms(InboundSms("SM" + "1" * 32, phone(1), "NEJ"))
    assert handled.callup_id is not None
    await app[ESCALATOR].wait_idle()  # the answer woke it: no tick of ours
    await app[DISPATCHER].wait_idle()
    rows = await app[DATABASE].fetch_all(
        "SELECT person_id FROM callups WHERE activation_id = ? ORDER BY id", (activation,)
    )
    assert [r[0] for r in rows] == ["P1", "P2", "R1"]
    assert len(await list_sandbox_messages(app[DATABASE], phone(11))) == 1
