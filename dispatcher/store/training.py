"""Training weeks recorded by hand, and the roster with them.

An import's training.csv replaces the imported weeks (`training_weeks`) as a whole, like
the rest of the roster. Weeks recorded with `dispatcher training add` live in their own
table (`recorded_training_weeks`) that imports never touch: a week someone trained is a
fact about the past, and a weekly HR import that does not know it must not erase it. Every
reader of the roster that counts training should use `load_roster_with_training`, which
adds the recorded weeks of the people and units the roster holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from dispatcher.domain.roster import Roster, TrainingWeek
from dispatcher.domain.terms import parse_term
from dispatcher.store.database import Database
from dispatcher.store.roster_store import load_roster

_CURRENT = "removed_at IS NULL"
_WEEK_KEY = "person_id = ? AND unit_id = ? AND week_start = ?"
# training.csv may date a week by any of its days: compare imported weeks by their Monday.
_IMPORTED_WEEK = (
    "SELECT 1 FROM training_weeks WHERE person_id = ? AND unit_id = ?"
    " AND date(week_start, 'weekday 0', '-6 days') = ?"
)


class RecordOutcome(StrEnum):
    ADDED = "added"
    ALREADY_RECORDED = "already_recorded"  # recorded by hand before: nothing changed
    IN_IMPORT = "in_import"  # the imported training.csv has it: nothing changed
    UNKNOWN_PERSON = "unknown_person"
    UNKNOWN_UNIT = "unknown_unit"


class RemoveOutcome(StrEnum):
    REMOVED = "removed"
    REMOVED_STILL_IMPORTED = "removed_still_imported"  # the import has it too: still counts
    IN_IMPORT = "in_import"  # only the import has it: nothing changed
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class TrainingRecords:
    """The roster as imported and the weeks recorded by hand (for any person or unit)."""

    roster: Roster
    recorded: tuple[TrainingWeek, ...]

    def merged(self) -> Roster:
        """The roster with the recorded weeks of its own people and units added, once each."""
        people = {p.person_id for p in self.roster.people}
        weeks = set(self.roster.training)
        weeks.update(
            w
            for w in self.recorded
            if w.person_id in people and self.roster.unit(w.unit_id) is not None
        )
        return Roster(
            units=self.roster.units,
            people=self.roster.people,
            training=tuple(sorted(weeks, key=_week_order)),
        )

    def labelled(self) -> list[tuple[TrainingWeek, str]]:
        """The merged roster's weeks, each with its source: `import` when training.csv has
        it (it lasts until a re-import leaves it out), else `added` (recorded by hand)."""
        imported = set(self.roster.training)
        return [(w, "import" if w in imported else "added") for w in self.merged().training]


def _week_order(week: TrainingWeek) -> tuple[str, date, str]:
    return (week.person_id, week.week_start, week.unit_id)


async def load_training_records(db: Database) -> TrainingRecords:
    rows = await db.fetch_all(
        "SELECT person_id, unit_id, term, week_start FROM recorded_training_weeks"
        f" WHERE {_CURRENT} ORDER BY person_id, week_start, unit_id"
    )
    recorded = tuple(
        TrainingWeek(row[0], row[1], parse_term(row[2]), date.fromisoformat(row[3])) for row in rows
    )
    return TrainingRecords(await load_roster(db), recorded)


async def load_roster_with_training(db: Database) -> Roster:
    """The current roster, its training weeks being the imported and the recorded ones."""
    return (await load_training_records(db)).merged()


async def training_revision(db: Database) -> tuple[int, int]:
    """Changes whenever a week is recorded or removed by hand: a key for roster caches."""
    row = await db.fetch_one(
        "SELECT COALESCE(MAX(id), 0), COUNT(removed_at) FROM recorded_training_weeks"
    )
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def record_training_week(
    db: Database, week: TrainingWeek, *, recorded_by: str, recorded_at_ms: int
) -> RecordOutcome:
    """Record `week` unless the person or unit is unknown or the week is there already."""
    key = (week.person_id, week.unit_id, week.week_start.isoformat())
    async with db.transaction() as conn:
        checks = (
            ("SELECT 1 FROM people WHERE person_id = ?", (week.person_id,), "person"),
            ("SELECT 1 FROM units WHERE unit_id = ?", (week.unit_id,), "unit"),
            (_IMPORTED_WEEK, key, "imported"),
            (
                f"SELECT 1 FROM recorded_training_weeks WHERE {_WEEK_KEY} AND {_CURRENT}",
                key,
                "recorded",
            ),
        )
        found: dict[str, bool] = {}
        for sql, parameters, name in checks:
            async with conn.execute(sql, parameters) as cursor:
                found[name] = await cursor.fetchone() is not None
        if not found["person"]:
            return RecordOutcome.UNKNOWN_PERSON
        if not found["unit"]:
            return RecordOutcome.UNKNOWN_UNIT
        if found["imported"]:
            return RecordOutcome.IN_IMPORT
        if found["recorded"]:
            return RecordOutcome.ALREADY_RECORDED
        await conn.execute(
            "INSERT INTO recorded_training_weeks (person_id, unit_id, term, week_start,"
            " recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (*key[:2], str(week.term), key[2], recorded_by, recorded_at_ms),
        )
    return RecordOutcome.ADDED


async def remove_training_week(
    db: Database,
    person_id: str,
    unit_id: str,
    week_start: date,
    *,
    removed_by: str,
    removed_at_ms: int,
) -> RemoveOutcome:
    """Mark a hand-recorded week removed. An imported week is not touched: it is corrected in
    training.csv and imported again."""
    key = (person_id, unit_id, week_start.isoformat())
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE recorded_training_weeks SET removed_by = ?, removed_at = ?"
            f" WHERE {_WEEK_KEY} AND {_CURRENT}",
            (removed_by, removed_at_ms, *key),
        )
        removed = cursor.rowcount > 0
        await cursor.close()
        async with conn.execute(_IMPORTED_WEEK, key) as found:
            imported = await found.fetchone() is not None
    if removed:
        return RemoveOutcome.REMOVED_STILL_IMPORTED if imported else RemoveOutcome.REMOVED
    return RemoveOutcome.IN_IMPORT if imported else RemoveOutcome.NOT_FOUND
