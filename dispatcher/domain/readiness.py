"""Readiness: would each unit get its people if a crisis came now?

A pure function over the roster. Per unit it counts who is placed there, who of them can be
reached, who is trained there (a training week within the last `valid_terms` terms, the
current one included) and who holds it as a reserve placement; then it lists the people who
need a roster administrator's attention. Protected people are masked here, once, so that
every consumer of the report (CLI, API, dashboard) gets the same masking.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from dispatcher.domain.roster import Person, Roster, Unit
from dispatcher.domain.terms import Term
from dispatcher.domain.terms import valid_terms as terms_counted

PROTECTED_LABEL = "skyddad person"

# Casefolded Swedish letters mapped after "z" in the Swedish order: å, ä, ö.
_SWEDISH_ORDER = str.maketrans({"å": "z{", "ä": "z|", "æ": "z|", "ö": "z}", "ø": "z}", "é": "e"})


def swedish_sort_key(text: str) -> str:
    """A sort key that puts Å, Ä and Ö after Z, as Swedish readers expect."""
    return text.casefold().translate(_SWEDISH_ORDER)


@dataclass(frozen=True, slots=True)
class UnitReadiness:
    """One unit's figures; `needed` is its crisis need, or its placed count if it has none."""

    unit_id: str
    name: str
    service: str
    area: str
    needed: int
    placed: int
    reachable: int  # placed and reachable by SMS or e-mail
    trained: int  # placed and with a valid training week at this unit
    reserves: int  # people with this unit as their reserve placement

    @property
    def gap_now(self) -> int:
        """Reinforcements missing if a crisis came now: needed minus the reachable placed."""
        return max(0, self.needed - self.reachable)

    @property
    def at_risk(self) -> bool:
        return self.gap_now > 0 or self.trained < self.needed


@dataclass(frozen=True, slots=True)
class ReadinessTotals:
    units: int
    people: int
    needed: int
    placed: int
    reachable: int
    trained: int
    reserves: int
    gap_now: int  # the sum of the units' gaps (a surplus at one unit does not fill another)
    units_at_risk: int


@dataclass(frozen=True, slots=True)
class PersonEntry:
    """A person as the report shows them. A protected person has no id, name or contacts."""

    person_id: str | None
    name: str
    phone: str | None
    email: str | None
    unit_id: str | None  # the crisis placement
    unit_name: str | None
    protected: bool


@dataclass(frozen=True, slots=True)
class LapsedTraining:
    """A placed person with no valid training week anywhere; `last_trained` None = never."""

    person: PersonEntry
    last_trained: Term | None


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    today: date
    valid_terms: int
    terms: tuple[Term, ...]  # the terms that count, oldest first
    units: tuple[UnitReadiness, ...]  # sorted by area, service, name
    totals: ReadinessTotals
    unreachable: tuple[PersonEntry, ...]  # no SMS-capable phone and no e-mail
    sms_unreachable: tuple[PersonEntry, ...]  # no SMS-capable phone, but e-mail
    lapsed: tuple[LapsedTraining, ...]
    unplaced_units: tuple[UnitReadiness, ...]  # units nobody is placed at
    unplaced_people: tuple[PersonEntry, ...]  # people with no crisis placement
    refused: tuple[RefusedEntry, ...] = ()  # contacts a provider refused, still in the roster

    @property
    def empty(self) -> bool:
        """True when no roster has been imported."""
        return not self.units and self.totals.people == 0


@dataclass(frozen=True, slots=True)
class RefusedContact:
    """A phone number or e-mail address a provider refused for good during an activation."""

    person_id: str
    channel: str  # "sms" or "email"
    address: str
    error_code: str
    detail: str


@dataclass(frozen=True, slots=True)
class RefusedEntry:
    person: PersonEntry
    channel: str
    address: str | None  # None for a protected person
    error_code: str
    detail: str  # "" for a protected person


