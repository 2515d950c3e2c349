"""Readiness: the per-unit figures, the people lists, masking, rendering and the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.cli import main
from dispatcher.domain.readiness import (
    PROTECTED_LABEL,
    ReadinessReport,
    RefusedContact,
    UnitReadiness,
    assess_readiness,
    readiness_to_dict,
)
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import parse_term, term_of
from dispatcher.readiness_view import NO_ROSTER, render_readiness
from dispatcher.store.database import Database

TODAY = date(2026, 1, 12)  # early VT2026: the previous term is HT2025
MOBILE = "+46701234567"
FIXED = PhoneKind.FIXED_LINE


def unit(
    unit_id: str,
    *,
    need: int | None = None,
    area: str = "Norr",
    service: str = "förskola",
    name: str | None = None,
) -> Unit:
    return Unit(unit_id, name or f"Enhet {unit_id}", service, area, "Ekvägen 1", need)


def person(
    person_id: str,
    placement: str | None = None,
    *,
    reserve: str | None = None,
    phone: str | None = MOBILE,
    kind: PhoneKind = PhoneKind.MOBILE,
    email: str | None = "a.b@exempelkommun.se",
    protected: bool = False,
    name: str | None = None,
) -> Person:
    if phone is None:
        kind = PhoneKind.NONE
    return Person(
        person_id=person_id,
        name=name or f"Person {person_id}",
        phone=phone,
        phone_kind=kind,
        email=email,
        role=Role.ADMIN,
        pay_pct=100.0,
        department="IT",
        placement=placement,
        reserve_placement=reserve,
        protected=protected,
    )


def week(person_id: str, unit_id: str, day: date) -> TrainingWeek:
    return TrainingWeek(person_id, unit_id, term_of(day), day)


def assess(
    units: list[Unit],
    people: list[Person],
    training: Sequence[TrainingWeek] = (),
    *,
    valid_terms: int = 2,
    today: date = TODAY,
) -> ReadinessReport:
    roster = Roster(units=tuple(units), people=tuple(people), training=tuple(training))
    return assess_readiness(roster, today=today, valid_terms=valid_terms)


def only_unit(report: ReadinessReport) -> UnitReadiness:
    (figures,) = report.units
    return figures


@pytest.mark.parametrize(
    ("need", "placed", "expected"),
    [(5, 2, 5), (0, 3, 0), (None, 3, 3), (None, 0, 0)],
    ids=["need-set", "need-zero", "no-need-is-placed", "no-need-nobody"],
)
def test_needed_is_crisis_need_or_the_number_placed(
    need: int | None, placed: int, expected: int
) -> None:
    people = [person(f"E{i}", "U1") for i in range(placed)]
    assert only_unit(assess([unit("U1", need=need)], people)).needed == expected


def test_unit_figures_count_placed_reachable_trained_and_reserves() -> None:
    report = assess(
        [unit("U1", need=4), unit("U2")],
        [
            person("E1", "U1"),  # reachable, trained here
            person("E2", "U1", phone=None),  # e-mail only: still reachable
            person("E3", "U1", phone="+4681234567", kind=PhoneKind.FIXED_LINE, email=None),
            person("E4", "U2", reserve="U1"),  # trained at U1, placed at U2
            person("E5", None, reserve="U1"),
        ],
        [week("E1", "U1", date(2025, 9, 1)), week("E4", "U1", date(2025, 9, 1))],
    )
    u1, u2 = report.units
    assert (u1.needed, u1.placed, u1.reachable, u1.trained, u1.reserves) == (4, 3, 2, 1, 2)
    assert (u1.gap_now, u1.at_risk) == (2, True)
    assert (u2.needed, u2.placed, u2.reachable, u2.trained, u2.reserves) == (1, 1, 1, 0, 0)
    assert (u2.gap_now, u2.at_risk) == (0, True)  # reachable, but nobody trained there


@pytest.mark.parametrize(
    ("trained_on", "valid_terms", "counts"),
    [
        (date(2026, 1, 5), 1, True),  # this term
        (date(2025, 12, 1), 1, False),  # HT2025 is not "the last 1 term" in VT2026
        (date(2025, 12, 1), 2, True),  # the previous term, across the new year
        (date(2025, 7, 7), 2, True),
        (date(2025, 6, 23), 2, False),  # VT2025: the term before the previous one
        (date(2025, 6, 23), 3, True),
        (date(2024, 9, 2), 3, False),
        (date(2026, 3, 2), 2, True),  # planned later this term: inside the current term
    ],
)
def test_trained_window_is_the_last_valid_terms_including_the_current(
    trained_on: date, valid_terms: int, counts: bool
) -> None:
    report = assess(
        [unit("U1", need=1)],
        [person("E1", "U1")],
        [week("E1", "U1", trained_on)],
        valid_terms=valid_terms,
    )
    assert only_unit(report).trained == int(counts)
    assert bool(report.lapsed) is not counts
    assert [str(t) for t in report.terms][-1] == "VT2026"
    assert len(report.terms) == valid_terms


@pytest.mark.parametrize(
    ("need", "reachable", "unreachable", "trained", "gap", "at_risk"),
    [
        (3, 3, 0, 3, 0, False),
        (3, 2, 1, 3, 1, True),  # one cannot be reached
        (3, 5, 0, 3, 0, False),  # more than needed: no negative gap
        (3, 3, 0, 2, 0, True),  # everyone reachable, too few trained
        (0, 0, 0, 0, 0, False),
    ],
)
def test_gap_now_and_at_risk(
    need: int, reachable: int, unreachable: int, trained: int, gap: int, at_risk: bool
) -> None:
    people = [person(f"R{i}", "U1") for i in range(reachable)]
    people += [person(f"X{i}", "U1", phone=None, email=None) for i in range(unreachable)]
    training = [week(p.person_id, "U1", date(2025, 10, 6)) for p in people[:trained]]
    figures = only_unit(assess([unit("U1", need=need)], people, training))
    assert (figures.gap_now, figures.at_risk) == (gap, at_risk)


def test_contact_lists_split_unreachable_from_email_only() -> None:
    fixed = "+46311234567"
    report = assess(
        [unit("U1")],
        [
            person("E1", "U1", phone=fixed, kind=PhoneKind.FIXED_LINE, email=None),
            person("E2", "U1", phone=None, email=None),
            person("E3", "U1", phone="+4681234567", kind=PhoneKind.FIXED_LINE),
            person("E4", None, phone=None),
            person("E5", "U1", email=None),  # mobile only: fine
            person("E6", "U1"),
        ],
    )
    assert [p.person_id for p in report.unreachable] == ["E1", "E2"]
    assert [p.person_id for p in report.sms_unreachable] == ["E3", "E4"]
    assert report.unreachable[0].phone == "+46311234567"


def test_lapsed_lists_placed_people_without_a_valid_week_anywhere() -> None:
    report = assess(
        [unit("U1"), unit("U2")],
        [
            person("E1", "U1"),  # trained VT2025 and HT2024: lapsed, last VT2025
            person("E2", "U1"),  # never trained
            person("E3", "U1"),  # trained recently at U2: not here, but not lapsed
            person("E4", None),  # no placement: not on the lapsed list
            person("E5", "U2"),  # trained now
        ],
        [
            week("E1", "U1", date(2024, 9, 2)),
            week("E1", "U1", date(2025, 3, 3)),
            week("E3", "U2", date(2025, 11, 3)),
            week("E5", "U2", date(2026, 1, 5)),
        ],
    )
    lapsed = {item.person.person_id: item.last_trained for item in report.lapsed}
    assert lapsed == {"E1": parse_term("VT2025"), "E2": None}
    u1, u2 = report.units
    assert (u1.trained, u2.trained) == (0, 1)


def test_unplaced_units_and_people() -> None:
    report = assess(
        [unit("U1"), unit("U2", need=3), unit("U3")],
        [person("E1", "U1", reserve="U2"), person("E2", None), person("E3", None)],
    )
    assert [u.unit_id for u in report.unplaced_units] == ["U2", "U3"]
    assert report.unplaced_units[0].reserves == 1
    assert [p.person_id for p in report.unplaced_people] == ["E2", "E3"]


def test_protected_people_are_masked_in_every_list_and_in_json() -> None:
    secret = ("Hemlig Hemligsson", "+4687654321", "hemlig@x.se")
    name, phone, email = secret
    report = assess(
        [unit("U1", name="Solgården")],
        [
            person("S1", "U1", protected=True, name=name, phone=phone, email=email, kind=FIXED),
            person("S2", None, protected=True, name="Dold Person", phone=None, email=None),
        ],
    )
    entries = [*report.unreachable, *report.sms_unreachable, *report.unplaced_people]
    entries += [item.person for item in report.lapsed]
    assert len(entries) == 4
    for entry in entries:
        assert (entry.person_id, entry.name, entry.phone, entry.email) == (
            None,
            PROTECTED_LABEL,
            None,
            None,
        )
        assert entry.protected
    assert report.lapsed[0].person.unit_name == "Solgården"
    for text in (json.dumps(readiness_to_dict(report)), render_readiness(report)):
        assert PROTECTED_LABEL in text
        for hidden in (*secret, "S1", "S2", "Dold Person", "87654321"):
            assert hidden not in text


def test_units_sorted_by_area_service_name_in_swedish_order() -> None:
    report = assess(
        [
            unit("U1", area="Öster", name="Ekbacken"),
            unit("U2", area="Väster", service="grundskola", name="B"),
            unit("U3", area="Väster", service="förskola", name="Ängen"),
            unit("U4", area="Väster", service="förskola", name="Åsen"),
            unit("U5", area="Väster", service="förskola", name="Zeta"),
        ],
        [],
    )
    assert [u.unit_id for u in report.units] == ["U5", "U4", "U3", "U2", "U1"]


def test_totals_and_dict_shape() -> None:
    report = assess(
        [unit("U1", need=2), unit("U2", need=1)],
        [person("E1", "U1", reserve="U2"), person("E2", None, phone=None, email=None)],
        [week("E1", "U1", date(2025, 8, 4))],
    )
    data = readiness_to_dict(report)
    assert list(data) == [
        *("today", "valid_terms", "terms", "totals", "units", "unreachable"),
        *("sms_unreachable", "lapsed", "unplaced_units", "unplaced_people"),
        "refused_contacts",
    ]
    assert data["today"] == "2026-01-12"
    assert data["terms"] == ["HT2025", "VT2026"]
    assert data["totals"] == {
        **{"units": 2, "people": 2, "needed": 3, "placed": 1, "reachable": 1, "trained": 1},
        **{"reserves": 1, "gap_now": 2, "units_at_risk": 2, "unreachable": 1},
        **{"sms_unreachable": 0, "lapsed": 0, "unplaced_units": 1, "unplaced_people": 1},
        "refused_contacts": 0,
    }
    assert data["units"][0] == {
        **{"unit_id": "U1", "name": "Enhet U1", "service": "förskola", "area": "Norr"},
        **{"needed": 2, "placed": 1, "reachable": 1, "trained": 1, "reserves": 0},
        **{"gap_now": 1, "at_risk": True},
    }
    assert data["unreachable"] == [
        {
            **{"person_id": "E2", "name": "Person E2", "protected": False, "phone": None},
            **{"email": None, "unit_id": None, "unit_name": None},
        }
    ]


def test_empty_roster() -> None:
    report = assess([], [])
    assert report.empty
    assert render_readiness(report) == NO_ROSTER
    assert not assess([unit("U1")], []).empty


def test_table_is_aligned_and_at_most_120_wide() -> None:
    long_name = "Vård- och omsorgsboendet Västra Kullens äng och Norra Björkhagens gård"
    report = assess(
        [unit("U0001", name=long_name, service="äldreomsorg", area="Centrum"), unit("U0002")],
        [
            person("E000001", "U0001", phone=None, email="a" * 60 + "@exempelkommun.se"),
            *(person(f"E{i:06d}", "U0002") for i in range(2, 1200)),
        ],
    )
    lines = render_readiness(report).splitlines()
    assert max(len(line) for line in lines) <= 120
    header = next(line for line in lines if "UNIT" in line and "GAP" in line)
    row = next(line for line in lines if "U0002" in line)
    assert row.split()[-6:] == ["1198", "1198", "1198", "0", "0", "0"]
    assert len(row) == len(header)
    assert any(line.rstrip().endswith("…") for line in lines)  # the long e-mail, cut
    assert any(line.startswith("! U0001") for line in lines)  # no one trained: at risk


unit_ids = st.sampled_from(["U1", "U2", "U3", "U4"])


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    units = tuple(
        unit(uid, need=draw(st.none() | st.integers(0, 6)), area=draw(st.sampled_from("NSÖ")))
        for uid in draw(st.sets(unit_ids, min_size=1))
    )
    ids = [u.unit_id for u in units]
    people = []
    for i in range(draw(st.integers(0, 25))):
        placement = draw(st.none() | st.sampled_from(ids))
        has_mobile, has_email = draw(st.booleans()), draw(st.booleans())
        people.append(
            person(
                f"E{i}",
                placement,
                reserve=draw(st.none() | st.sampled_from(ids)),
                phone=MOBILE if has_mobile else None,
                email="x@y.se" if has_email else None,
                protected=draw(st.booleans()),
            )
        )
    days = st.dates(min_value=date(2023, 1, 2), max_value=TODAY)
    training = [
        week(f"E{draw(st.integers(0, max(0, len(people) - 1)))}", draw(st.sampled_from(ids)), day)
        for day in draw(st.lists(days, max_size=20))
    ]
    return Roster(units, tuple(people), tuple(training))


@given(rosters(), st.integers(1, 4))
def test_figures_are_consistent(roster: Roster, valid_terms: int) -> None:
    report = assess_readiness(roster, today=TODAY, valid_terms=valid_terms)
    placed_people = [p for p in roster.people if p.placement is not None]
    for figures in report.units:
        assert figures.gap_now == max(0, figures.needed - figures.reachable)
        assert figures.trained <= figures.placed and figures.reachable <= figures.placed
        crisis_need = roster.unit(figures.unit_id).crisis_need  # type: ignore[union-attr]
        assert figures.needed == (figures.placed if crisis_need is None else crisis_need)
    assert sum(u.placed for u in report.units) == len(placed_people) == report.totals.placed
    assert report.totals.gap_now == sum(u.gap_now for u in report.units)
    assert len(report.unplaced_people) == len(roster.people) - len(placed_people)
    assert len(report.lapsed) <= len(placed_people)
    assert len(report.unreachable) == sum(1 for p in roster.people if not p.reachable)
    assert all(not e.protected or e.person_id is None for e in report.unplaced_people)


# --- the command: `dispatcher roster check` against a real database ---------------------


async def _fill(path: Path) -> None:
    db = await Database.open(path)
    try:
        async with db.transaction() as connection:
            await connection.executemany(
                "INSERT INTO units (unit_id, name, service, area, address, crisis_need,"
                " training_capacity) VALUES (?, ?, ?, ?, ?, ?, 2)",
                [
                    ("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", 2),
                    ("U2", "Ekbackens skola", "grundskola", "Söder", "Ekvägen 2", None),
                ],
            )
            await connection.executemany(
                "INSERT INTO people (person_id, name, phone, phone_kind, email, role, pay_pct,"
                " department, placement, reserve_placement, protected)"
                " VALUES (?, ?, ?, ?, ?, 'admin', 100, 'IT', ?, ?, ?)",
                [
                    ("E1", "Åsa Öberg", MOBILE, "mobile", "asa@x.se", "U1", "U2", 0),
                    ("E2", "Göran Ek", "+4681234567", "fixed_line", None, "U1", None, 0),
                    ("E3", "Hemlig Person", None, "none", "h@x.se", None, None, 1),
                ],
            )
            await connection.execute(
                "INSERT INTO training_weeks (person_id, unit_id, term, week_start)"
                " VALUES ('E1', 'U1', 'HT2025', '2025-09-01')"
            )
    finally:
        await db.close()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DISPATCHER_DATABASE", raising=False)
    path = tmp_path / "dispatcher.toml"
    path.write_text(f"[service]\ndatabase = '{tmp_path / 'db.sqlite3'}'\n", encoding="utf-8")
    return path


def test_check_command_prints_table_and_json(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fill(tmp_path / "db.sqlite3"))
    args = ["--config", str(config), "roster", "check", "--today", "2026-01-12"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "trained = a training week in HT2025 or VT2026" in table
    solgarden = next(line for line in table.splitlines() if "Solgården" in line)
    assert solgarden.split()[-6:] == ["2", "2", "1", "1", "0", "1"]
    assert "Göran Ek" in table and "Hemlig" not in table and PROTECTED_LABEL in table

    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["placed"] == 2
    assert [u["unit_id"] for u in data["units"]] == ["U1", "U2"]
    assert data["units"][1]["reserves"] == 1
    assert data["unreachable"][0]["person_id"] == "E2"
    assert data["unplaced_people"][0]["name"] == PROTECTED_LABEL
    assert data["unplaced_units"][0]["unit_id"] == "U2"


def test_check_command_on_an_empty_database(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "roster", "check"]) == 0
    assert capsys.readouterr().out.strip() == NO_ROSTER


def test_check_command_refuses_a_bad_date(config: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "roster", "check", "--today", "12/1/2026"])
    assert exit_info.value.code == 2


def test_refused_contacts_listed_until_the_roster_is_fixed() -> None:
    units = [unit("U1")]
    people = [
        person("E1", "U1", phone="+46701234567"),
        person("E2", "U1", phone="+46701234568", email="e2@exempelkommun.se", protected=True),
        person("E3", "U1", phone="+46709999999"),  # the refused number was replaced
    ]
    refused = [
        RefusedContact("E1", "sms", "+46701234567", "21211", "invalid number"),
        RefusedContact("E2", "email", "e2@exempelkommun.se", "550", "no such mailbox"),
        RefusedContact("E3", "sms", "+46701111111", "21211", "invalid number"),
        RefusedContact("E9", "sms", "+46702222222", "21610", "opted out"),  # no longer employed
    ]
    roster = Roster(units=tuple(units), people=tuple(people))
    report = assess_readiness(roster, today=TODAY, valid_terms=2, refused=refused)
    assert [(r.person.person_id, r.channel, r.address) for r in report.refused] == [
        ("E1", "sms", "+46701234567"),
        (None, "email", None),  # protected: neither named nor addressed
    ]
    assert report.refused[1].person.name == PROTECTED_LABEL
    assert "Refused by the SMS or e-mail provider" in render_readiness(report)
    assert readiness_to_dict(report)["totals"]["refused_contacts"] == 2
