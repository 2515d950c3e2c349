"""When scheduled drills run: cron and one-off times in Stockholm, and the missed rule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.domain.drill_schedule import (
    DueDecision,
    ScheduleError,
    due_decision,
    next_cron_time,
    parse_at,
    parse_cron,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(expression: str, after: str, count: int) -> list[str]:
    cron = parse_cron(expression)
    moment = utc(after)
    found = []
    for _ in range(count):
        moment = next_cron_time(cron, moment)
        found.append(moment.strftime("%Y-%m-%dT%H:%MZ"))
    return found


def test_nine_every_morning_is_nine_in_stockholm_across_the_spring_change() -> None:
    # Summer time starts on Sunday 29 March 2026: 09:00 local is 08:00Z before, 07:00Z after.
    assert runs("0 9 * * *", "2026-03-27T12:00", 4) == [
        "2026-03-28T08:00Z",
        "2026-03-29T07:00Z",
        "2026-03-30T07:00Z",
        "2026-03-31T07:00Z",
    ]


def test_nine_every_morning_is_nine_in_stockholm_across_the_autumn_change() -> None:
    # Summer time ends on Sunday 25 October 2026.
    assert runs("0 9 * * *", "2026-10-23T12:00", 3) == [
        "2026-10-24T07:00Z",
        "2026-10-25T08:00Z",
        "2026-10-26T08:00Z",
    ]


def test_a_wall_time_the_spring_change_skips_does_not_run_that_day() -> None:
    assert runs("30 2 * * *", "2026-03-28T12:00", 2) == ["2026-03-30T00:30Z", "2026-03-31T00:30Z"]


def test_a_wall_time_the_autumn_change_repeats_runs_once() -> None:
    assert runs("30 2 * * *", "2026-10-24T12:00", 2) == ["2026-10-25T00:30Z", "2026-10-26T01:30Z"]


def test_mondays_at_nine_and_the_next_is_strictly_after() -> None:
    # 2026-03-02 is a Monday; at exactly its run time the next is a week later.
    assert runs("0 9 * * 1", "2026-03-02T08:00", 2) == ["2026-03-09T08:00Z", "2026-03-16T08:00Z"]
    assert runs("0 9 * * mon", "2026-03-01T00:00", 1) == ["2026-03-02T08:00Z"]


def test_sunday_is_0_and_7_and_day_fields_match_either() -> None:
    assert runs("0 12 * * 7", "2026-03-02T00:00", 1) == runs("0 12 * * 0", "2026-03-02T00:00", 1)
    # 1st of the month or a Friday (standard cron): Friday 6 March comes before 1 April.
    assert runs("0 12 1 * 5", "2026-03-02T00:00", 2) == ["2026-03-06T11:00Z", "2026-03-13T11:00Z"]


def test_steps_ranges_and_lists() -> None:
    assert runs("*/20 8-9 * * *", "2026-01-05T06:50", 4) == [
        "2026-01-05T07:00Z",
        "2026-01-05T07:20Z",
        "2026-01-05T07:40Z",
        "2026-01-05T08:00Z",
    ]
    assert runs("0 9 1,15 jan *", "2026-01-02T00:00", 2) == [
        "2026-01-15T08:00Z",
        "2027-01-01T08:00Z",
    ]


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("0 9 * *", "must have 5 fields"),
        ("60 9 * * *", "minute: '60' is outside 0–59"),
        ("0 9 * * x", "weekday: not a number"),
        ("*/0 9 * * *", "step must be at least 1"),
        ("0 9 31 2 *", "never runs"),
    ],
)
def test_bad_cron_names_what_is_wrong(expression: str, says: str) -> None:
    cron = None
    with pytest.raises(ScheduleError, match=says) as raised:
        cron = parse_cron(expression)
        next_cron_time(cron, utc("2026-01-01T00:00"))
    assert raised.value.field == "cron"


def test_a_one_off_without_an_offset_is_a_stockholm_wall_time() -> None:
    assert parse_at("2026-03-30T09:00") == utc("2026-03-30T07:00")  # summer time
    assert parse_at("2026-03-27T09:00") == utc("2026-03-27T08:00")  # winter time
    assert parse_at("2026-03-30T09:00+00:00") == utc("2026-03-30T09:00")
    with pytest.raises(ScheduleError, match="ISO 8601") as raised:
        parse_at("next monday")
    assert raised.value.field == "at"


def test_due_within_the_grace_runs_and_later_is_missed() -> None:
    due, grace = utc("2026-03-02T08:00"), timedelta(minutes=30)
    assert due_decision(due, due - timedelta(seconds=1), grace) is DueDecision.WAIT
    assert due_decision(due, due, grace) is DueDecision.RUN
    assert due_decision(due, due + grace, grace) is DueDecision.RUN
    assert due_decision(due, due + grace + timedelta(seconds=1), grace) is DueDecision.MISSED
