"""The drill report: how a call-up went, worked out from the rows it left behind.

For crises as much as drills (the report carries the kind). Pure: plain rows in, figures
out; times are milliseconds since the epoch, as stored, and `now` is an argument.

Definitions:
- *called*: every call-up of the activation, reserves included. Each is in exactly one of
  confirmed, declined, no_answer (not answered: still awaiting or past the deadline) and
  failed (no channel could reach the person).
- *response rate*: answered (at least one yes or no) / called; None when nobody was called.
- *time to first answer*: from each person's own call-up to their first answer.
- *time to confirmation*: for those confirmed at the end, from their call-up to the yes that
  has held since (a no and then a yes counts from the yes).
- *covered*: a unit is covered when its confirmations reach its need, counted from the
  activation's call-up (its first call-up); a unit that needs nobody is covered at once.
- *percentiles*: nearest rank (`nearest_rank`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

PROTECTED_NAME = "skyddad person"  # as in `dispatcher.activation_views`
PROTECTED_GROUP = "skyddade personer"  # the department row protected people are counted in
_MINUTE_MS = 60_000


class Reason(StrEnum):
    """Why a person who did not answer was not reached, in the order they are listed."""

    NO_CONTACT = "no_contact"  # neither a mobile number nor an e-mail address
    OPTED_OUT = "opted_out"  # the number asked for no more SMS
    INVALID_NUMBER = "invalid_number"  # the SMS was refused for the number
    BOUNCED_EMAIL = "bounced_email"  # the e-mail was refused for the address
    NOT_SENT = "not_sent"  # nothing went out: the channel failed, or it ended first
    NO_ANSWER = "no_answer"  # a call-up went out, and no answer came


# --- rows in -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit_id: str
    name: str
    needed: int


@dataclass(frozen=True, slots=True)
class CallUpRow:
    id: int
    person_id: str
    person_name: str
    department: str
    protected: bool
    unit_id: str
    unit_name: str
    state: str  # awaiting, confirmed, declined, no_answer, failed
    created_at: int
    first_answer_at: int | None
    answered_at: int | None
    has_sms: bool
    has_email: bool
    opted_out: bool  # the number was on the opt-out list when the activation ended


@dataclass(frozen=True, slots=True)
class AnswerRow:
    callup_id: int
    answer: str  # yes or no
    answered_at: int


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A call-up message (on either channel) and what the provider said of its address."""

    callup_id: int
    channel: str  # sms or email
    state: str  # the outbox state
    refusal: Reason | None = None  # OPTED_OUT, INVALID_NUMBER or BOUNCED_EMAIL


@dataclass(frozen=True, slots=True)
class ActivationFacts:
    """Everything an activation left behind that the report reads."""

    id: str
    kind: str
    title: str
    state: str
    scope: Mapping[str, Sequence[str]]
    declared_at: int
    stood_down_at: int | None
    units: tuple[UnitRow, ...] = ()
    callups: tuple[CallUpRow, ...] = ()
    answers: tuple[AnswerRow, ...] = ()
    messages: tuple[MessageRow, ...] = ()


# --- figures out ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Minutes, nearest rank; None where there are no values."""

    count: int
    p50: float | None
    p90: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class Breakdown:
    key: str
    name: str
    called: int
    answered: int
    confirmed: int
    declined: int
    no_answer: int
    failed: int

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.called if self.called else None


@dataclass(frozen=True, slots=True)
class UnitFigures:
    counts: Breakdown
    needed: int
    covered_after: float | None  # minutes from the activation's call-up; None: never


@dataclass(frozen=True, slots=True)
class NotReached:
    person_id: str | None  # None for a protected person, as are name and department
    name: str
    department: str | None
    unit_id: str
    unit_name: str
    state: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Series:
    """Cumulative confirmations: (minutes from the call-up, confirmed so far), from (0, 0)."""

    key: str
    name: str
    needed: int
    points: tuple[tuple[float, int], ...]


@dataclass(frozen=True, slots=True)
class Headline:
    """The figures compared across drills of the same scope."""

    activation_id: str
    kind: str
    title: str
    declared_at: int
    totals: Breakdown
    needed: int
    first_answer: Percentiles
    confirmation: Percentiles
    units_covered: int
    units: int
    all_covered_after: float | None


