"""The roster in the store: a replacement is whole, minimal, recorded, and all or nothing."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from dispatcher.domain.roster import (
    Person,
    PhoneKind,
    Role,
    Roster,
    RosterChanges,
    TrainingWeek,
    Unit,
)
from dispatcher.domain.terms import parse_term
from dispatcher.store.database import Database
from dispatcher.store.roster_store import load_roster, replace_roster

SOL = Unit("SOL", "Solgården", "elderly care", "Norr", "Solvägen 1", 3)
BJO = Unit("BJO", "Björkängen", "school", "Söder", "Skolgatan 4", None, 0)
HEM = Unit("HEM", "Hemtjänst", "home care", "Centrum", "Torget 2", 1, 5)


def person(person_id: str, placement: str | None, **changes: object) -> Person:
    base = Person(
        person_id=person_id,
        name=f"Person {person_id}",
        phone="+46701112233",
        phone_kind=PhoneKind.MOBILE,
        email=f"{person_id.lower()}@exempel.se",
        role=Role.ADMIN,
        pay_pct=37.5,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
        protected=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def week(person_id: str, unit_id: str, day: date) -> TrainingWeek:
    term = parse_term(("VT" if day.month <= 6 else "HT") + str(day.year))
    return TrainingWeek(person_id, unit_id, term, day)


FIRST = Roster(
    units=(SOL, BJO),
    people=(
        person("E1", "SOL", reserve_placement="BJO"),
        person("E2", "BJO", phone=None, phone_kind=PhoneKind.NONE, protected=True),
        person("E3", None, role=Role.VOLUNTEER_POLITICIAN, pay_pct=None, email=None),
    ),
    training=(week("E1", "SOL", date(2026, 1, 12)), week("E2", "BJO", date(2025, 9, 8))),
)


def in_order(roster: Roster) -> tuple[list[Unit], list[Person], list[TrainingWeek]]:
    return (
        sorted(roster.units, key=lambda u: u.unit_id),
        sorted(roster.people, key=lambda p: p.person_id),
        sorted(roster.training, key=lambda t: (t.person_id, t.week_start, t.unit_id)),
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "db.sqlite3")
    try:
        yield database
    finally:
        await database.close()


async def replace(db: Database, roster: Roster, *, warnings: int = 0) -> RosterChanges:
    return await replace_roster(
        db, roster, imported_by="test", source="u.csv, s.csv", warnings=warnings, imported_at_ms=42
    )


async def test_an_empty_store_has_an_empty_roster(db: Database) -> None:
    assert in_order(await load_roster(db)) == ([], [], [])


async def test_the_first_import_adds_everything_and_reads_back_equal(db: Database) -> None:
    changes = await replace(db, FIRST, warnings=3)
    assert changes == RosterChanges(
        units_added=("BJO", "SOL"),
        units_updated=(),
        units_removed=(),
        people_added=("E1", "E2", "E3"),
        people_updated=(),
        people_removed=(),
        training_before=0,
        training_after=2,
    )
    assert in_order(await load_roster(db)) == in_order(FIRST)
    rows = await db.fetch_all("SELECT * FROM roster_imports")
    assert [dict(r) for r in rows] == [
        {
            "id": 1,
            "imported_at": 42,
            "imported_by": "test",
            "source": "u.csv, s.csv",
            "units_added": 2,
            "units_updated": 0,
            "units_removed": 0,
            "people_added": 3,
            "people_updated": 0,
            "people_removed": 0,
            "training_weeks": 2,
            "warnings": 3,
        }
    ]


async def test_a_reimport_adds_updates_and_removes(db: Database) -> None:
    await replace(db, FIRST)
    # SOL closes: E1 moves to the new unit HEM; BJO gets a new address; E2 leaves;
    # E4 arrives at HEM; E3 is unchanged; E1's training moves, a new week is added.
    second = Roster(
        units=(dataclasses.replace(BJO, address="Nya vägen 1"), HEM),
        people=(
            person("E4", "HEM"),
            person("E3", None, role=Role.VOLUNTEER_POLITICIAN, pay_pct=None, email=None),
            person("E1", "HEM", reserve_placement="BJO"),
        ),
        training=(
            week("E1", "HEM", date(2026, 1, 12)),
            week("E4", "BJO", date(2026, 2, 2)),
            week("E4", "HEM", date(2026, 2, 2)),
        ),
    )
    changes = await replace(db, second)
    assert changes == RosterChanges(
        units_added=("HEM",),
        units_updated=("BJO",),
        units_removed=("SOL",),
        people_added=("E4",),
        people_updated=("E1",),
        people_removed=("E2",),
        training_before=2,
        training_after=3,
    )
    assert in_order(await load_roster(db)) == in_order(second)
    count = await db.fetch_one("SELECT COUNT(*) FROM roster_imports")
    assert count is not None
    assert count[0] == 2


async def test_people_changed_in_different_columns_are_all_written(db: Database) -> None:
    await replace(db, FIRST)
    e1, e2, e3 = FIRST.people
    second = dataclasses.replace(
        FIRST,
        people=(
            dataclasses.replace(e1, phone=None, phone_kind=PhoneKind.NONE, reserve_placement=None),
            dataclasses.replace(e2, name="Bo Eklund", department="HR"),
            dataclasses.replace(e3, placement="SOL", pay_pct=12.5, protected=True),
        ),
    )
    changes = await replace(db, second)
    assert changes.people_updated == ("E1", "E2", "E3")
    assert in_order(await load_roster(db)) == in_order(second)


async def test_the_same_roster_again_changes_nothing(db: Database) -> None:
    await replace(db, FIRST)
    changes = await replace(db, FIRST)
    assert changes.unchanged
    assert in_order(await load_roster(db)) == in_order(FIRST)


async def test_a_training_week_whose_term_changes_is_rewritten(db: Database) -> None:
    await replace(db, FIRST)
    odd = TrainingWeek("E1", "SOL", parse_term("HT2025"), date(2026, 1, 12))
    second = dataclasses.replace(FIRST, training=(odd, FIRST.training[1]))
    await replace(db, second)
    assert in_order(await load_roster(db)) == in_order(second)


async def test_an_empty_roster_empties_the_tables(db: Database) -> None:
    await replace(db, FIRST)
    changes = await replace(db, Roster())
    assert changes.units_removed == ("BJO", "SOL")
    assert changes.people_removed == ("E1", "E2", "E3")
    assert in_order(await load_roster(db)) == ([], [], [])


async def test_a_failing_replacement_changes_nothing(db: Database) -> None:
    await replace(db, FIRST)
    # A roster nobody checked: a training week for a person who does not exist.
    broken = Roster(
        units=(SOL, HEM),
        people=(person("E9", "HEM"),),
        training=(week("E404", "SOL", date(2026, 1, 12)),),
    )
    with pytest.raises(sqlite3.IntegrityError):
        await replace(db, broken)
    assert in_order(await load_roster(db)) == in_order(FIRST)
    count = await db.fetch_one("SELECT COUNT(*) FROM roster_imports")
    assert count is not None
    assert count[0] == 1


async def test_a_large_roster_round_trips(db: Database) -> None:
    units = tuple(dataclasses.replace(SOL, unit_id=f"U{i:03d}") for i in range(200))
    people = tuple(person(f"E{i:05d}", f"U{i % 200:03d}") for i in range(5000))
    training = tuple(week(p.person_id, str(p.placement), date(2026, 1, 12)) for p in people)
    roster = Roster(units, people, training)
    await replace(db, roster)
    assert in_order(await load_roster(db)) == in_order(roster)
    kept = people[::2]
    moved = Roster(units[:100], tuple(person(p.person_id, "U000", name="Ny") for p in kept), ())
    changes = await replace(db, moved)
    assert (len(changes.people_updated), len(changes.people_removed)) == (2500, 2500)
    assert len(changes.units_removed) == 100
    assert in_order(await load_roster(db)) == in_order(moved)
