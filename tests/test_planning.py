"""Planning call-ups: scope matching, snapshots, channels, reserves, send time, reply codes."""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime

import pytest

from dispatcher.domain.planning import (
    REPLY_CODE_COUNT,
    Channel,
    PlacementKind,
    PlannedCallUp,
    Scope,
    estimate_send_seconds,
    is_reply_code,
    plan_callups,
    plan_reserve_callups,
    reply_code_for,
    validate_scope,
)
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import term_of

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", 3),
    Unit("U2", "Björkängen", "äldreomsorg", "Söder", "Björkvägen 2", None),
    Unit("U3", "Ekbackens skola", "grundskola", "Norr", "Ekgatan 3", 2),
    Unit("U4", "Lindens förskola", "förskola", "Söder", "Lindgränd 4", 1),
    Unit("U5", "Tallåsens kök", "kök", "Väster", "Tallstigen 5", 1),  # nobody placed here
)


def person(
    person_id: str,
    placement: str | None,
    *,
    reserve: str | None = None,
    mobile: bool = True,
    email: bool = True,
    fixed_line: bool = False,
    protected: bool = False,
) -> Person:
    number = f"+4670000{person_id[1:].zfill(4)}"
    return Person(
        person_id=person_id,
        name=f"Person {person_id}",
        phone=number if mobile else ("+4681234567" if fixed_line else None),
        phone_kind=PhoneKind.MOBILE
        if mobile
        else (PhoneKind.FIXED_LINE if fixed_line else PhoneKind.NONE),
        email=f"{person_id.lower()}@exempelkommun.se" if email else None,
        role=Role.ADMIN,
        pay_pct=100.0,
        department="Ekonomi",
        placement=placement,
        reserve_placement=reserve,
        protected=protected,
    )


def week(person_id: str, unit_id: str, day: date) -> TrainingWeek:
    return TrainingWeek(person_id, unit_id, term_of(day), day)


PEOPLE = (
    person("P01", "U1"),
    person("P02", "U1", mobile=False),  # e-mail only
    person("P03", "U1", mobile=False, email=False, fixed_line=True),  # unreachable
    person("P04", "U2", email=False),  # SMS only
    person("P05", "U3", reserve="U1"),
    person("P06", None, reserve="U1"),  # reserve only: not called at declaration
    person("P07", "U4", protected=True),
    person("P08", None),  # no placement at all
    person("P09", None),
    person("P10", None),
    person("P11", None, mobile=False, email=False),
    person("P12", "U9"),  # placed at a unit that does not exist
    person("P13", None),
)
TRAINING = (
    week("P09", "U1", date(2025, 9, 8)),
    week("P10", "U1", date(2026, 2, 9)),
    week("P10", "U1", date(2025, 2, 10)),  # an older week too: the latest counts
    week("P06", "U1", date(2026, 2, 16)),  # trained, but listed first as a reserve
    week("P11", "U1", date(2026, 2, 16)),  # trained, but unreachable
    week("P13", "U1", date(2025, 9, 8)),  # same week as P09: person id breaks the tie
    week("P08", "U2", date(2026, 2, 16)),  # trained elsewhere
)
ROSTER = Roster(units=UNITS, people=PEOPLE, training=TRAINING)
DECOMPOSED_SODER = unicodedata.normalize("NFD", "Söder")


@pytest.mark.parametrize(
    ("scope", "units", "people"),
    [
        (Scope.whole(), "U1 U2 U3 U4 U5", "P01 P02 P03 P04 P05 P07"),
        (Scope.of(areas=["Norr"]), "U1 U3", "P01 P02 P03 P05"),
        (Scope.of(areas=["  norr "]), "U1 U3", "P01 P02 P03 P05"),
        (Scope.of(areas=[DECOMPOSED_SODER]), "U2 U4", "P04 P07"),
        (Scope.of(services=["ÄLDREOMSORG"]), "U1 U2", "P01 P02 P03 P04"),
        (Scope.of(areas=["Norr"], services=["äldreomsorg"]), "U1", "P01 P02 P03"),
        (Scope.of(areas=["Norr", "Söder"], services=["grundskola"]), "U3", "P05"),
        (Scope.of(services=["äldreomsorg", "förskola"]), "U1 U2 U4", "P01 P02 P03 P04 P07"),
        (Scope.of(units=["U3"]), "U3", "P05"),
        (Scope.of(units=["U3", "U4"], services=["förskola"]), "U4", "P07"),
        (Scope.of(units=["U3"], areas=["Söder"]), "", ""),
        (Scope.of(units=["u3"]), "", ""),  # unit ids match exactly
        (Scope.of(areas=["Väster"]), "U5", ""),
    ],
)
def test_scope_selects_units_and_the_people_placed_there(
    scope: Scope, units: str, people: str
) -> None:
    plan = plan_callups(ROSTER, scope, NOW)
    assert [u.unit_id for u in plan.units] == units.split()
    assert sorted(c.person_id for c in plan.callups) == people.split()


