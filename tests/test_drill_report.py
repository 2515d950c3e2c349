"""The drill report from hand-built rows: every figure, the edge cases, the percentile method
against an independent calculation, and the JSON and CSV shapes."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from typing import Any

import pytest

from dispatcher import activation_views
from dispatcher.clock import to_millis
from dispatcher.domain.drill_report import (
    PROTECTED_GROUP,
    PROTECTED_NAME,
    ActivationFacts,
    AnswerRow,
    CallUpRow,
    DrillReport,
    MessageRow,
    Reason,
    UnitRow,
    build_report,
    nearest_rank,
    same_scope,
)
from dispatcher.report_views import CSV_COLUMNS, report_csv, report_json
from dispatcher.store.drill_report import refusal
from tests.conftest import START

T0 = to_millis(START)
MIN = 60_000
NAMES = {"U1": "Solgården", "U2": "Ekbacken", "U3": "Tallen"}


def at(minutes: float) -> int:
    return T0 + int(minutes * MIN)


def callup(
    n: int,
    unit: str,
    state: str,
    *,
    department: str = "Ekonomi",
    protected: bool = False,
    called: float = 0,
    first: float | None = None,
    last: float | None = None,
    sms: bool = True,
    email: bool = False,
    opted_out: bool = False,
) -> CallUpRow:
    return CallUpRow(
        id=n,
        person_id=f"P{n}",
        person_name=f"Hemlig Namn {n}" if protected else f"Person {n}",
        department=department,
        protected=protected,
        unit_id=unit,
        unit_name=NAMES[unit],
        state=state,
        created_at=at(called),
        first_answer_at=None if first is None else at(first),
        answered_at=None if last is None else at(last),
        has_sms=sms,
        has_email=email,
        opted_out=opted_out,
    )


def facts(
    callups: tuple[CallUpRow, ...] = (),
    answers: tuple[AnswerRow, ...] = (),
    messages: tuple[MessageRow, ...] = (),
    *,
    units: tuple[UnitRow, ...] = (UnitRow("U1", "Solgården", 2), UnitRow("U2", "Ekbacken", 1)),
    id: str = "A1",
    declared: float = 0,
) -> ActivationFacts:
    return ActivationFacts(
        id=id,
        kind="drill",
        title="Vinterövning",
        state="stood_down",
        scope={"areas": ["Norr"]},
        declared_at=at(declared),
        stood_down_at=at(declared + 60),
        units=units,
        callups=callups,
        answers=answers,
        messages=messages,
    )


# Ten people in two units and a third unit that needs nobody:
# P1 yes at 3; P2 no at 5; P3 no at 2, yes at 10 (confirmed from 10); P4 silent (SMS delivered);
# P5 protected, no contact at all; P6 yes at 7 and yes again at 9 (an ETA, confirmed from 7);
# P7 SMS refused, e-mail sent, silent; P8 opted out, e-mail bounced; P9 a reserve called at
# 20 who says yes at 26; P10 an SMS the channel gave up on.
MIXED = facts(
    (
        callup(1, "U1", "confirmed", first=3, last=3),
        callup(2, "U1", "declined", department="Vård", first=5, last=5),
        callup(3, "U1", "confirmed", first=2, last=10),
        callup(4, "U1", "no_answer", department="Vård"),
        callup(5, "U2", "failed", protected=True, sms=False, department="Hemlig avdelning"),
        callup(6, "U2", "confirmed", department="Vård", first=7, last=9),
        callup(7, "U2", "awaiting", email=True),
        callup(8, "U2", "failed", email=True, opted_out=True),
        callup(9, "U1", "confirmed", called=20, first=26, last=26),
        callup(10, "U2", "failed"),
    ),
    (
        AnswerRow(1, "yes", at(3)),
        AnswerRow(2, "no", at(5)),
        AnswerRow(3, "no", at(2)),
        AnswerRow(3, "yes", at(10)),
        AnswerRow(6, "yes", at(7)),
        AnswerRow(6, "yes", at(9)),
        AnswerRow(9, "yes", at(26)),
    ),
    (
        MessageRow(4, "sms", "delivered"),
        MessageRow(7, "sms", "failed_permanent", Reason.INVALID_NUMBER),
        MessageRow(7, "email", "sent"),
        MessageRow(8, "email", "failed_permanent", Reason.BOUNCED_EMAIL),
        MessageRow(10, "sms", "failed_permanent"),
    ),
    units=(UnitRow("U1", "Solgården", 2), UnitRow("U2", "Ekbacken", 1), UnitRow("U3", "Tallen", 0)),
)


@pytest.fixture
def mixed() -> DrillReport:
    return build_report(MIXED, now=at(90))


def counts(row: Any) -> tuple[int, ...]:
    return (row.called, row.answered, row.confirmed, row.declined, row.no_answer, row.failed)


def test_totals_and_response_rate(mixed: DrillReport) -> None:
    h = mixed.headline
    assert counts(h.totals) == (10, 5, 4, 1, 2, 3)
    assert h.totals.response_rate == 0.5
    assert h.needed == 3


@pytest.mark.parametrize(
    ("figure", "expected"),
    [
        # first answers after 3, 5, 2, 7 and 6 (the reserve: 26 − 20) minutes
        ("first_answer", (5, 5.0, 7.0, 7.0)),
        # confirmed after 3, 10 (the yes after a no), 7 (not the later ETA) and 6 minutes
        ("confirmation", (4, 6.0, 10.0, 10.0)),
    ],
)
def test_time_percentiles(
    mixed: DrillReport, figure: str, expected: tuple[int, float, float, float]
) -> None:
    p = getattr(mixed.headline, figure)
    assert (p.count, p.p50, p.p90, p.max) == expected


@pytest.mark.parametrize(
    ("unit_id", "needed", "expected_counts", "rate", "covered_after"),
    [
        ("U1", 2, (5, 4, 3, 1, 1, 0), 0.8, 10.0),  # the second yes (P3's) at 10
        ("U2", 1, (5, 1, 1, 0, 1, 3), 0.2, 7.0),
        ("U3", 0, (0, 0, 0, 0, 0, 0), None, 0.0),  # needs nobody: covered at once
    ],
)
def test_per_unit(
    mixed: DrillReport,
    unit_id: str,
    needed: int,
    expected_counts: tuple[int, ...],
    rate: float | None,
    covered_after: float,
) -> None:
    unit = {u.counts.key: u for u in mixed.units}[unit_id]
    assert unit.needed == needed
    assert counts(unit.counts) == expected_counts
    assert unit.counts.response_rate == rate
    assert unit.covered_after == covered_after
    assert (mixed.headline.units_covered, mixed.headline.units) == (3, 3)
    assert mixed.headline.all_covered_after == 10.0


def test_per_department_keeps_protected_people_apart(mixed: DrillReport) -> None:
    by_name = {d.name: counts(d) for d in mixed.departments}
    assert by_name == {
        "Ekonomi": (6, 3, 3, 0, 1, 2),
        "Vård": (3, 2, 1, 1, 1, 0),
        PROTECTED_GROUP: (1, 0, 0, 0, 0, 1),  # not "Hemlig avdelning"
    }
    assert mixed.departments[-1].name == PROTECTED_GROUP


def test_not_reached_and_why(mixed: DrillReport) -> None:
    listed = {p.person_id: (p.unit_id, p.state, p.reasons) for p in mixed.not_reached}
    assert listed == {
        "P4": ("U1", "no_answer", (Reason.NO_ANSWER,)),
        None: ("U2", "failed", (Reason.NO_CONTACT,)),
        "P7": ("U2", "awaiting", (Reason.INVALID_NUMBER, Reason.NO_ANSWER)),
        "P8": ("U2", "failed", (Reason.OPTED_OUT, Reason.BOUNCED_EMAIL)),
        "P10": ("U2", "failed", (Reason.NOT_SENT,)),
    }
    protected = next(p for p in mixed.not_reached if p.person_id is None)
    assert (protected.name, protected.department) == (PROTECTED_NAME, None)


def test_cumulative_confirmations(mixed: DrillReport) -> None:
    assert mixed.total_series.points == ((0.0, 0), (3.0, 1), (7.0, 2), (10.0, 3), (26.0, 4))
    by_unit = {s.key: s.points for s in mixed.unit_series}
    assert by_unit == {
        "U1": ((0.0, 0), (3.0, 1), (10.0, 2), (26.0, 3)),
        "U2": ((0.0, 0), (7.0, 1)),
        "U3": ((0.0, 0),),
    }
    assert mixed.called_at == T0
    assert mixed.span == 60  # until the stand-down


def test_nobody_answered() -> None:
    silent = facts(
        tuple(callup(n, "U1", "no_answer") for n in (1, 2, 3)),
        messages=tuple(MessageRow(n, "sms", "delivered") for n in (1, 2, 3)),
    )
    report = build_report(silent, now=at(90))
    h = report.headline
    assert counts(h.totals) == (3, 0, 0, 0, 3, 0)
    assert h.totals.response_rate == 0.0
    assert (h.first_answer.count, h.first_answer.p50, h.first_answer.max) == (0, None, None)
    assert (h.confirmation.count, h.confirmation.p90) == (0, None)
    assert {u.counts.key: u.covered_after for u in report.units} == {"U1": None, "U2": None}
    assert h.all_covered_after is None and h.units_covered == 0
    assert report.total_series.points == ((0.0, 0),)
    assert {p.reasons for p in report.not_reached} == {(Reason.NO_ANSWER,)}


def test_everyone_failed() -> None:
    failed = facts(
        (
            callup(1, "U1", "failed", sms=False),
            callup(2, "U1", "failed", opted_out=True),
            callup(3, "U2", "failed", email=True),
        ),
        messages=(
            MessageRow(3, "sms", "failed_permanent", Reason.INVALID_NUMBER),
            MessageRow(3, "email", "failed_permanent", Reason.BOUNCED_EMAIL),
        ),
    )
    report = build_report(failed, now=at(90))
    assert counts(report.headline.totals) == (3, 0, 0, 0, 0, 3)
    assert [p.reasons for p in report.not_reached] == [
        (Reason.INVALID_NUMBER, Reason.BOUNCED_EMAIL),
        (Reason.NO_CONTACT,),
        (Reason.OPTED_OUT,),
    ]


def test_nobody_called_and_an_open_activation() -> None:
    empty = facts(units=(UnitRow("U3", "Tallen", 0),), declared=5)
    report = build_report(empty, now=at(30))
    assert report.headline.totals.response_rate is None
    assert report.called_at == at(5)  # no call-ups: the declaration
    assert report.units[0].covered_after == 0.0 and report.headline.all_covered_after == 0.0
    open_one = dataclasses.replace(empty, state="active", stood_down_at=None)
    assert build_report(open_one, now=at(30)).span == 25  # until now


def test_a_call_up_to_a_unit_not_listed_still_counts() -> None:
    report = build_report(
        facts((callup(1, "U3", "confirmed", first=4, last=4),), (AnswerRow(1, "yes", at(4)),)),
        now=at(60),
    )
    tallen = {u.counts.key: u for u in report.units}["U3"]
    assert (tallen.needed, tallen.counts.confirmed, tallen.covered_after) == (0, 1, 0.0)


def test_trend_lists_the_earlier_ones_oldest_first() -> None:
    first = facts((callup(1, "U1", "confirmed", first=4, last=4),), id="A0", declared=-2000)
    second = facts((callup(2, "U1", "declined", first=1, last=1),), id="A1", declared=-1000)
    report = build_report(MIXED, [first, second], now=at(90))
    assert [t.activation_id for t in report.trend] == ["A0", "A1", "A1"]
    assert [t.totals.response_rate for t in report.trend] == [1.0, 1.0, 0.5]
    assert report.trend[0].confirmation.p50 == 4.0
    assert report.trend[-1] == report.headline


def test_same_scope_ignores_order_and_empty_lists() -> None:
    assert same_scope({"areas": ["Norr", "Söder"], "units": []}, {"areas": ["Söder", "Norr"]})
    assert not same_scope({"areas": ["Norr"]}, {"areas": ["Norr"], "units": ["U1"]})
    assert same_scope({}, {"areas": [], "units": [], "services": []})


# --- percentiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 25, 7),
        ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 50, 8),
        ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 90, 16),
        ([7], 90, 7),
        ([], 50, None),
    ],
)
def test_nearest_rank_by_hand(values: list[int], percent: float, expected: int | None) -> None:
    assert nearest_rank(values, percent) == expected


def independent_percentile(values: list[int], percent: int) -> int:
    """The smallest value with at least `percent` % of the values at or below it."""
    return min(v for v in values if 100 * sum(1 for x in values if x <= v) >= percent * len(values))


def test_nearest_rank_matches_its_definition() -> None:
    rng = random.Random(20260302)
    for _ in range(300):
        values = [rng.randint(0, 3_600_000) for _ in range(rng.randint(1, 40))]
        for percent in (0, 1, 10, 25, 50, 75, 90, 95, 99, 100):
            assert nearest_rank(values, percent) == independent_percentile(values, percent)


def test_nearest_rank_refuses_a_percent_out_of_range() -> None:
    with pytest.raises(ValueError, match="0–100"):
        nearest_rank([1], 101)


# --- what a provider's refusal means ----------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "state", "code", "expected"),
    [
        ("sms", "failed_permanent", "21211", Reason.INVALID_NUMBER),
        ("sms", "failed_permanent", "30006", Reason.INVALID_NUMBER),
        ("sms", "failed_permanent", "21610", Reason.OPTED_OUT),
        ("sms", "failed_permanent", "30003", None),  # gave up on a handset that was off
        ("sms", "failed_temporary", "21211", None),
        ("sms", "delivered", None, None),
        ("email", "failed_permanent", "550", Reason.BOUNCED_EMAIL),
        ("email", "failed_permanent", "451", None),
        ("email", "failed_permanent", "connection", None),
    ],
)
def test_refusal(channel: str, state: str, code: str | None, expected: Reason | None) -> None:
    assert refusal(channel, state, code) is expected


def test_protected_name_is_the_one_the_call_up_list_uses() -> None:
    assert PROTECTED_NAME == activation_views.PROTECTED_NAME


# --- JSON and CSV --------------------------------------------------------------------------


def test_json_shape(mixed: DrillReport) -> None:
    body = report_json(mixed, generated_at=at(90))
    assert body["activation"]["kind"] == "drill"
    assert body["totals"] == {
        "needed": 3,
        "called": 10,
        "answered": 5,
        "confirmed": 4,
        "declined": 1,
        "no_answer": 2,
        "failed": 3,
        "response_rate": 0.5,
    }
    assert body["first_answer_minutes"] == {"count": 5, "p50": 5.0, "p90": 7.0, "max": 7.0}
    assert body["method"]["percentiles"] == "nearest-rank"
    assert [u["covered_after_minutes"] for u in body["units"]] == [7.0, 10.0, 0.0]
    assert body["not_reached"]["by_reason"] == {
        "no_contact": 1,
        "opted_out": 1,
        "invalid_number": 1,
        "bounced_email": 1,
        "not_sent": 1,
        "no_answer": 2,
    }
    assert body["trend"][-1]["current"] is True
    assert body["chart"] == "/api/activations/A1/report/chart.svg"
    assert "Hemlig" not in str(body)


def test_csv_is_one_table_with_a_section_column(mixed: DrillReport) -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(mixed))))
    assert tuple(rows[0]) == CSV_COLUMNS
    sections = [r["section"] for r in rows]
    assert sections == ["total"] + ["unit"] * 3 + ["department"] * 3 + ["not_reached"] * 5 + [
        "trend"
    ]
    total = rows[0]
    assert (total["called"], total["response_rate"], total["confirmation_p90"]) == (
        "10",
        "0.5",
        "10.0",
    )
    never = build_report(facts((callup(1, "U1", "no_answer"),)), now=at(60))
    unit_rows = [
        r for r in csv.DictReader(io.StringIO(report_csv(never))) if r["section"] == "unit"
    ]
    assert {r["id"]: r["covered_after_minutes"] for r in unit_rows} == {
        "U1": "never",
        "U2": "never",
    }
    assert "Hemlig" not in report_csv(mixed)
