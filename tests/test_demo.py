"""The demo roster: deterministic, Excel-style, fictional, and clean for the importer."""

from __future__ import annotations

import csv
import random
import re
from collections import Counter
from datetime import date
from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from dispatcher.demo import (
    STAFF_HEADER,
    TRAINING_HEADER,
    UNIT_HEADER,
    DemoSummary,
    write_demo_roster,
)
from dispatcher.demo.__main__ import main
from dispatcher.demo.fiction import person_name
from dispatcher.domain.readiness import assess_readiness
from dispatcher.domain.terms import term_of
from dispatcher.roster_import import RosterFile, parse_roster_files

TODAY = date(2026, 1, 12)
PEOPLE = 1200
FILES = ("units.csv", "staff.csv", "training.csv")
MOBILE_WRITTEN = re.compile(r"07\d-\d{3} \d{2} \d{2}")
FIXED_WRITTEN = re.compile(r"(08-\d{3}|031-\d{2}) \d{2} \d{2}")
EMAIL = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+\d*@exempelkommun\.se")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file, delimiter=";"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    directory = tmp_path_factory.mktemp("demo")
    return directory, write_demo_roster(directory, people=PEOPLE, today=TODAY)


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_demo_roster(tmp_path / name, people=300, seed=seed, today=TODAY)
    for file in FILES:
        first = (tmp_path / "a" / file).read_bytes()
        assert first == (tmp_path / "b" / file).read_bytes()
        assert first != (tmp_path / "c" / file).read_bytes()


def test_excel_style_files_with_the_contract_headers(demo: tuple[Path, DemoSummary]) -> None:
    directory, _ = demo
    for file, header in zip(FILES, (UNIT_HEADER, STAFF_HEADER, TRAINING_HEADER), strict=True):
        data = (directory / file).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
        first_line = data[3:].split(b"\r\n", 1)[0].decode()
        assert first_line.split(";") == list(header)
        assert "," not in first_line
        with (directory / file).open(encoding="utf-8-sig", newline="") as handle:
            assert tuple(next(csv.reader(handle, delimiter=";"))) == header
    assert set(UNIT_HEADER) >= {"unit_id", "name", "service", "area", "address", "crisis_need"}
    assert set(STAFF_HEADER) >= {"person_id", "phone", "email", "role", "pay_pct", "placement"}
    assert set(TRAINING_HEADER) == {"person_id", "unit_id", "term", "week_start"}


def test_counts_match_the_summary(demo: tuple[Path, DemoSummary]) -> None:
    directory, summary = demo
    units, staff = read(directory / "units.csv"), read(directory / "staff.csv")
    assert summary.people == len(staff) == PEOPLE
    assert summary.units == len(units) == PEOPLE // 25
    assert summary.training_weeks == len(read(directory / "training.csv"))
    assert summary.placed == sum(1 for p in staff if p["placement"])
    assert 0.9 < summary.placed / PEOPLE < 1
    assert 0.5 < summary.reserves / PEOPLE < 0.7
    assert summary.protected == sum(1 for p in staff if p["protected"] == "ja") >= 1
    assert (summary.fixed_line, summary.no_phone, summary.no_email) == (12, 12, 12)
    assert summary.unreachable == 4
    assert "1200 people" in summary.describe()


def test_small_rosters_still_have_a_dozen_units(tmp_path: Path) -> None:
    summary = write_demo_roster(tmp_path, people=40, today=TODAY)
    assert summary.units == 12
    services = {u["service"] for u in read(tmp_path / "units.csv")}
    assert services >= {"förskola", "grundskola", "äldreomsorg", "hemtjänst"}


def test_phones_are_unique_swedish_mobiles_except_the_deliberate_ones(
    demo: tuple[Path, DemoSummary],
) -> None:
    directory, summary = demo
    kinds: Counter[str] = Counter()
    numbers = []
    for person in read(directory / "staff.csv"):
        written = person["phone"]
        if not written:
            kinds["none"] += 1
            continue
        number = phonenumbers.parse(written, "SE")
        assert phonenumbers.is_valid_number(number), written
        numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        if phonenumbers.number_type(number) == PhoneNumberType.MOBILE:
            assert MOBILE_WRITTEN.fullmatch(written), written
            kinds["mobile"] += 1
        else:
            assert phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE
            assert FIXED_WRITTEN.fullmatch(written), written
            kinds["fixed"] += 1
    assert len(numbers) == len(set(numbers))
    neither_fixed = summary.unreachable // 2
    assert kinds["fixed"] == summary.fixed_line + neither_fixed
    assert kinds["none"] == summary.no_phone + summary.unreachable - neither_fixed
    assert kinds["mobile"] == PEOPLE - kinds["fixed"] - kinds["none"]


