"""training.csv: the weeks people spent training at units."""

from __future__ import annotations

import functools
import re
from datetime import date, timedelta

from dispatcher.domain.roster import TrainingWeek
from dispatcher.domain.terms import parse_term, term_of
from dispatcher.roster_import.cells import Cells, KnownIds
from dispatcher.roster_import.csv_reader import CsvTable
from dispatcher.roster_import.headers import TableSpec
from dispatcher.roster_import.problems import ProblemLog

TRAINING_SPEC = TableSpec(
    required=("person_id", "unit_id", "week_start"),
    optional=("term",),
    rows_required=False,  # a header alone: nobody has trained yet
)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PLANNED_AHEAD = timedelta(days=366)
# A training file names a handful of terms, once per row: parse each spelling once.
_parse_term = functools.lru_cache(maxsize=256)(parse_term)


def parse_training(
    table: CsvTable,
    log: ProblemLog,
    *,
    people: KnownIds | None,
    units: KnownIds | None,
    today: date,
) -> list[TrainingWeek]:
    """The good training weeks; the same person, unit and week twice counts once.

    `people` or `units` is None when its file could not be read; references to it are
    then not checked.
    """
    weeks: list[TrainingWeek] = []
    seen: set[tuple[str, str, date]] = set()
    for record in table.records:
        cells = Cells(table.file, record, log)
        person_id = cells.required("person_id")
        unit_id = cells.required("unit_id")
        if people is not None:
            people.check(cells, "person_id", person_id)
        if units is not None:
            units.check(cells, "unit_id", unit_id)
        week_start = cells.parse("week_start", _parse_iso_date, None)
        if week_start is None:
            continue
        term = term_of(week_start)
        given = cells.text("term")
        if given:
            stated = cells.parse("term", _parse_term, term)
            if stated != term:
                cells.error(
                    "term",
                    given,
                    f"does not match week_start {week_start.isoformat()}, which is in {term}",
                )
        if week_start > today + _PLANNED_AHEAD:
            cells.warning("week_start", cells.text("week_start"), "is more than a year ahead")
        key = (person_id, unit_id, week_start)
        if cells.ok and key not in seen:
            seen.add(key)
            weeks.append(TrainingWeek(person_id, unit_id, term, week_start))
    return weeks


def _parse_iso_date(text: str) -> date | None:
    if not text:
        raise ValueError("must not be empty")
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date written like 2026-01-12") from None