def test_scope_of_strips_values_and_drops_blanks() -> None:
    scope = Scope.of(areas=[" Norr ", "", "  "], units=["U1 "], services=[])
    assert scope == Scope(frozenset({"Norr"}), frozenset({"U1"}), frozenset())
    assert not scope.is_whole
    assert Scope.whole().is_whole
    assert Scope.of().is_whole
    assert scope.as_json() == {"areas": ["Norr"], "units": ["U1"], "services": []}


def test_a_call_up_is_a_snapshot_of_person_and_unit() -> None:
    plan = plan_callups(ROSTER, Scope.of(units=["U1"]), NOW)
    assert plan.callups[0] == PlannedCallUp(
        person_id="P01",
        person_name="Person P01",
        department="Ekonomi",
        protected=False,
        sms_number="+46700000001",
        email="p01@exempelkommun.se",
        unit_id="U1",
        unit_name="Solgården",
        unit_address="Solvägen 1",
        placement_kind=PlacementKind.CRISIS,
        channels=(Channel.SMS, Channel.EMAIL),
    )
    protected = plan_callups(ROSTER, Scope.of(units=["U4"]), NOW).callups[0]
    assert protected.protected


def test_channels_follow_the_contact_details() -> None:
    plan = plan_callups(ROSTER, Scope.whole(), NOW)
    channels = {c.person_id: c.channels for c in plan.callups}
    assert channels["P01"] == ("sms", "email")
    assert channels["P02"] == ("email",)
    assert channels["P03"] == ()  # a fixed line is never used for SMS
    assert channels["P04"] == ("sms",)
    by_id = {c.person_id: c for c in plan.callups}
    assert by_id["P03"].sms_number is None
    assert not by_id["P03"].reachable


def test_reserve_placements_are_not_called_at_declaration() -> None:
    plan = plan_callups(ROSTER, Scope.whole(), NOW)
    by_id = {c.person_id: c for c in plan.callups}
    assert "P06" not in by_id
    assert by_id["P05"].unit_id == "U3"  # called to the crisis placement, not the reserve one
    assert all(c.placement_kind is PlacementKind.CRISIS for c in plan.callups)


def test_each_person_is_called_once_and_call_ups_are_ordered() -> None:
    duplicated = Roster(units=UNITS, people=(*PEOPLE, person("P01", "U2")), training=TRAINING)
    plan = plan_callups(duplicated, Scope.whole(), NOW)
    ids = [c.person_id for c in plan.callups]
    assert len(ids) == len(set(ids))
    assert [(c.unit_id, c.person_id) for c in plan.callups] == sorted(
        (c.unit_id, c.person_id) for c in plan.callups
    )


def test_preview_figures() -> None:
    plan = plan_callups(ROSTER, Scope.whole(), NOW)
    assert plan.people_per_unit == {"U1": 3, "U2": 1, "U3": 1, "U4": 1, "U5": 0}
    assert [c.person_id for c in plan.unreachable] == ["P03"]
    assert plan.sms_count == 4  # P01, P04, P05, P07
    assert plan.email_count == 1  # P02 has no mobile
    assert plan.planned_at == NOW


def test_the_plan_depends_only_on_its_arguments() -> None:
    first = plan_callups(ROSTER, Scope.of(areas=["Norr"]), NOW)
    again = plan_callups(ROSTER, Scope.of(areas=["norr"]), NOW)
    assert first.callups == again.callups
    assert first.units == again.units


def test_validate_scope_accepts_what_exists() -> None:
    assert validate_scope(ROSTER, Scope.whole()) == []
    scope = Scope.of(areas=[" NORR"], services=["Äldreomsorg"], units=["U1"])
    assert validate_scope(ROSTER, scope) == []