def assess_readiness(
    roster: Roster,
    *,
    today: date,
    valid_terms: int,
    refused: Iterable[RefusedContact] = (),
) -> ReadinessReport:
    """The readiness report for `roster` on `today`, counting `valid_terms` terms as trained.

    `refused` are contacts providers refused in past activations; those the roster still
    holds unchanged are listed for the roster administrators to fix (a corrected number or
    address drops off the list by itself).
    """
    if valid_terms < 1:
        raise ValueError("valid_terms must be at least 1")
    counted = terms_counted(today, valid_terms)
    trained_at: set[tuple[str, str]] = set()
    trained_anywhere: set[str] = set()
    last_trained: dict[str, Term] = {}
    for week in roster.training:
        if week.term in counted:
            trained_at.add((week.person_id, week.unit_id))
            trained_anywhere.add(week.person_id)
        latest = last_trained.get(week.person_id)
        if latest is None or week.term > latest:
            last_trained[week.person_id] = week.term

    placed: Counter[str] = Counter()
    reachable: Counter[str] = Counter()
    trained: Counter[str] = Counter()
    reserves: Counter[str] = Counter()
    for person in roster.people:
        if person.reserve_placement is not None:
            reserves[person.reserve_placement] += 1
        if person.placement is None:
            continue
        placed[person.placement] += 1
        if person.reachable:
            reachable[person.placement] += 1
        if (person.person_id, person.placement) in trained_at:
            trained[person.placement] += 1

    units = tuple(
        UnitReadiness(
            unit_id=unit.unit_id,
            name=unit.name,
            service=unit.service,
            area=unit.area,
            needed=unit.crisis_need if unit.crisis_need is not None else placed[unit.unit_id],
            placed=placed[unit.unit_id],
            reachable=reachable[unit.unit_id],
            trained=trained[unit.unit_id],
            reserves=reserves[unit.unit_id],
        )
        for unit in sorted(roster.units, key=_unit_order)
    )
    entries = _PeopleLister(roster, units)
    return ReadinessReport(
        today=today,
        valid_terms=valid_terms,
        terms=tuple(sorted(counted)),
        units=units,
        totals=_totals(units, people=len(roster.people)),
        unreachable=entries.of(p for p in roster.people if not p.reachable),
        sms_unreachable=entries.of(
            p for p in roster.people if p.sms_number is None and p.email is not None
        ),
        lapsed=tuple(
            LapsedTraining(entries.entry(p), last_trained.get(p.person_id))
            for p in entries.ordered(
                p
                for p in roster.people
                if p.placement is not None and p.person_id not in trained_anywhere
            )
        ),
        unplaced_units=tuple(u for u in units if u.placed == 0),
        unplaced_people=entries.of(p for p in roster.people if p.placement is None),
        refused=_still_refused(roster, refused, entries),
    )


def _still_refused(
    roster: Roster, refused: Iterable[RefusedContact], entries: _PeopleLister
) -> tuple[RefusedEntry, ...]:
    people = {p.person_id: p for p in roster.people}
    current = []
    for contact in refused:
        person = people.get(contact.person_id)
        if person is None:
            continue
        address = person.phone if contact.channel == "sms" else person.email
        if address != contact.address:
            continue
        current.append((person, contact))
    order = {p.person_id: i for i, p in enumerate(entries.ordered(p for p, _ in current))}
    current.sort(key=lambda item: (order[item[0].person_id], item[1].channel))
    return tuple(
        RefusedEntry(
            entries.entry(person),
            contact.channel,
            None if person.protected else contact.address,
            contact.error_code,
            # A provider's text often repeats the refused address ("The 'To' number +4670…").
            "" if person.protected else contact.detail,
        )
        for person, contact in current
    )


def _unit_order(unit: Unit) -> tuple[str, str, str, str]:
    return (
        swedish_sort_key(unit.area),
        swedish_sort_key(unit.service),
        swedish_sort_key(unit.name),
        unit.unit_id,
    )


def _totals(units: tuple[UnitReadiness, ...], *, people: int) -> ReadinessTotals:
    return ReadinessTotals(
        units=len(units),
        people=people,
        needed=sum(u.needed for u in units),
        placed=sum(u.placed for u in units),
        reachable=sum(u.reachable for u in units),
        trained=sum(u.trained for u in units),
        reserves=sum(u.reserves for u in units),
        gap_now=sum(u.gap_now for u in units),
        units_at_risk=sum(1 for u in units if u.at_risk),
    )


