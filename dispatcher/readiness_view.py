"""The readiness report as a plain-text table for a terminal (at most ~120 characters wide)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.domain.readiness import (
    PersonEntry,
    ReadinessReport,
    UnitReadiness,
    readiness_to_dict,
)

NO_ROSTER = (
    "No roster is imported yet. Import one with: "
    "dispatcher roster import --units units.csv --staff staff.csv [--training training.csv]"
)
_NONE = "—"


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: int  # the most characters shown; longer values end in "…"
    numeric: bool = False


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines: a header, then one line per row; numbers right-aligned."""
    widths = [
        min(c.width, max([len(c.header), *(len(r[i]) for r in rows)]))
        for i, c in enumerate(columns)
    ]
    lines = []
    for cells in [[c.header for c in columns], *rows]:
        parts = []
        for column, width, cell in zip(columns, widths, cells, strict=True):
            text = cell if len(cell) <= width else cell[: width - 1] + "…"
            parts.append(text.rjust(width) if column.numeric else text.ljust(width))
        lines.append("  ".join(parts).rstrip())
    return lines


_UNIT_COLUMNS = (
    Column("ID", 8),
    Column("AREA", 10),
    Column("SERVICE", 11),
    Column("UNIT", 38),
    Column("NEED", 6, numeric=True),
    Column("PLACED", 6, numeric=True),
    Column("REACH", 6, numeric=True),
    Column("TRAINED", 7, numeric=True),
    Column("RESERVE", 7, numeric=True),
    Column("GAP", 6, numeric=True),
)


def _unit_row(unit: UnitReadiness) -> list[str]:
    figures = (unit.needed, unit.placed, unit.reachable, unit.trained, unit.reserves, unit.gap_now)
    return [unit.unit_id, unit.area, unit.service, unit.name, *map(str, figures)]


def _person_cells(person: PersonEntry) -> list[str]:
    return [person.person_id or _NONE, person.name, person.unit_name or _NONE]


def _person_columns(*, name: int = 24, unit: int = 40) -> tuple[Column, ...]:
    return (Column("ID", 10), Column("NAME", name), Column("UNIT", unit))


def _section(title: str, count: int, table: list[str]) -> list[str]:
    return ["", f"{title} ({count})", *(["  " + line for line in table] if count else [])]


def _units_table(report: ReadinessReport) -> list[str]:
    totals = report.totals
    figures = (
        totals.needed,
        totals.placed,
        totals.reachable,
        totals.trained,
        totals.reserves,
        totals.gap_now,
    )
    table = render_table(
        _UNIT_COLUMNS,
        [*(_unit_row(u) for u in report.units), ["", "", "", "TOTAL", *map(str, figures)]],
    )
    # An at-risk unit's line starts with "!"; the header and the total line with spaces.
    markers = ["", *("!" if u.at_risk else "" for u in report.units), ""]
    return [f"{marker:<2}{line}" for marker, line in zip(markers, table, strict=True)]


def render_readiness(report: ReadinessReport) -> str:
    """The whole report as text: the units, then the people who need attention."""
    if report.empty:
        return NO_ROSTER
    totals = report.totals
    terms = " or ".join(str(t) for t in report.terms)
    lines = [
        f"Readiness in {max(report.terms)} on {report.today.isoformat()}: "
        f"trained = a training week in {terms}.",
        f"{totals.people} people, {totals.units} units; {totals.units_at_risk} units at risk "
        "(marked !: a gap now, or fewer trained than needed).",
        "NEED = crisis need (all placed when none is set); REACH = placed and reachable by SMS "
        "or e-mail;",
        "TRAINED = placed and trained at the unit; RESERVE = reserve placements; "
        "GAP = NEED - REACH.",
        "",
        *_units_table(report),
    ]
    lines += _section(
        "No mobile phone and no e-mail: cannot be called",
        len(report.unreachable),
        render_table(
            (*_person_columns(), Column("PHONE (NOT MOBILE)", 18)),
            [[*_person_cells(p), p.phone or _NONE] for p in report.unreachable],
        ),
    )
    lines += _section(
        "No mobile phone: e-mail only",
        len(report.sms_unreachable),
        render_table(
            (*_person_columns(name=22, unit=26), Column("PHONE", 16), Column("E-MAIL", 36)),
            [
                [*_person_cells(p), p.phone or _NONE, p.email or _NONE]
                for p in report.sms_unreachable
            ],
        ),
    )
    lines += _section(
        "Refused by the SMS or e-mail provider in an activation: fix these contacts",
        len(report.refused),
        render_table(
            (
                *_person_columns(name=22, unit=26),
                Column("CHANNEL", 7),
                Column("ADDRESS", 30),
                Column("WHY", 30),
            ),
            [
                [
                    *_person_cells(r.person),
                    r.channel,
                    r.address or _NONE,
                    f"{r.error_code} {r.detail}".strip(),
                ]
                for r in report.refused
            ],
        ),
    )
    lines += _section(
        "Placed, but training lapsed (no training week in the valid terms)",
        len(report.lapsed),
        render_table(
            (*_person_columns(), Column("LAST TRAINED", 12)),
            [
                [*_person_cells(item.person), str(item.last_trained or "never")]
                for item in report.lapsed
            ],
        ),
    )
    lines += _section(
        "Units nobody is placed at",
        len(report.unplaced_units),
        render_table(
            _UNIT_COLUMNS[:4],
            [[u.unit_id, u.area, u.service, u.name] for u in report.unplaced_units],
        ),
    )
    lines += _section(
        "People with no crisis placement",
        len(report.unplaced_people),
        render_table(
            (Column("ID", 10), Column("NAME", 24), Column("PHONE", 16), Column("E-MAIL", 40)),
            [
                [p.person_id or _NONE, p.name, p.phone or _NONE, p.email or _NONE]
                for p in report.unplaced_people
            ],
        ),
    )
    return "\n".join(lines)


def render_readiness_json(report: ReadinessReport) -> str:
    return json.dumps(readiness_to_dict(report), ensure_ascii=False, indent=2)