def test_validate_scope_names_field_and_value() -> None:
    scope = Scope.of(areas=["Nor"], services=["skola"], units=["U9"])
    problems = validate_scope(ROSTER, scope)
    assert problems[0].startswith("scope.areas: ")
    assert "'Nor'" in problems[0]
    assert "Norr, Söder, Väster" in problems[0]
    assert problems[1].startswith("scope.services: ")
    assert "'skola'" in problems[1]
    assert problems[2].startswith("scope.units: ")
    assert "'U9'" in problems[2]
    assert len(problems) == 3


def test_validate_scope_refuses_a_combination_that_matches_nothing() -> None:
    problems = validate_scope(ROSTER, Scope.of(areas=["Väster"], services=["förskola"]))
    assert len(problems) == 1
    assert problems[0].startswith("scope: ")


def reserve_ids(
    already_called: frozenset[str] = frozenset(),
    busy: frozenset[str] = frozenset(),
    count: int = 10,
    unit_id: str = "U1",
) -> list[tuple[str, str]]:
    chosen = plan_reserve_callups(
        ROSTER, unit_id, already_called=already_called, busy=busy, count=count
    )
    return [(c.person_id, c.placement_kind.value) for c in chosen]


def test_reserves_come_first_then_the_most_recently_trained() -> None:
    assert reserve_ids() == [
        ("P05", "reserve"),
        ("P06", "reserve"),
        ("P10", "trained"),  # trained 2026-02-09
        ("P09", "trained"),  # 2025-09-08
        ("P13", "trained"),  # 2025-09-08 too; P09 sorts first
    ]


@pytest.mark.parametrize(
    ("already_called", "busy", "count", "expected"),
    [
        ({"P05"}, set(), 10, "P06 P10 P09 P13"),
        (set(), {"P10"}, 10, "P05 P06 P09 P13"),
        ({"P05", "P06"}, {"P09"}, 10, "P10 P13"),
        (set(), set(), 2, "P05 P06"),
        (set(), set(), 3, "P05 P06 P10"),
        (set(), set(), 0, ""),
    ],
)
def test_reserve_exclusions_and_count(
    already_called: set[str], busy: set[str], count: int, expected: str
) -> None:
    found = reserve_ids(frozenset(already_called), frozenset(busy), count)
    assert [pid for pid, _ in found] == expected.split()


def test_reserves_are_snapshots_for_the_gap_unit() -> None:
    chosen = plan_reserve_callups(
        ROSTER, "U2", already_called=frozenset(), busy=frozenset(), count=5
    )
    assert [(c.person_id, c.unit_id, c.unit_name, c.placement_kind) for c in chosen] == [
        ("P08", "U2", "Björkängen", PlacementKind.TRAINED)
    ]
    assert reserve_ids(unit_id="U9") == []  # a unit that is gone has no reserves


def test_estimate_send_seconds() -> None:
    assert estimate_send_seconds(200, 10, 10.0, 20.0) == 20.0  # SMS segments decide
    assert estimate_send_seconds(10, 100, 10.0, 20.0) == 5.0  # e-mail decides
    assert estimate_send_seconds(0, 0, 10.0, 20.0) == 0.0
    with pytest.raises(ValueError, match="positive"):
        estimate_send_seconds(1, 1, 0.0, 20.0)


def test_reply_codes_are_short_unique_and_unambiguous() -> None:
    codes = [reply_code_for(n) for n in range(1, REPLY_CODE_COUNT + 1)]
    assert codes[:3] == ["B3", "C3", "D3"]
    assert len(set(codes)) == REPLY_CODE_COUNT
    assert reply_code_for(REPLY_CODE_COUNT + 1) == codes[0]  # codes cycle
    for code in codes:
        assert len(code) == 2
        assert code[0].isalpha()
        assert code[1].isdigit()
        assert not set(code) & set("O0I1L2AEJKNSY")
        assert is_reply_code(code)
        assert is_reply_code(f" {code.lower()} ")
    for word in ("JA", "NO", "OK", "J", "N", "45", "B", "B33", "A3", "B1", "B2"):
        assert not is_reply_code(word)
    with pytest.raises(ValueError, match="start at 1"):
        reply_code_for(0)
