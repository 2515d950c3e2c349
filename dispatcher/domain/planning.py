"""Who to call: the scope of an activation, the call-ups it plans, reserves, reply codes.

Everything here is a pure function of its arguments. A planned call-up carries a snapshot
of the person's contact details and the unit, so what is stored never changes when the
roster is re-imported later.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dispatcher.domain.roster import Person, Roster, Unit


class PlacementKind(StrEnum):
    """Why a person is called to a unit."""

    CRISIS = "crisis"  # the person's crisis placement: called at declaration
    RESERVE = "reserve"  # the person's reserve placement: called to fill a gap
    TRAINED = "trained"  # trained at the unit, no placement there: called to fill a gap


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


def _fold(text: str) -> str:
    """Area and service names compare without case, surrounding spaces or Unicode form."""
    return unicodedata.normalize("NFC", text).strip().casefold()


def _cleaned(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip() for v in values if v.strip())


@dataclass(frozen=True, slots=True)
class Scope:
    """Which units an activation covers.

    AND across the dimensions given, OR within one: a unit is in scope when (no areas or
    its area is listed) and (no services or its service is listed) and (no units or its id
    is listed). Areas and services match without case; unit ids match exactly. An empty
    scope is the whole municipality. "All elderly care in Norr" is
    `Scope.of(areas=["Norr"], services=["äldreomsorg"])`.
    """

    areas: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    _areas: frozenset[str] = field(init=False, repr=False, compare=False)
    _services: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_areas", frozenset(_fold(a) for a in self.areas))
        object.__setattr__(self, "_services", frozenset(_fold(s) for s in self.services))

    @classmethod
    def whole(cls) -> Scope:
        return cls()

    @classmethod
    def of(
        cls, areas: Iterable[str] = (), units: Iterable[str] = (), services: Iterable[str] = ()
    ) -> Scope:
        """A scope from lists as a user gave them: values stripped, blanks dropped."""
        return cls(_cleaned(areas), _cleaned(units), _cleaned(services))

    @property
    def is_whole(self) -> bool:
        return not (self.areas or self.units or self.services)

    def includes(self, unit: Unit) -> bool:
        return (
            (not self._areas or _fold(unit.area) in self._areas)
            and (not self._services or _fold(unit.service) in self._services)
            and (not self.units or unit.unit_id in self.units)
        )

    def as_json(self) -> dict[str, list[str]]:
        """The stored and API form: `{"areas": [...], "units": [...], "services": [...]}`."""
        return {
            "areas": sorted(self.areas),
            "units": sorted(self.units),
            "services": sorted(self.services),
        }


def _known(values: Iterable[str], limit: int = 20) -> str:
    names = sorted(set(values), key=str.casefold)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def validate_scope(roster: Roster, scope: Scope) -> list[str]:
    """Problems with a scope, each naming its field (`scope.areas`, …) and value.

    Empty when every listed area, service and unit exists and the scope matches a unit.
    """
    problems: list[str] = []
    areas = {_fold(u.area) for u in roster.units}
    services = {_fold(u.service) for u in roster.units}
    for area in sorted(scope.areas):
        if _fold(area) not in areas:
            problems.append(
                f"scope.areas: no unit is in area {area!r} "
                f"(areas: {_known(u.area for u in roster.units)})"
            )
    for service in sorted(scope.services):
        if _fold(service) not in services:
            problems.append(
                f"scope.services: no unit has service {service!r} "
                f"(services: {_known(u.service for u in roster.units)})"
            )
    for unit_id in sorted(scope.units):
        if roster.unit(unit_id) is None:
            problems.append(f"scope.units: there is no unit with id {unit_id!r}")
    if not problems and not any(scope.includes(u) for u in roster.units):
        problems.append("scope: the areas, services and units given together match no unit")
    return problems


@dataclass(frozen=True, slots=True)
class PlannedCallUp:
    """One person to call to one unit, with the snapshot the call-up is stored with."""

    person_id: str
    person_name: str
    department: str
    protected: bool
    sms_number: str | None
    email: str | None
    unit_id: str
    unit_name: str
    unit_address: str
    placement_kind: PlacementKind
    channels: tuple[Channel, ...]  # in order of use; () = nobody can reach the person

    @property
    def reachable(self) -> bool:
        return bool(self.channels)

    @property
    def first_channel(self) -> Channel | None:
        return self.channels[0] if self.channels else None


def channels_for(person: Person) -> tuple[Channel, ...]:
    """SMS first when the person has a mobile, then e-mail."""
    return _channels(person.sms_number, person.email)


def _channels(sms_number: str | None, email: str | None) -> tuple[Channel, ...]:
    if sms_number:
        return (Channel.SMS, Channel.EMAIL) if email else (Channel.SMS,)
    return (Channel.EMAIL,) if email else ()


def _planned(person: Person, unit: Unit, kind: PlacementKind) -> PlannedCallUp:
    sms_number, email = person.sms_number, person.email or None
    return PlannedCallUp(
        person_id=person.person_id,
        person_name=person.name,
        department=person.department,
        protected=person.protected,
        sms_number=sms_number,
        email=email,
        unit_id=unit.unit_id,
        unit_name=unit.name,
        unit_address=unit.address,
        placement_kind=kind,
        channels=_channels(sms_number, email),
    )


@dataclass(frozen=True, slots=True)
class ActivationPlan:
    """The call-ups an activation makes at declaration, and the figures for a preview."""

    planned_at: datetime
    scope: Scope
    units: tuple[Unit, ...]  # every unit in scope, by id, also those nobody is placed at
    callups: tuple[PlannedCallUp, ...]  # by unit id, then person id

    @property
    def people_per_unit(self) -> Mapping[str, int]:
        """Unit id → people called there; 0 for units in scope with nobody placed."""
        counts = Counter(c.unit_id for c in self.callups)
        return {u.unit_id: counts[u.unit_id] for u in self.units}

    @property
    def unreachable(self) -> tuple[PlannedCallUp, ...]:
        """Call-ups with no channel: the person has neither a mobile nor an e-mail."""
        return tuple(c for c in self.callups if not c.channels)

    @property
    def sms_count(self) -> int:
        """Call-ups that start with an SMS (e-mail follows only if needed)."""
        return sum(1 for c in self.callups if c.first_channel is Channel.SMS)

    @property
    def email_count(self) -> int:
        """Call-ups that start with an e-mail: people with no mobile number."""
        return sum(1 for c in self.callups if c.first_channel is Channel.EMAIL)


def plan_callups(roster: Roster, scope: Scope, now: datetime) -> ActivationPlan:
    """One call-up per person whose crisis placement is a unit in scope.

    Reserve placements are not called at declaration: they fill gaps later
    (`plan_reserve_callups`). `now` only stamps the plan.
    """
    units = tuple(sorted((u for u in roster.units if scope.includes(u)), key=lambda u: u.unit_id))
    by_id = {u.unit_id: u for u in units}
    seen: set[str] = set()
    callups: list[PlannedCallUp] = []
    for person in roster.people:
        unit = by_id.get(person.placement) if person.placement else None
        if unit is None or person.person_id in seen:
            continue
        seen.add(person.person_id)
        callups.append(_planned(person, unit, PlacementKind.CRISIS))
    callups.sort(key=lambda c: (c.unit_id, c.person_id))
    return ActivationPlan(planned_at=now, scope=scope, units=units, callups=tuple(callups))


def plan_reserve_callups(
    roster: Roster,
    unit_id: str,
    *,
    already_called: frozenset[str],
    busy: frozenset[str],
    count: int,
) -> list[PlannedCallUp]:
    """The next `count` reserves for a unit with a gap.

    First people whose reserve placement is the unit (by person id), then people with a
    training week there (latest week first, then person id). Skips anyone in
    `already_called` (called in this activation) or `busy` (called in another open one)
    and anyone no channel reaches.
    """
    unit = roster.unit(unit_id)
    if unit is None or count <= 0:
        return []
    excluded = already_called | busy
    people = {p.person_id: p for p in roster.people}
    reserves = sorted(
        (p for p in roster.people if p.reserve_placement == unit_id),
        key=lambda p: p.person_id,
    )
    latest: dict[str, date] = {}
    for week in roster.training:
        if week.unit_id == unit_id and week.person_id in people:
            latest[week.person_id] = max(
                week.week_start, latest.get(week.person_id, week.week_start)
            )
    trained = sorted(latest, key=lambda pid: (-latest[pid].toordinal(), pid))
    candidates = [(p, PlacementKind.RESERVE) for p in reserves]
    candidates += [(people[pid], PlacementKind.TRAINED) for pid in trained]
    chosen: list[PlannedCallUp] = []
    taken: set[str] = set()
    for person, kind in candidates:
        if person.person_id in excluded or person.person_id in taken or not person.reachable:
            continue
        taken.add(person.person_id)
        chosen.append(_planned(person, unit, kind))
        if len(chosen) == count:
            break
    return chosen


def estimate_send_seconds(
    sms_segments: int, emails: int, sms_rate: float, email_rate: float
) -> float:
    """How long handing every message to the providers takes at the configured rates.

    SMS are paced in segments per second (Twilio's unit); e-mail in messages per second.
    The two channels are paced independently, so the slower one decides.
    """
    if sms_rate <= 0 or email_rate <= 0:
        raise ValueError("rates must be positive")
    if sms_segments < 0 or emails < 0:
        raise ValueError("counts must not be negative")
    return max(sms_segments / sms_rate, emails / email_rate)


# Reply codes. When a person has several open call-ups, each SMS carries a code and the
# answer must include it ("JA B3"). A code is one letter and one digit, so it can never be
# read as a minute count ("JA B3 45" and even "JAB345" split unambiguously: the code is
# exactly one letter followed by one digit). Left out: O, I, L, Q (look like 0, 1), and
# A E J K N S Y, which continue reply words (JA, JAA, NEJ, YES, OK, NO) when typed without
# a space; digits 0 and 1 (look like O and I) and 2 ("1" and "2" are answers on their own).
# Codes cycle through the 105 combinations, letter first, so consecutive activations differ
# in their first character.
REPLY_CODE_LETTERS = "BCDFGHMPRTUVWXZ"
REPLY_CODE_DIGITS = "3456789"
REPLY_CODE_COUNT = len(REPLY_CODE_LETTERS) * len(REPLY_CODE_DIGITS)


def reply_code_for(activation_number: int) -> str:
    """The reply code of the n-th activation (n ≥ 1): B3, C3, D3, … Z3, B4, …

    Codes repeat after `REPLY_CODE_COUNT` activations; two activations open at once must
    not be exactly that far apart in numbering (the caller checks against open ones).
    """
    if activation_number < 1:
        raise ValueError("activation numbers start at 1")
    index = (activation_number - 1) % REPLY_CODE_COUNT
    letter = REPLY_CODE_LETTERS[index % len(REPLY_CODE_LETTERS)]
    digit = REPLY_CODE_DIGITS[index // len(REPLY_CODE_LETTERS)]
    return letter + digit


def is_reply_code(token: str) -> bool:
    """True for a well-formed reply code, in any case ("b3", "B3")."""
    token = token.strip().upper()
    return len(token) == 2 and token[0] in REPLY_CODE_LETTERS and token[1] in REPLY_CODE_DIGITS