def test_ids_emails_and_placements_are_sound(tmp_path: Path) -> None:
    summary = write_demo_roster(tmp_path, people=20_000, today=TODAY)  # many name clashes
    units, staff = read(tmp_path / "units.csv"), read(tmp_path / "staff.csv")
    unit_ids = [u["unit_id"] for u in units]
    assert len(set(unit_ids)) == len(unit_ids) == summary.units
    assert len({u["name"] for u in units}) == len(units)
    person_ids = [p["person_id"] for p in staff]
    assert len(set(person_ids)) == len(person_ids)
    assert all(re.fullmatch(r"E\d{6}", pid) for pid in person_ids)
    emails = [p["email"] for p in staff if p["email"]]
    assert len(set(emails)) == len(emails)
    assert all(EMAIL.fullmatch(e) for e in emails), [e for e in emails if not EMAIL.fullmatch(e)]
    for person in staff:
        assert person["placement"] in {"", *unit_ids}
        assert person["reserve_placement"] in {"", *unit_ids}
        assert not person["placement"] or person["reserve_placement"] != person["placement"]
        pay = int(person["pay_pct"])
        if person["role"] == "volunteer_politician":
            assert pay < 50
        elif person["role"] == "politician":
            assert pay >= 50
    roles = Counter(p["role"] for p in staff)
    assert roles["admin"] > roles["manager"] > roles["volunteer_politician"] > 0
    assert roles["politician"] > 0
    for unit in units:
        assert unit["crisis_need"] == "" or int(unit["crisis_need"]) >= 1
        assert int(unit["training_capacity"]) >= 1


def test_training_weeks_are_mondays_in_their_term_within_capacity(
    demo: tuple[Path, DemoSummary],
) -> None:
    directory, _ = demo
    capacity = {u["unit_id"]: int(u["training_capacity"]) for u in read(directory / "units.csv")}
    people = {p["person_id"] for p in read(directory / "staff.csv")}
    per_unit_week: Counter[tuple[str, str]] = Counter()
    for week in read(directory / "training.csv"):
        start = date.fromisoformat(week["week_start"])
        assert start.weekday() == 0 and start <= TODAY
        assert week["term"] == str(term_of(start))
        assert week["person_id"] in people and week["unit_id"] in capacity
        per_unit_week[week["unit_id"], week["week_start"]] += 1
    assert all(n <= capacity[unit] for (unit, _), n in per_unit_week.items())


def test_the_importer_accepts_it_with_only_the_expected_warnings(
    demo: tuple[Path, DemoSummary],
) -> None:
    directory, summary = demo
    files = [RosterFile(name, (directory / name).read_bytes()) for name in FILES]
    parsed = parse_roster_files(*files, today=TODAY)
    assert parsed.errors == ()
    assert parsed.roster is not None
    warnings = Counter(w.message.split(":")[0] for w in parsed.warnings)
    assert warnings == {
        "no crisis placement": PEOPLE - summary.placed,
        "fixed-line number": summary.fixed_line + summary.unreachable // 2,
        "no mobile number and no e-mail": summary.unreachable,
    }

    report = assess_readiness(parsed.roster, today=TODAY, valid_terms=2)
    assert len(report.unreachable) == summary.unreachable
    assert len(report.sms_unreachable) == summary.fixed_line + summary.no_phone
    never = [item for item in report.lapsed if item.last_trained is None]
    assert 0 < len(never) < len(report.lapsed) < 0.25 * summary.placed
    assert report.totals.trained > 0.7 * summary.placed
    assert len(report.unplaced_units) >= 1
    assert 0 < report.totals.units_at_risk < report.totals.units
    longest = max(report.units, key=lambda u: len(u.name))
    assert longest.name == "Hemtjänsten i Norra Ekängens och Sjövikens område"


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "roster"
    assert main(["--people", "50", "--out", str(out), "--seed", "3", "--today", "2026-01-12"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and "50 people" in line and str(out) in line
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    with pytest.raises(SystemExit):
        main(["--people", "0", "--out", str(out)])


def test_a_double_surname_never_repeats_the_same_name() -> None:
    rng = random.Random(3)
    doubles = [last.split() for _, last in (person_name(rng) for _ in range(20_000))]
    doubles = [names for names in doubles if len(names) == 2]
    assert len(doubles) > 300  # about 4 % of people have two last names
    assert all(first != second for first, second in doubles)
