"""A fictional demo roster for "Exempelkommun", written as Excel would export it.

`write_demo_roster` writes `units.csv`, `staff.csv` and `training.csv` in the contract's
formats (semicolons, UTF-8 with a byte-order mark, phones like `070-123 45 67`) at any size,
the same files for the same seed and date. A few contacts are deliberately bad in ways the
importer accepts with a warning: fixed-line numbers, no phone, no e-mail, neither.
Its phone numbers are random: never use the demo roster with a real SMS provider.

Also a command: `python -m dispatcher.demo --people 1200 --out DIR [--seed S]`.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dispatcher.demo.fiction import (
    AREAS,
    DEPARTMENTS,
    LONG_UNITS,
    MUNICIPALITY,
    SERVICE_WEIGHTS,
    SERVICES,
    AddressBook,
    person_name,
    street_address,
    unit_name,
)
from dispatcher.demo.training import make_training

UNIT_HEADER = ("unit_id", "name", "service", "area", "address", "crisis_need", "training_capacity")
STAFF_HEADER = (
    *("person_id", "name", "phone", "email", "role", "pay_pct", "department"),
    *("placement", "reserve_placement", "protected"),
)
TRAINING_HEADER = ("person_id", "unit_id", "term", "week_start")
PEOPLE_PER_UNIT = 25
MIN_UNITS = 12
EMPTY_UNIT_EVERY = 50  # one unit in fifty (the 8th, 58th, …) has nobody placed at it yet

# Deliberately bad contacts, all of which the importer accepts with a warning.
_FIXED_LINE, _NO_PHONE, _NO_EMAIL = "fixed_line", "no_phone", "no_email"
_NEITHER, _FIXED_LINE_NO_EMAIL = "neither", "fixed_line_no_email"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    directory: Path
    units: int
    people: int
    placed: int
    reserves: int
    training_weeks: int
    fixed_line: int  # a fixed-line number and e-mail: e-mail only
    no_phone: int  # no phone, but e-mail: e-mail only
    no_email: int  # a mobile and no e-mail
    unreachable: int  # neither a mobile nor e-mail (half with a fixed line, half with nothing)
    protected: int

    def describe(self) -> str:
        return (
            f"{MUNICIPALITY} demo roster in {self.directory}: {self.people} people "
            f"({self.placed} placed, {self.reserves} with a reserve placement), {self.units} "
            f"units, {self.training_weeks} training weeks; deliberately bad contacts: "
            f"{self.fixed_line} fixed-line, {self.no_phone} without phone, {self.no_email} "
            f"without e-mail, {self.unreachable} with neither; {self.protected} protected"
        )


@dataclass(slots=True)
class _Unit:
    unit_id: str
    name: str
    service: str
    area: str
    address: str
    training_capacity: int
    weight: float  # how many people are placed here, relative to other units
    placed: int = 0


def write_demo_roster(
    directory: Path, *, people: int, seed: int = 2026, today: date | None = None
) -> DemoSummary:
    """Write the three roster files for `people` people into `directory` (made if needed)."""
    if people < 1:
        raise ValueError("people must be at least 1")
    rng = random.Random(seed)  # noqa: S311  # demo data, not secrets: reproducible on purpose
    today = today or date.today()
    units = _make_units(rng, max(MIN_UNITS, round(people / PEOPLE_PER_UNIT)))
    bad = _bad_contacts(rng, people)
    protected = set(rng.sample(range(people), min(people, max(int(people >= 10), people // 500))))
    staff = _make_staff(rng, people, units, bad, protected)
    capacity = {u.unit_id: u.training_capacity for u in units}
    training = make_training(rng, staff, capacity, today)
    unit_rows = [
        (u.unit_id, u.name, u.service, u.area, u.address, _crisis_need(rng, u), u.training_capacity)
        for u in units
    ]
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "units.csv", UNIT_HEADER, unit_rows)
    _write(directory / "staff.csv", STAFF_HEADER, staff)
    _write(directory / "training.csv", TRAINING_HEADER, training)
    kinds = list(bad.values())
    return DemoSummary(
        directory=directory,
        units=len(units),
        people=people,
        placed=sum(1 for row in staff if row[7]),
        reserves=sum(1 for row in staff if row[8]),
        training_weeks=len(training),
        fixed_line=kinds.count(_FIXED_LINE),
        no_phone=kinds.count(_NO_PHONE),
        no_email=kinds.count(_NO_EMAIL),
        unreachable=kinds.count(_NEITHER) + kinds.count(_FIXED_LINE_NO_EMAIL),
        protected=len(protected),
    )


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as file:  # Excel's "CSV UTF-8"
        writer = csv.writer(file, delimiter=";")
        writer.writerow(header)
        writer.writerows(rows)


def _make_units(rng: random.Random, count: int) -> list[_Unit]:
    plan = list(LONG_UNITS)
    names = {name for name, _, _ in plan}
    areas_with_home_care = {area for _, service, area in plan if service == "hemtjänst"}
    for i in range(len(plan), count):
        area = AREAS[i % len(AREAS)]
        # The first few cycle through the services, so even a small roster has them all.
        service = SERVICES[i % len(SERVICES)] if i < 9 else _weighted_service(rng)
        if service == "hemtjänst" and area not in areas_with_home_care:
            areas_with_home_care.add(area)
            name = f"Hemtjänst {area}"
        else:
            name = unit_name(rng, service, names)
        names.add(name)
        plan.append((name, service, area))
    return [
        _Unit(
            unit_id=f"U{i + 1:04d}",
            name=name,
            service=service,
            area=area,
            address=street_address(rng),
            training_capacity=rng.choice((2, 2, 2, 3, 4)),
            weight=rng.uniform(0.5, 1.5),
        )
        for i, (name, service, area) in enumerate(plan)
    ]


def _weighted_service(rng: random.Random) -> str:
    return rng.choices(SERVICES, weights=SERVICE_WEIGHTS)[0]


def _bad_contacts(rng: random.Random, people: int) -> dict[int, str]:
    """About 1 % each of fixed-line, no phone and no e-mail; a handful with neither."""
    each = people // 100 if people >= 100 else int(people >= 10)
    neither = max(int(people >= 10), people // 300)
    chosen = iter(rng.sample(range(people), min(people, 3 * each + neither)))
    bad: dict[int, str] = {}
    for kind in (_FIXED_LINE, _NO_PHONE, _NO_EMAIL):
        for _, index in zip(range(each), chosen, strict=False):
            bad[index] = kind
    for j, index in enumerate(chosen):
        bad[index] = _FIXED_LINE_NO_EMAIL if j % 2 else _NEITHER
    return bad


def _make_staff(
    rng: random.Random,
    people: int,
    units: list[_Unit],
    bad: dict[int, str],
    protected: set[int],
) -> list[tuple[str, ...]]:
    placeable = [u for i, u in enumerate(units) if i % EMPTY_UNIT_EVERY != 7]
    cum_weights: list[float] = []
    for unit in placeable:
        cum_weights.append((cum_weights[-1] if cum_weights else 0.0) + unit.weight)
    by_area: dict[str, list[_Unit]] = {}
    for unit in units:
        by_area.setdefault(unit.area, []).append(unit)
    book = AddressBook(rng)
    rows: list[tuple[str, ...]] = []
    for index in range(people):
        first, last = person_name(rng)
        role, pay_pct, department = _role(rng)
        placement = None
        if rng.random() < (0.6 if role == "volunteer_politician" else 0.96):
            placement = rng.choices(placeable, cum_weights=cum_weights)[0]
            placement.placed += 1
        reserve = _reserve(rng, units, by_area, placement) if rng.random() < 0.6 else None
        kind = bad.get(index)
        if kind in (_NO_PHONE, _NEITHER):
            phone = ""
        elif kind in (_FIXED_LINE, _FIXED_LINE_NO_EMAIL):
            phone = book.fixed_line()
        else:
            phone = book.mobile()
        no_email = kind in (_NO_EMAIL, _NEITHER, _FIXED_LINE_NO_EMAIL)
        rows.append(
            (
                f"E{index + 1:06d}",  # never anything like a personal identity number
                f"{first} {last}",
                phone,
                "" if no_email else book.email(first, last),
                role,
                pay_pct,
                department,
                placement.unit_id if placement else "",
                reserve.unit_id if reserve else "",
                "ja" if index in protected else "nej",
            )
        )
    return rows


def _role(rng: random.Random) -> tuple[str, str, str]:
    """Role, pay percentage and department: mostly administrators, some managers, a few
    politicians, and volunteer politicians (below 50 %)."""
    draw = rng.random()
    if draw < 0.01:
        return "politician", rng.choice(("100", "100", "75", "60")), "Kommunstyrelsen"
    if draw < 0.03:
        return (
            "volunteer_politician",
            rng.choice(("5", "10", "20", "25", "40")),
            "Kommunfullmäktige",
        )
    pay_pct = rng.choice(("100", "100", "100", "100", "100", "90", "80", "75", "50"))
    return ("manager" if draw < 0.11 else "admin"), pay_pct, rng.choice(DEPARTMENTS)


def _reserve(
    rng: random.Random, units: list[_Unit], by_area: dict[str, list[_Unit]], placement: _Unit | None
) -> _Unit | None:
    """Another unit, usually in the same area as the crisis placement."""
    nearby = by_area[placement.area] if placement and rng.random() < 0.8 else units
    for _ in range(10):
        unit = rng.choice(nearby)
        if unit is not placement:
            return unit
    return None


def _crisis_need(rng: random.Random, unit: _Unit) -> str:
    """Empty for about one unit in seven (need = all placed); more than are placed for one in
    ten (a gap even if everyone comes); else part of those placed."""
    draw = rng.random()
    if draw < 0.15:
        return ""
    if draw < 0.25 or unit.placed == 0:
        return str(unit.placed + rng.randint(1, 4))
    return str(max(1, round(unit.placed * rng.uniform(0.3, 0.9))))


__all__ = ["STAFF_HEADER", "TRAINING_HEADER", "UNIT_HEADER", "DemoSummary", "write_demo_roster"]
