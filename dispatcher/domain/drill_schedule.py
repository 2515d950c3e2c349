"""When a scheduled drill runs: a one-off time or a 5-field cron expression, in Stockholm.

Pure: the next run time is computed from `after` alone, so tests check it without a
scheduler. Cron follows the usual crontab rules: minute hour day-of-month month
day-of-week, with `*`, lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`; day-of-week 0
and 7 are Sunday (names `mon`…`sun` and `jan`…`dec` also work); when both day fields are
restricted a day matching either runs. Times are Stockholm wall-clock times: `0 9 * * *`
is 09:00 local summer and winter alike. A wall time the spring change skips (02:30 on the
last Sunday of March) does not run that day; one the autumn change repeats runs once, at
its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
_SEARCH_DAYS = 366 * 5  # `0 0 29 2 1` (29 February on a Monday) can be years away

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """A time or cron expression that cannot be used; `field` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class DueDecision(StrEnum):
    WAIT = "wait"  # not due yet
    RUN = "run"  # due, and late by no more than the grace
    MISSED = "missed"  # due longer ago than the grace: report it, do not run it


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed cron expression: the allowed values of each field."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    any_day: bool  # day-of-month was `*`
    any_weekday: bool  # day-of-week was `*`

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


def parse_cron(expression: str) -> Cron:
    """A 5-field cron expression; ScheduleError("cron", …) saying what is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            "cron", f"must have 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    minute, hour, day, month, weekday = fields
    weekdays = {d % 7 for d in _field(weekday, "weekday", 0, 7, names=_DAYS)}
    return Cron(
        " ".join(fields),
        tuple(sorted(_field(minute, "minute", 0, 59))),
        tuple(sorted(_field(hour, "hour", 0, 23))),
        frozenset(_field(day, "day", 1, 31)),
        frozenset(_field(month, "month", 1, 12, names=_MONTHS, first=1)),
        frozenset(weekdays),
        day == "*",
        weekday == "*",
    )


def _field(
    text: str, name: str, low: int, high: int, *, names: tuple[str, ...] = (), first: int = 0
) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, name, names, first) if step_text else 1
        if step < 1:
            raise ScheduleError("cron", f"{name}: step must be at least 1, got {part!r}")
        if span == "*":
            start, end = low, high
        else:
            start_text, dash, end_text = span.partition("-")
            start = _number(start_text, name, names, first)
            end = _number(end_text, name, names, first) if dash else (high if step_text else start)
        if not low <= start <= end <= high:
            raise ScheduleError("cron", f"{name}: {part!r} is outside {low}–{high}")
        values.update(range(start, end + 1, step))
    return values


def _number(text: str, name: str, names: tuple[str, ...], first: int) -> int:
    if text.lower() in names:
        return names.index(text.lower()) + first
    if not text.isdigit():
        raise ScheduleError("cron", f"{name}: not a number: {text!r}")
    return int(text)


def parse_at(text: str) -> datetime:
    """An ISO 8601 date-time as UTC; one without an offset is a Stockholm wall time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(
            "at", f"must be an ISO 8601 date and time, e.g. 2026-03-02T09:00, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ScheduleError("at", f"is out of range: {text!r}") from None


def next_cron_time(cron: Cron, after: datetime) -> datetime:
    """The first run strictly after `after` (aware), as UTC."""
    local_after = after.astimezone(STOCKHOLM)
    day = local_after.date()
    for _ in range(_SEARCH_DAYS):
        if cron.runs_on(day):
            for hour in cron.hours:
                for minute in cron.minutes:
                    moment = _wall_time(day, time(hour, minute))
                    if moment is not None and moment > after:
                        return moment
        day += timedelta(days=1)
    raise ScheduleError("cron", f"{cron.expression!r} never runs in the next five years")


def _wall_time(day: date, clock_time: time) -> datetime | None:
    """The UTC instant of a Stockholm wall time; None if the clocks skip it."""
    local = datetime.combine(day, clock_time, tzinfo=STOCKHOLM)  # fold=0: the first of two
    instant = local.astimezone(UTC)
    if instant.astimezone(STOCKHOLM).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def due_decision(due_at: datetime, now: datetime, grace: timedelta) -> DueDecision:
    """Whether a drill due at `due_at` runs at `now`: not yet, now, or too late (missed)."""
    if now < due_at:
        return DueDecision.WAIT
    return DueDecision.RUN if now - due_at <= grace else DueDecision.MISSED


def stockholm_text(moment: datetime) -> str:
    """A time as people here read it: `2026-03-30 09:00` (Stockholm)."""
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
