"""Training planning: who still needs a training week this term, grouped by host unit.

Every placed person trains at their crisis placement (the host unit), one week at a time;
a unit hosts at most `training_capacity` trainees a week. Trained means a training week
*at the placement* in one of the last `valid_terms` terms, the current one included — the
readiness report's TRAINED figure, which this plan exists to keep up. (A week at another
unit does not count here, as it does not count towards the placement's TRAINED figure.)

A person **needs a training week this term** when a week this term would change their
standing:

- **lapsed**: not trained now — no week at the placement in the counted terms;
- **due**: trained now, but not on the first day of the next term — their newest counted
  week is in the oldest counted term, which drops out when the term ends, and no week is
  booked next term either.

With `valid_terms = 2` (the Lerum model: one week per term, a term of grace) that is
everyone placed with no week at their placement this term and none booked next term.
With `valid_terms = 1` a week only ever counts in its own term, so only *lapsed* applies.
Weeks count by term, so a week booked later this term already counts: such people are
not listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from dispatcher.domain.readiness import PROTECTED_LABEL, PersonEntry, swedish_sort_key
from dispatcher.domain.roster import Person, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import Term, term_of
from dispatcher.domain.terms import valid_terms as terms_counted


def monday_of(day: date) -> date:
    """The Monday of the week `day` falls in (a training week starts on its Monday)."""
    return day - timedelta(days=day.weekday())


def training_week(person_id: str, unit_id: str, day: date) -> TrainingWeek:
    """A training week at `unit_id` in the week of `day`, normalised to its Monday.

    The term is the Monday's: the week of Monday 2026-12-28 is HT2026, even if `day` is
    2027-01-01 — as for imported weeks, whose term is that of their `week_start`.
    """
    monday = monday_of(day)
    return TrainingWeek(person_id, unit_id, term_of(monday), monday)


def first_day(term: Term) -> date:
    return date(term.year, 1 if term.season_index == 0 else 7, 1)


def last_day(term: Term) -> date:
    return date(term.year, 6, 30) if term.season_index == 0 else date(term.year, 12, 31)


def day_in_term(term: Term, today: date) -> date:
    """The date to assess `term` on: `today` if it is the current term, else its last day."""
    return today if term_of(today) == term else last_day(term)


def weeks_left(today: date) -> int:
    """Training weeks that can still start this term: its Mondays from `today` on."""
    first = today + timedelta(days=(7 - today.weekday()) % 7)
    end = last_day(term_of(today))
    return 0 if first > end else (end - first).days // 7 + 1


class NeedKind(StrEnum):
    LAPSED = "lapsed"  # not trained now
    DUE = "due"  # trained now, but not once this term ends


@dataclass(frozen=True, slots=True)
class Trainee:
    """A person who needs a week this term; `last_trained` None = never at the placement."""

    person: PersonEntry
    need: NeedKind
    last_trained: Term | None


@dataclass(frozen=True, slots=True)
class HostUnitPlan:
    """One host unit's trainees this term and the weeks they take at its capacity."""

    unit_id: str
    name: str
    service: str
    area: str
    capacity: int  # trainees per week
    trainees: tuple[Trainee, ...]

    @property
    def people(self) -> int:
        return len(self.trainees)

    @property
    def weeks_needed(self) -> int | None:
        """ceil(people / capacity); None when the unit hosts nobody (capacity 0)."""
        if self.capacity <= 0:
            return None
        return -(-self.people // self.capacity)


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    today: date
    term: Term
    valid_terms: int
    weeks_left: int  # Mondays from today to the end of the term
    units: tuple[HostUnitPlan, ...]  # only units with trainees; by area, service, name

    def fits(self, unit: HostUnitPlan) -> bool:
        """True when the unit can host all its trainees in the weeks left this term."""
        return unit.weeks_needed is not None and unit.weeks_needed <= self.weeks_left

    @property
    def people(self) -> int:
        return sum(u.people for u in self.units)

    def count(self, need: NeedKind) -> int:
        return sum(1 for u in self.units for t in u.trainees if t.need is need)


def plan_training(roster: Roster, today: date, valid_terms: int) -> TrainingPlan:
    """Who needs a training week at their placement this term, per host unit (see module)."""
    if valid_terms < 1:
        raise ValueError("valid_terms must be at least 1")
    term = term_of(today)
    counted_now = terms_counted(today, valid_terms)
    counted_next = terms_counted(first_day(term.next()), valid_terms)
    placements = {p.person_id: p.placement for p in roster.people if p.placement is not None}
    terms_at_placement: dict[str, set[Term]] = defaultdict(set)
    for week in roster.training:
        if placements.get(week.person_id) == week.unit_id:
            terms_at_placement[week.person_id].add(week.term)

    trainees: dict[str, list[tuple[Person, NeedKind, Term | None]]] = defaultdict(list)
    for person in roster.people:
        if person.placement is None or roster.unit(person.placement) is None:
            continue
        terms = terms_at_placement.get(person.person_id, set())
        if not terms & counted_now:
            need = NeedKind.LAPSED
        elif valid_terms >= 2 and not terms & counted_next:
            need = NeedKind.DUE
        else:
            continue
        past = [t for t in terms if t <= term]
        trainees[person.placement].append((person, need, max(past, default=None)))

    units = [roster.unit(unit_id) for unit_id in trainees]
    return TrainingPlan(
        today=today,
        term=term,
        valid_terms=valid_terms,
        weeks_left=weeks_left(today),
        units=tuple(
            _host_unit(unit, trainees[unit.unit_id])
            for unit in sorted((u for u in units if u is not None), key=_unit_order)
        ),
    )


def _host_unit(unit: Unit, people: Iterable[tuple[Person, NeedKind, Term | None]]) -> HostUnitPlan:
    ordered = sorted(people, key=lambda item: _person_order(item[0], item[1]))
    return HostUnitPlan(
        unit_id=unit.unit_id,
        name=unit.name,
        service=unit.service,
        area=unit.area,
        capacity=unit.training_capacity,
        trainees=tuple(Trainee(_entry(p, unit), need, last) for p, need, last in ordered),
    )


def _unit_order(unit: Unit) -> tuple[str, str, str, str]:
    keys = (swedish_sort_key(unit.area), swedish_sort_key(unit.service))
    return (*keys, swedish_sort_key(unit.name), unit.unit_id)


def _person_order(person: Person, need: NeedKind) -> tuple[int, str, str]:
    # Lapsed first (they are untrained now); within each, only what is shown decides the
    # order, so a protected person's place in the list gives nothing away.
    rank = 0 if need is NeedKind.LAPSED else 1
    if person.protected:
        return (rank, swedish_sort_key(PROTECTED_LABEL), "")
    return (rank, swedish_sort_key(person.name), person.person_id)


def _entry(person: Person, unit: Unit) -> PersonEntry:
    if person.protected:
        return PersonEntry(None, PROTECTED_LABEL, None, None, unit.unit_id, unit.name, True)
    return PersonEntry(
        person.person_id,
        person.name,
        person.phone,
        person.email,
        unit.unit_id,
        unit.name,
        False,
    )


def training_plan_to_dict(plan: TrainingPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (CLI `--json` and `GET /api/roster/training-needs`)."""
    return {
        "today": plan.today.isoformat(),
        "term": str(plan.term),
        "term_ends": last_day(plan.term).isoformat(),
        "valid_terms": plan.valid_terms,
        "weeks_left": plan.weeks_left,
        "totals": {
            "people": plan.people,
            "lapsed": plan.count(NeedKind.LAPSED),
            "due": plan.count(NeedKind.DUE),
            "units": len(plan.units),
            "units_not_fitting": sum(1 for u in plan.units if not plan.fits(u)),
        },
        "units": [
            {
                "unit_id": unit.unit_id,
                "name": unit.name,
                "service": unit.service,
                "area": unit.area,
                "capacity": unit.capacity,
                "people": unit.people,
                "weeks_needed": unit.weeks_needed,
                "fits": plan.fits(unit),
                "trainees": [
                    {
                        "person_id": t.person.person_id,
                        "name": t.person.name,
                        "protected": t.person.protected,
                        "phone": t.person.phone,
                        "email": t.person.email,
                        "need": t.need.value,
                        "last_trained": str(t.last_trained) if t.last_trained else None,
                    }
                    for t in unit.trainees
                ],
            }
            for unit in plan.units
        ],
    }
