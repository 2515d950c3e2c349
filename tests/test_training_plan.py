"""The training plan: weeks normalised to Mondays, who needs a week this term across term
boundaries, grouping by host unit, capacity arithmetic and masking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from dispatcher.domain.readiness import (
    PROTECTED_LABEL,
    PersonEntry,
    assess_readiness,
    readiness_to_dict,
)
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import parse_term
from dispatcher.domain.training_plan import (
    HostUnitPlan,
    NeedKind,
    Trainee,
    TrainingPlan,
    day_in_term,
    monday_of,
    plan_training,
    training_plan_to_dict,
    training_week,
    weeks_left,
)


def unit(unit_id: str, *, capacity: int = 2, area: str = "Norr", name: str | None = None) -> Unit:
    return Unit(unit_id, name or f"Enhet {unit_id}", "förskola", area, "Ekvägen 1", None, capacity)


def person(
    person_id: str,
    placement: str | None = "U1",
    *,
    name: str | None = None,
    protected: bool = False,
) -> Person:
    return Person(
        person_id=person_id,
        name=name or f"Person {person_id}",
        phone="+46701234567",
        phone_kind=PhoneKind.MOBILE,
        email=f"{person_id.lower()}@exempelkommun.se",
        role=Role.ADMIN,
        pay_pct=100.0,
        department="IT",
        placement=placement,
        reserve_placement=None,
        protected=protected,
    )


def week(person_id: str, unit_id: str, day: date) -> TrainingWeek:
    return training_week(person_id, unit_id, day)


def roster(
    people: Sequence[Person], weeks: Sequence[TrainingWeek] = (), units: Sequence[Unit] = ()
) -> Roster:
    return Roster(units=tuple(units) or (unit("U1"),), people=tuple(people), training=tuple(weeks))


def needs(plan: TrainingPlan) -> dict[str, tuple[NeedKind, str | None]]:
    """person_id → (need, last trained) over every unit of the plan."""
    return {
        t.person.person_id or "": (t.need, str(t.last_trained) if t.last_trained else None)
        for u in plan.units
        for t in u.trainees
    }


# --- weeks and terms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "monday", "term"),
    [
        (date(2026, 3, 2), date(2026, 3, 2), "VT2026"),  # a Monday stays
        (date(2026, 3, 4), date(2026, 3, 2), "VT2026"),  # Wednesday
        (date(2026, 3, 8), date(2026, 3, 2), "VT2026"),  # Sunday ends the week
        (date(2026, 6, 30), date(2026, 6, 29), "VT2026"),
        (date(2026, 7, 1), date(2026, 6, 29), "VT2026"),  # the week began in June
        (date(2026, 7, 6), date(2026, 7, 6), "HT2026"),  # the first Monday in July
        (date(2026, 12, 31), date(2026, 12, 28), "HT2026"),
        (date(2027, 1, 1), date(2026, 12, 28), "HT2026"),  # the Monday's term, not the day's
        (date(2027, 1, 4), date(2027, 1, 4), "VT2027"),
        (date(2024, 2, 29), date(2024, 2, 26), "VT2024"),  # a leap day
    ],
)
def test_a_week_is_stored_by_its_monday_and_takes_the_mondays_term(
    given: date, monday: date, term: str
) -> None:
    recorded = training_week("E1", "U1", given)
    assert recorded == TrainingWeek("E1", "U1", parse_term(term), monday)
    assert monday_of(given) == monday
    assert monday.weekday() == 0


@pytest.mark.parametrize(
    ("today", "left"),
    [
        (date(2026, 6, 29), 1),  # the term's last Monday is today
        (date(2026, 6, 30), 0),  # no Monday left in VT2026
        (date(2026, 7, 1), 26),  # Mondays 6 July … 28 December
        (date(2026, 12, 28), 1),
        (date(2026, 12, 31), 0),
        (date(2027, 1, 1), 26),  # Mondays 4 January … 28 June 2027
    ],
)
def test_weeks_left_counts_the_mondays_from_today_to_the_end_of_the_term(
    today: date, left: int
) -> None:
    assert weeks_left(today) == left


@pytest.mark.parametrize(
    ("term", "today", "expected"),
    [
        ("HT2026", date(2026, 9, 14), date(2026, 9, 14)),  # the current term: today
        ("VT2026", date(2026, 9, 14), date(2026, 6, 30)),  # another: its last day
        ("HT2027", date(2026, 9, 14), date(2027, 12, 31)),
    ],
)
def test_day_in_term(term: str, today: date, expected: date) -> None:
    assert day_in_term(parse_term(term), today) == expected


# --- who needs a week this term ---------------------------------------------------------

NONE = None
VT26, HT26, VT27 = date(2026, 3, 2), date(2026, 9, 14), date(2027, 3, 1)
HT25 = date(2025, 9, 8)


@pytest.mark.parametrize(
    ("trained", "today", "valid_terms", "expected"),
    [
        # valid_terms 2 (one week a term, a term of grace), across Dec 31 → Jan 1
        ((HT26,), date(2026, 12, 31), 2, NONE),  # trained this term
        ((HT26,), date(2027, 1, 1), 2, (NeedKind.DUE, "HT2026")),  # now last term's week
        ((VT26,), date(2026, 12, 31), 2, (NeedKind.DUE, "VT2026")),
        ((VT26,), date(2027, 1, 1), 2, (NeedKind.LAPSED, "VT2026")),
        ((), date(2026, 12, 31), 2, (NeedKind.LAPSED, None)),
        ((), date(2027, 1, 1), 2, (NeedKind.LAPSED, None)),
        # … and across Jun 30 → Jul 1
        ((VT26,), date(2026, 6, 30), 2, NONE),
        ((VT26,), date(2026, 7, 1), 2, (NeedKind.DUE, "VT2026")),
        ((HT25,), date(2026, 6, 30), 2, (NeedKind.DUE, "HT2025")),
        ((HT25,), date(2026, 7, 1), 2, (NeedKind.LAPSED, "HT2025")),
        # a week booked next term keeps a due person trained: nothing needed now
        ((HT26, VT27), date(2027, 1, 1), 2, NONE),
        ((VT26, VT27), date(2026, 12, 31), 2, NONE),
        # … but a lapsed person is untrained this term until they train this term
        ((VT27,), date(2026, 12, 31), 2, (NeedKind.LAPSED, None)),
        # a week booked later this term already counts
        ((date(2026, 12, 14),), date(2026, 9, 1), 2, NONE),
        # valid_terms 1: a week counts only in its own term; nobody is ever "due"
        ((HT26,), date(2026, 12, 31), 1, NONE),
        ((HT26,), date(2027, 1, 1), 1, (NeedKind.LAPSED, "HT2026")),
        # valid_terms 3: last term's week still counts next term
        ((VT26,), date(2026, 12, 31), 3, NONE),
        ((HT25,), date(2026, 12, 31), 3, (NeedKind.DUE, "HT2025")),
        ((date(2025, 3, 3),), date(2026, 12, 31), 3, (NeedKind.LAPSED, "VT2025")),
    ],
)
def test_who_needs_a_week_this_term(
    trained: tuple[date, ...],
    today: date,
    valid_terms: int,
    expected: tuple[NeedKind, str | None] | None,
) -> None:
    plan = plan_training(
        roster([person("E1")], [week("E1", "U1", day) for day in trained]), today, valid_terms
    )
    assert needs(plan).get("E1") == expected
    assert str(plan.term) == ("VT" if today.month <= 6 else "HT") + str(today.year)


def test_only_weeks_at_the_placement_count() -> None:
    units = (unit("U1"), unit("U2"))
    people = [person("E1", "U1"), person("E2", "U1")]
    weeks = [week("E1", "U2", HT26), week("E2", "U1", HT26), week("E2", "U2", VT26)]
    plan = plan_training(roster(people, weeks, units), date(2026, 10, 1), 2)
    assert needs(plan) == {"E1": (NeedKind.LAPSED, None)}


def test_people_without_a_placement_are_not_planned() -> None:
    plan = plan_training(roster([person("E1", None)]), date(2026, 10, 1), 2)
    assert plan.units == ()
    assert plan.people == 0


def test_grouped_by_host_unit_in_order_with_lapsed_first_then_by_name() -> None:
    units = (unit("U1", area="Söder"), unit("U2", area="Norr"), unit("U3", area="Öster"))
    people = [
        person("E1", "U1", name="Örjan Berg"),
        person("E2", "U1", name="Anna Ek"),
        person("E3", "U1", name="Bo Al"),
        person("E4", "U2"),
        person("E5", "U3"),
    ]
    weeks = [week("E3", "U1", VT26), week("E5", "U3", HT26)]
    plan = plan_training(roster(people, weeks, units), date(2026, 10, 1), 2)
    assert [u.unit_id for u in plan.units] == ["U2", "U1"]  # Norr before Söder; U3 is done
    host = plan.units[1]
    assert [t.person.name for t in host.trainees] == ["Anna Ek", "Örjan Berg", "Bo Al"]
    assert [t.need for t in host.trainees] == [NeedKind.LAPSED, NeedKind.LAPSED, NeedKind.DUE]
    assert (plan.people, plan.count(NeedKind.LAPSED), plan.count(NeedKind.DUE)) == (4, 3, 1)


def test_protected_people_are_named_skyddad_person_with_their_unit() -> None:
    people = [person("E1", name="Hemlig Hemlund", protected=True), person("E2", name="Bo Ek")]
    plan = plan_training(roster(people), date(2026, 10, 1), 2)
    entries = [t.person for t in plan.units[0].trainees]
    email = "e2@exempelkommun.se"
    assert entries[0] == PersonEntry("E2", "Bo Ek", "+46701234567", email, "U1", "Enhet U1", False)
    assert entries[1] == PersonEntry(None, PROTECTED_LABEL, None, None, "U1", "Enhet U1", True)
    data = training_plan_to_dict(plan)
    assert "Hemlig" not in str(data) and "E1" not in str(data)
    assert data["units"][0]["trainees"][1]["name"] == PROTECTED_LABEL


# --- capacity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "capacity", "weeks"),
    [(1, 2, 1), (2, 2, 1), (3, 2, 2), (4, 2, 2), (5, 3, 2), (6, 3, 2), (7, 3, 3), (7, 1, 7)],
)
def test_weeks_needed_is_people_divided_by_capacity_rounded_up(
    people: int, capacity: int, weeks: int
) -> None:
    units = (unit("U1", capacity=capacity),)
    plan = plan_training(
        roster([person(f"E{i}") for i in range(people)], units=units), date(2026, 10, 1), 2
    )
    (host,) = plan.units
    assert (host.people, host.capacity, host.weeks_needed) == (people, capacity, weeks)


def test_a_unit_that_hosts_nobody_needs_no_weeks_and_never_fits() -> None:
    plan = plan_training(
        roster([person("E1")], units=(unit("U1", capacity=0),)), date(2026, 10, 1), 2
    )
    (host,) = plan.units
    assert host.weeks_needed is None
    assert not plan.fits(host)
    assert training_plan_to_dict(plan)["units"][0]["weeks_needed"] is None


def test_fits_compares_the_weeks_needed_with_the_weeks_left() -> None:
    trainee = Trainee(PersonEntry("E", "E", None, None, "U1", "U", False), NeedKind.LAPSED, None)
    host = HostUnitPlan("U1", "U", "förskola", "Norr", 1, (trainee, trainee, trainee))
    late = TrainingPlan(date(2026, 12, 14), parse_term("HT2026"), 2, 3, (host,))
    later = TrainingPlan(date(2026, 12, 21), parse_term("HT2026"), 2, 2, (host,))
    assert late.fits(host)
    assert not later.fits(host)
    assert training_plan_to_dict(later)["totals"]["units_not_fitting"] == 1


def test_dict_shape() -> None:
    units = (unit("U1", capacity=2),)
    people = [person("E1"), person("E2"), person("E3")]
    plan = plan_training(roster(people, [week("E3", "U1", VT26)], units), date(2026, 12, 14), 2)
    assert training_plan_to_dict(plan) == {
        "today": "2026-12-14",
        "term": "HT2026",
        "term_ends": "2026-12-31",
        "valid_terms": 2,
        "weeks_left": 3,
        "totals": {"people": 3, "lapsed": 2, "due": 1, "units": 1, "units_not_fitting": 0},
        "units": [
            {
                "unit_id": "U1",
                "name": "Enhet U1",
                "service": "förskola",
                "area": "Norr",
                "capacity": 2,
                "people": 3,
                "weeks_needed": 2,
                "fits": True,
                "trainees": [
                    {
                        "person_id": pid,
                        "name": f"Person {pid}",
                        "protected": False,
                        "phone": "+46701234567",
                        "email": f"{pid.lower()}@exempelkommun.se",
                        "need": need,
                        "last_trained": last,
                    }
                    for pid, need, last in (
                        ("E1", "lapsed", None),
                        ("E2", "lapsed", None),
                        ("E3", "due", "VT2026"),
                    )
                ],
            }
        ],
    }


def test_valid_terms_must_be_positive() -> None:
    with pytest.raises(ValueError, match="valid_terms"):
        plan_training(roster([]), date(2026, 10, 1), 0)


def test_readiness_json_ends_its_terms_with_the_term_assessed() -> None:
    for today, term in ((date(2026, 6, 30), "VT2026"), (date(2026, 7, 1), "HT2026")):
        report = assess_readiness(roster([person("E1")]), today=today, valid_terms=2)
        assert readiness_to_dict(report)["terms"][-1] == term
