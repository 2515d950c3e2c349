"""Reading and replacing the roster in the store.

The roster is replaced as a whole, in one transaction: the old rows are read, compared
with the new roster, and the differences written in batches. History (activations,
call-ups, messages) keeps its own snapshots and is never touched here.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any

import aiosqlite

from dispatcher.domain.roster import (
    Person,
    PhoneKind,
    Role,
    Roster,
    RosterChanges,
    TrainingWeek,
    Unit,
    compare_rosters,
)
from dispatcher.domain.terms import parse_term
from dispatcher.store.database import Database

_UNIT_COLUMN_NAMES = (
    "unit_id",
    "name",
    "service",
    "area",
    "address",
    "crisis_need",
    "training_capacity",
)
_PERSON_COLUMN_NAMES = (
    "person_id",
    "name",
    "phone",
    "phone_kind",
    "email",
    "role",
    "pay_pct",
    "department",
    "placement",
    "reserve_placement",
    "protected",
)
_UNIT_COLUMNS = ", ".join(_UNIT_COLUMN_NAMES)
_PERSON_COLUMNS = ", ".join(_PERSON_COLUMN_NAMES)
_TRAINING_COLUMNS = "person_id, unit_id, term, week_start"

_INSERT_UNIT = f"INSERT INTO units ({_UNIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
_INSERT_PERSON = f"INSERT INTO people ({_PERSON_COLUMNS}) VALUES ({', '.join('?' * 11)})"
_INSERT_TRAINING = f"INSERT INTO training_weeks ({_TRAINING_COLUMNS}) VALUES (?, ?, ?, ?)"

# Enum look-ups by value through a dict: calling the Enum costs ~3 µs a row on 100,000 rows.
_PHONE_KINDS = {kind.value: kind for kind in PhoneKind}
_ROLES = {role.value: role for role in Role}
# A roster holds few distinct terms; parse each once, not once per training week.
_term = functools.lru_cache(maxsize=64)(parse_term)

_SELECT_UNITS = f"SELECT {_UNIT_COLUMNS} FROM units ORDER BY unit_id"
_SELECT_PEOPLE = f"SELECT {_PERSON_COLUMNS} FROM people ORDER BY person_id"
_SELECT_TRAINING = (
    f"SELECT {_TRAINING_COLUMNS} FROM training_weeks ORDER BY person_id, week_start, unit_id"
)


async def load_roster(db: Database) -> Roster:
    """The whole current roster from the database."""
    return _roster_from_rows(
        await db.fetch_all(_SELECT_UNITS),
        await db.fetch_all(_SELECT_PEOPLE),
        await db.fetch_all(_SELECT_TRAINING),
    )


async def replace_roster(
    db: Database,
    roster: Roster,
    *,
    imported_by: str,
    source: str,
    warnings: int,
    imported_at_ms: int,
) -> RosterChanges:
    """Replace the whole roster with `roster` in one transaction; return what changed.

    Only the differences are written (rows removed, changed and added, in batches, in an
    order the foreign keys accept): afterwards the tables hold exactly `roster`, as if
    emptied and refilled, but a weekly re-import that changes a few people writes a few
    rows instead of 200,000. Also records the import (who, when, from which files, what
    changed) in `roster_imports`. On any error nothing is changed.
    """
    async with db.transaction() as conn:
        old = _roster_from_rows(
            await _fetch(conn, _SELECT_UNITS),
            await _fetch(conn, _SELECT_PEOPLE),
            await _fetch(conn, _SELECT_TRAINING),
        )
        changes = compare_rosters(old, roster)
        await _write_changes(conn, old, roster, changes)
        await conn.execute(
            "INSERT INTO roster_imports (imported_at, imported_by, source, units_added,"
            " units_updated, units_removed, people_added, people_updated, people_removed,"
            " training_weeks, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                imported_at_ms,
                imported_by,
                source,
                len(changes.units_added),
                len(changes.units_updated),
                len(changes.units_removed),
                len(changes.people_added),
                len(changes.people_updated),
                len(changes.people_removed),
                len(roster.training),
                warnings,
            ),
        )
    return changes


async def _write_changes(
    conn: aiosqlite.Connection, old: Roster, new: Roster, changes: RosterChanges
) -> None:
    """Turn the tables holding `old` into tables holding `new`.

    The order keeps every foreign key satisfied at every statement: training weeks go
    first, units come before the people placed at them and leave after them. Rows are
    written in key order, which SQLite's B-trees take about twice as fast.
    """
    old_units = {unit.unit_id: unit for unit in old.units}
    units = {unit.unit_id: unit for unit in new.units}
    old_people = {person.person_id: person for person in old.people}
    people = {person.person_id: person for person in new.people}
    old_weeks, new_weeks = set(old.training), set(new.training)

    await conn.executemany(
        "DELETE FROM training_weeks WHERE person_id = ? AND unit_id = ? AND week_start = ?",
        sorted((w.person_id, w.unit_id, w.week_start.isoformat()) for w in old_weeks - new_weeks),
    )
    await conn.executemany(_INSERT_UNIT, (_unit_row(units[i]) for i in changes.units_added))
    await _update_changed_columns(
        conn,
        "units",
        _UNIT_COLUMN_NAMES,
        ((_unit_row(old_units[i]), _unit_row(units[i])) for i in changes.units_updated),
    )
    await conn.executemany(
        "DELETE FROM people WHERE person_id = ?", ((i,) for i in changes.people_removed)
    )
    await _update_changed_columns(
        conn,
        "people",
        _PERSON_COLUMN_NAMES,
        ((_person_row(old_people[i]), _person_row(people[i])) for i in changes.people_updated),
    )
    await conn.executemany(_INSERT_PERSON, (_person_row(people[i]) for i in changes.people_added))
    await conn.executemany(
        "DELETE FROM units WHERE unit_id = ?", ((i,) for i in changes.units_removed)
    )
    added_weeks = sorted(
        new_weeks - old_weeks, key=lambda w: (w.person_id, w.week_start, w.unit_id)
    )
    await conn.executemany(_INSERT_TRAINING, (_training_row(w) for w in added_weeks))


async def _update_changed_columns(
    conn: aiosqlite.Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Iterable[tuple[tuple[Any, ...], tuple[Any, ...]]],
) -> None:
    """UPDATE only the columns that changed: one batch per set of changed columns.

    Setting an indexed column rewrites its index entries even to the same value: a
    re-import that changes everyone's department must not rewrite three indexes of
    100,000 rows (measured: 7 s instead of 0.4 s). `columns[0]` is the key.
    """
    batches: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
    for old_row, new_row in rows:
        changed = tuple(i for i in range(1, len(columns)) if old_row[i] != new_row[i])
        batches.setdefault(changed, []).append((*(new_row[i] for i in changed), new_row[0]))
    for changed, parameters in batches.items():
        assignments = ", ".join(f"{columns[i]} = ?" for i in changed)
        await conn.executemany(
            f"UPDATE {table} SET {assignments} WHERE {columns[0]} = ?", parameters
        )


async def _fetch(conn: aiosqlite.Connection, sql: str) -> list[sqlite3.Row]:
    async with conn.execute(sql) as cursor:
        return list(await cursor.fetchall())


def _unit_row(unit: Unit) -> tuple[Any, ...]:
    return (
        unit.unit_id,
        unit.name,
        unit.service,
        unit.area,
        unit.address,
        unit.crisis_need,
        unit.training_capacity,
    )


def _person_row(person: Person) -> tuple[Any, ...]:
    return (
        person.person_id,
        person.name,
        person.phone,
        person.phone_kind.value,
        person.email,
        person.role.value,
        person.pay_pct,
        person.department,
        person.placement,
        person.reserve_placement,
        int(person.protected),
    )


def _training_row(week: TrainingWeek) -> tuple[Any, ...]:
    return (week.person_id, week.unit_id, str(week.term), week.week_start.isoformat())


def _roster_from_rows(
    units: Iterable[sqlite3.Row], people: Iterable[sqlite3.Row], training: Iterable[sqlite3.Row]
) -> Roster:
    return Roster(
        units=tuple(
            Unit(
                unit_id=row[0],
                name=row[1],
                service=row[2],
                area=row[3],
                address=row[4],
                crisis_need=row[5],
                training_capacity=row[6],
            )
            for row in units
        ),
        people=tuple(
            Person(
                person_id=row[0],
                name=row[1],
                phone=row[2],
                phone_kind=_PHONE_KINDS[row[3]],
                email=row[4],
                role=_ROLES[row[5]],
                pay_pct=row[6],
                department=row[7],
                placement=row[8],
                reserve_placement=row[9],
                protected=bool(row[10]),
            )
            for row in people
        ),
        training=tuple(
            TrainingWeek(
                person_id=row[0],
                unit_id=row[1],
                term=_term(row[2]),
                week_start=date.fromisoformat(row[3]),
            )
            for row in training
        ),
    )