@dataclass(frozen=True, slots=True)
class DrillReport:
    activation: ActivationFacts
    called_at: int  # the activation's call-up: its first call-up, else its declaration
    span: float  # minutes the chart covers: until stand-down (or now), or the last yes
    headline: Headline
    units: tuple[UnitFigures, ...]
    departments: tuple[Breakdown, ...]
    not_reached: tuple[NotReached, ...]
    total_series: Series
    unit_series: tuple[Series, ...]
    trend: tuple[Headline, ...]  # the previous ones of the same scope, oldest first, then this


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile: the value at rank ⌈percent/100 · n⌉ (at least 1) of the
    sorted values, so always one of them; None for no values."""
    if not values:
        return None
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be 0–100, got {percent}")
    rank = max(1, math.ceil(percent * len(values) / 100))  # exact for whole percents
    return sorted(values)[rank - 1]


def percentiles(durations_ms: Sequence[int]) -> Percentiles:
    def minutes(percent: float) -> float | None:
        value = nearest_rank(durations_ms, percent)
        return None if value is None else _minutes(value)

    return Percentiles(len(durations_ms), minutes(50), minutes(90), minutes(100))


def same_scope(a: Mapping[str, Sequence[str]], b: Mapping[str, Sequence[str]]) -> bool:
    """Whether two scopes name the same areas, units and services (order does not matter)."""

    def canonical(scope: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
        return {key: frozenset(values) for key, values in scope.items() if values}

    return canonical(a) == canonical(b)


def build_report(
    facts: ActivationFacts, previous: Iterable[ActivationFacts] = (), *, now: int
) -> DrillReport:
    """The report of one activation; `previous`: earlier ones of the same kind and scope."""
    called_at = _called_at(facts)
    confirmed_at = _confirmation_times(facts)
    end = facts.stood_down_at if facts.stood_down_at is not None else now
    last_yes = max(confirmed_at.values(), default=called_at)
    units = _units(facts, called_at, confirmed_at)
    headline = _headline(facts, units, confirmed_at)
    by_unit = _moments_by_unit(facts.callups, confirmed_at)
    return DrillReport(
        activation=facts,
        called_at=called_at,
        span=max(0.0, (max(end, last_yes) - called_at) / _MINUTE_MS),
        headline=headline,
        units=units,
        departments=_departments(facts.callups),
        not_reached=_not_reached(facts),
        total_series=_series(
            "total", "Totalt", headline.needed, _moments(facts.callups, confirmed_at), called_at
        ),
        unit_series=tuple(
            _series(
                unit.counts.key,
                unit.counts.name,
                unit.needed,
                by_unit[unit.counts.key],
                called_at,
            )
            for unit in units
        ),
        trend=(*(headline_of(p) for p in previous), headline),
    )


def headline_of(facts: ActivationFacts) -> Headline:
    """The headline figures of an activation (for the trend)."""
    confirmed_at = _confirmation_times(facts)
    return _headline(facts, _units(facts, _called_at(facts), confirmed_at), confirmed_at)


# --- the parts -----------------------------------------------------------------------------


def _minutes(ms: float) -> float:
    return round(ms / _MINUTE_MS, 1)


def _called_at(facts: ActivationFacts) -> int:
    return min((c.created_at for c in facts.callups), default=facts.declared_at)


def _moments(callups: Iterable[CallUpRow], confirmed_at: Mapping[int, int]) -> list[int]:
    """When each of these call-ups that ended confirmed was confirmed, in order."""
    return sorted(confirmed_at[c.id] for c in callups if c.id in confirmed_at)


def _moments_by_unit(
    callups: Iterable[CallUpRow], confirmed_at: Mapping[int, int]
) -> dict[str, list[int]]:
    by_unit: dict[str, list[int]] = defaultdict(list)
    for moment, unit_id in sorted(
        (confirmed_at[c.id], c.unit_id) for c in callups if c.id in confirmed_at
    ):
        by_unit[unit_id].append(moment)
    return by_unit


def _confirmation_times(facts: ActivationFacts) -> dict[int, int]:
    """For each call-up confirmed at the end: when the yes that has held since was given."""
    history: dict[int, list[AnswerRow]] = defaultdict(list)
    for answer in sorted(facts.answers, key=lambda a: a.answered_at):
        history[answer.callup_id].append(answer)
    times: dict[int, int] = {}
    for callup in facts.callups:
        if callup.state != "confirmed":
            continue
        since: int | None = None
        for answer in history[callup.id]:
            if answer.answer != "yes":
                since = None
            elif since is None:
                since = answer.answered_at
        fallback = callup.answered_at if callup.answered_at is not None else callup.created_at
        times[callup.id] = since if since is not None else fallback
    return times


def _count(key: str, name: str, callups: Sequence[CallUpRow]) -> Breakdown:
    states = [c.state for c in callups]
    return Breakdown(
        key=key,
        name=name,
        called=len(callups),
        answered=sum(1 for c in callups if c.first_answer_at is not None),
        confirmed=states.count("confirmed"),
        declined=states.count("declined"),
        no_answer=states.count("no_answer") + states.count("awaiting"),
        failed=states.count("failed"),
    )


def _departments(callups: Iterable[CallUpRow]) -> tuple[Breakdown, ...]:
    """Per department; protected people in a group of their own, their department unsaid."""
    groups: dict[str, list[CallUpRow]] = defaultdict(list)
    for callup in callups:
        groups[PROTECTED_GROUP if callup.protected else callup.department].append(callup)
    rows = [_count(name, name, members) for name, members in groups.items()]
    return tuple(sorted(rows, key=lambda b: (b.name == PROTECTED_GROUP, b.name)))


def _units(
    facts: ActivationFacts, called_at: int, confirmed_at: Mapping[int, int]
) -> tuple[UnitFigures, ...]:
    units = {u.unit_id: u for u in facts.units}
    members: dict[str, list[CallUpRow]] = defaultdict(list)
    for callup in facts.callups:
        members[callup.unit_id].append(callup)
        # A call-up to a unit the activation did not list still counts, with no need.
        units.setdefault(callup.unit_id, UnitRow(callup.unit_id, callup.unit_name, 0))
    figures = []
    for unit in units.values():
        times = _moments(members[unit.unit_id], confirmed_at)
        covered: float | None = None
        if unit.needed <= 0:
            covered = 0.0
        elif len(times) >= unit.needed:
            covered = _minutes(max(0, times[unit.needed - 1] - called_at))
        counts = _count(unit.unit_id, unit.name, members[unit.unit_id])
        figures.append(UnitFigures(counts, max(0, unit.needed), covered))
    return tuple(sorted(figures, key=lambda u: (u.counts.name, u.counts.key)))


def _headline(
    facts: ActivationFacts, units: Sequence[UnitFigures], confirmed_at: Mapping[int, int]
) -> Headline:
    covered = [u.covered_after for u in units if u.covered_after is not None]
    return Headline(
        activation_id=facts.id,
        kind=facts.kind,
        title=facts.title,
        declared_at=facts.declared_at,
        totals=_count(facts.id, facts.title, facts.callups),
        needed=sum(u.needed for u in units),
        first_answer=percentiles(
            [
                c.first_answer_at - c.created_at
                for c in facts.callups
                if c.first_answer_at is not None
            ]
        ),
        confirmation=percentiles(
            [confirmed_at[c.id] - c.created_at for c in facts.callups if c.id in confirmed_at]
        ),
        units_covered=len(covered),
        units=len(units),
        all_covered_after=max(covered, default=0.0) if len(covered) == len(units) else None,
    )


def _series(key: str, name: str, needed: int, moments: Iterable[int], called_at: int) -> Series:
    points = [(0.0, 0)]
    for count, moment in enumerate(moments, start=1):
        points.append((max(0, moment - called_at) / _MINUTE_MS, count))
    return Series(key, name, needed, tuple(points))


def _not_reached(facts: ActivationFacts) -> tuple[NotReached, ...]:
    messages: dict[int, list[MessageRow]] = defaultdict(list)
    for message in facts.messages:
        messages[message.callup_id].append(message)
    rows = []
    for c in facts.callups:
        if c.state in ("confirmed", "declined"):
            continue
        rows.append(
            NotReached(
                person_id=None if c.protected else c.person_id,
                name=PROTECTED_NAME if c.protected else c.person_name,
                department=None if c.protected else c.department,
                unit_id=c.unit_id,
                unit_name=c.unit_name,
                state=c.state,
                reasons=_reasons(c, messages[c.id]),
            )
        )
    return tuple(sorted(rows, key=lambda r: (r.unit_name, r.name, r.person_id or "")))


def _reasons(callup: CallUpRow, messages: Sequence[MessageRow]) -> tuple[Reason, ...]:
    if not callup.has_sms and not callup.has_email:
        return (Reason.NO_CONTACT,)
    found = {m.refusal for m in messages if m.refusal is not None}
    if callup.opted_out:
        found.add(Reason.OPTED_OUT)
    if any(m.state in ("sent", "delivered") for m in messages):
        found.add(Reason.NO_ANSWER)
    if not found:
        found.add(Reason.NOT_SENT)
    return tuple(reason for reason in Reason if reason in found)