class _PeopleLister:
    """Turns people into masked report entries, ordered by their unit and then by name."""

    def __init__(self, roster: Roster, units: tuple[UnitReadiness, ...]) -> None:
        self._roster = roster
        self._unit_rank: Mapping[str, int] = {u.unit_id: i for i, u in enumerate(units)}

    def entry(self, person: Person) -> PersonEntry:
        unit = self._roster.unit(person.placement) if person.placement is not None else None
        unit_name = unit.name if unit is not None else None
        if person.protected:
            return PersonEntry(None, PROTECTED_LABEL, None, None, person.placement, unit_name, True)
        return PersonEntry(
            person.person_id,
            person.name,
            person.phone,
            person.email,
            person.placement,
            unit_name,
            False,
        )

    def ordered(self, people: Iterable[Person]) -> list[Person]:
        return sorted(people, key=self._order)

    def of(self, people: Iterable[Person]) -> tuple[PersonEntry, ...]:
        return tuple(self.entry(p) for p in self.ordered(people))

    def _order(self, person: Person) -> tuple[int, str, str]:
        # Only what the report shows decides the order, so a protected person's place in a
        # list gives nothing away.
        rank = self._unit_rank.get(person.placement or "", len(self._unit_rank))
        if person.protected:
            return (rank, swedish_sort_key(PROTECTED_LABEL), "")
        return (rank, swedish_sort_key(person.name), person.person_id)


def readiness_to_dict(report: ReadinessReport) -> dict[str, Any]:
    """The report as JSON-ready data with stable snake_case keys (CLI, HTTP API, dashboard)."""
    totals = report.totals
    return {
        "today": report.today.isoformat(),
        "valid_terms": report.valid_terms,
        "terms": [str(t) for t in report.terms],
        "totals": {
            "units": totals.units,
            "people": totals.people,
            "needed": totals.needed,
            "placed": totals.placed,
            "reachable": totals.reachable,
            "trained": totals.trained,
            "reserves": totals.reserves,
            "gap_now": totals.gap_now,
            "units_at_risk": totals.units_at_risk,
            "unreachable": len(report.unreachable),
            "sms_unreachable": len(report.sms_unreachable),
            "lapsed": len(report.lapsed),
            "unplaced_units": len(report.unplaced_units),
            "unplaced_people": len(report.unplaced_people),
            "refused_contacts": len(report.refused),
        },
        "units": [_unit_dict(u) for u in report.units],
        "unreachable": [_person_dict(p) for p in report.unreachable],
        "sms_unreachable": [_person_dict(p) for p in report.sms_unreachable],
        "lapsed": [
            {
                **_person_dict(item.person),
                "last_trained": str(item.last_trained) if item.last_trained else None,
            }
            for item in report.lapsed
        ],
        "unplaced_units": [_unit_dict(u) for u in report.unplaced_units],
        "unplaced_people": [_person_dict(p) for p in report.unplaced_people],
        "refused_contacts": [
            {
                **_person_dict(item.person),
                "channel": item.channel,
                "address": item.address,
                "error_code": item.error_code,
                "detail": item.detail,
            }
            for item in report.refused
        ],
    }


def _unit_dict(unit: UnitReadiness) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "name": unit.name,
        "service": unit.service,
        "area": unit.area,
        "needed": unit.needed,
        "placed": unit.placed,
        "reachable": unit.reachable,
        "trained": unit.trained,
        "reserves": unit.reserves,
        "gap_now": unit.gap_now,
        "at_risk": unit.at_risk,
    }


def _person_dict(person: PersonEntry) -> dict[str, Any]:
    return {
        "person_id": person.person_id,
        "name": person.name,
        "protected": person.protected,
        "phone": person.phone,
        "email": person.email,
        "unit_id": person.unit_id,
        "unit_name": person.unit_name,
    }
