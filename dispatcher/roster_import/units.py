"""units.csv: the units people are placed at."""

from __future__ import annotations

from dispatcher.domain.roster import DEFAULT_TRAINING_CAPACITY, Unit
from dispatcher.roster_import.cells import Cells, claim_unique
from dispatcher.roster_import.csv_reader import CsvTable
from dispatcher.roster_import.headers import TableSpec
from dispatcher.roster_import.problems import ProblemLog
from dispatcher.roster_import.values import parse_whole

UNITS_SPEC = TableSpec(
    required=("unit_id", "name", "service", "area", "address", "crisis_need"),
    optional=("training_capacity",),
)


def parse_units(table: CsvTable, log: ProblemLog) -> tuple[list[Unit], set[str]]:
    """The good units, and every unit_id named in the file (rows with errors included).

    Staff and training are checked against the second, so that a unit with a bad address
    does not also give an "unknown unit" error for everyone placed there.
    """
    units: list[Unit] = []
    first_lines: dict[str, int] = {}
    for record in table.records:
        cells = Cells(table.file, record, log)
        unit_id = cells.required("unit_id")
        if unit_id:
            claim_unique(cells, "unit_id", unit_id, first_lines)
        name = cells.required("name")
        service = cells.required("service")
        area = cells.required("area")
        address = cells.required("address")
        crisis_need = cells.parse("crisis_need", parse_whole, None)
        capacity = cells.parse("training_capacity", _training_capacity, DEFAULT_TRAINING_CAPACITY)
        if cells.ok:
            units.append(Unit(unit_id, name, service, area, address, crisis_need, capacity))
    return units, set(first_lines)


def _training_capacity(text: str) -> int:
    value = parse_whole(text)
    return DEFAULT_TRAINING_CAPACITY if value is None else value
