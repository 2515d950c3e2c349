"""The three roster files to one Roster, or every problem in them. Pure: bytes in, values out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from dispatcher.domain.roster import Person, Roster, TrainingWeek, Unit
from dispatcher.roster_import.cells import KnownIds
from dispatcher.roster_import.csv_reader import read_table
from dispatcher.roster_import.problems import ImportProblem, ProblemLog, RosterFile
from dispatcher.roster_import.staff import STAFF_SPEC, parse_staff
from dispatcher.roster_import.training import TRAINING_SPEC, parse_training
from dispatcher.roster_import.units import UNITS_SPEC, parse_units

_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RosterParse:
    """The outcome of reading the roster files: a roster only when there is no error."""

    roster: Roster | None
    errors: tuple[ImportProblem, ...]
    warnings: tuple[ImportProblem, ...]
    files: tuple[str, ...] = ()  # the names of the files read, in the order problems are sorted

    @property
    def problems(self) -> tuple[ImportProblem, ...]:
        """Errors and warnings together, in file and line order."""
        return _in_order(self.errors + self.warnings, self.files)


def parse_roster_files(
    units: RosterFile,
    staff: RosterFile,
    training: RosterFile | None,
    *,
    today: date,
) -> RosterParse:
    """Check all three files completely and build the roster they describe.

    Every problem is reported, not just the first: a file that cannot be read at all
    (encoding, missing columns) stops only the checks that depend on it. Problems come
    sorted by file (units, staff, training) and then by line.
    """
    log = ProblemLog()
    unit_table = read_table(units, UNITS_SPEC, log)
    unit_ids: KnownIds | None = None
    unit_list: list[Unit] = []
    if unit_table is not None:
        unit_list, ids = parse_units(unit_table, log)
        unit_ids = KnownIds(
            units.name, "unit_id", ids, unit_table.lost_values.get("unit_id", _NONE)
        )

    staff_table = read_table(staff, STAFF_SPEC, log)
    person_ids: KnownIds | None = None
    people: list[Person] = []
    if staff_table is not None:
        people, ids = parse_staff(staff_table, log, unit_ids)
        person_ids = KnownIds(
            staff.name, "person_id", ids, staff_table.lost_values.get("person_id", _NONE)
        )

    weeks: list[TrainingWeek] = []
    if training is not None:
        training_table = read_table(training, TRAINING_SPEC, log)
        if training_table is not None:
            weeks = parse_training(
                training_table, log, people=person_ids, units=unit_ids, today=today
            )

    files = tuple(f.name for f in (units, staff, training) if f is not None)
    errors = _in_order([p for p in log.problems if p.severity == "error"], files)
    warnings = _in_order([p for p in log.problems if p.severity == "warning"], files)
    roster = None if errors else Roster(tuple(unit_list), tuple(people), tuple(weeks))
    return RosterParse(roster, errors, warnings, files)


def _in_order(
    problems: Sequence[ImportProblem], files: tuple[str, ...]
) -> tuple[ImportProblem, ...]:
    """Sorted by file (in `files` order), then line; file-wide problems first; stable."""
    rank: dict[str, int] = {}
    for index, name in enumerate(files):
        rank.setdefault(name, index)
    return tuple(sorted(problems, key=lambda p: (rank.get(p.file, len(files)), p.line or 0)))
