"""`dispatcher training …` and `roster check --term` through `dispatcher.cli.main` on a real
SQLite file, and `GET /api/roster/training-needs` through the real app."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dispatcher.cli import main
from dispatcher.domain.readiness import PROTECTED_LABEL
from dispatcher.domain.training_plan import training_week
from dispatcher.roster_import import RosterFile, parse_roster_files
from dispatcher.store.roster_store import replace_roster
from dispatcher.store.training import RecordOutcome, record_training_week
from dispatcher.web import DATABASE

UNITS = """unit_id;name;service;area;address;crisis_need;training_capacity
SOL;Solgården;äldreomsorg;Norr;Solvägen 1;3;2
BJO;Björkängens skola;skola;Söder;Skolgatan 4;2;1
"""
STAFF = """person_id;name;phone;email;role;pay_pct;department;placement;reserve_placement;protected
E1;Anna Lind;070-111 22 33;anna@exempel.se;admin;100;Ekonomi;SOL;;nej
E2;Bo Ek;070-222 33 44;bo@exempel.se;manager;100;HR;SOL;;nej
E3;Cecilia Holm;070-333 44 55;;admin;100;IT;SOL;;nej
E4;Hemlig Hemlund;070-444 55 66;;admin;100;IT;BJO;;ja
E5;Dan Berg;070-555 66 77;;admin;100;IT;BJO;;nej
"""
TRAINING = """person_id;unit_id;term;week_start
E2;SOL;HT2026;2026-09-14
E3;SOL;VT2026;2026-03-02
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "dispatcher.toml"
    path.write_text(f"[service]\ndatabase = '{tmp_path / 'db.sqlite3'}'\n", encoding="utf-8")
    return path


class Cli:
    """`dispatcher --config … ARGS` with the captured output of the last run."""

    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config = config
        self.capsys = capsys
        self.out = ""
        self.err = ""

    def __call__(self, *arguments: str) -> int:
        status = main(["--config", str(self.config), *arguments])
        self.out, self.err = self.capsys.readouterr()
        return status

    def json(self, *arguments: str) -> Any:
        assert self(*arguments, "--json") == 0, self.err
        return json.loads(self.out)

    def import_roster(self, tmp_path: Path, staff: str = STAFF, training: str = TRAINING) -> None:
        files = {"units.csv": UNITS, "staff.csv": staff, "training.csv": training}
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        status = self(
            "roster",
            "import",
            *("--units", str(tmp_path / "units.csv")),
            *("--staff", str(tmp_path / "staff.csv")),
            *("--training", str(tmp_path / "training.csv")),
        )
        assert status == 0, self.err


@pytest.fixture
def cli(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    runner = Cli(config, capsys)
    runner.import_roster(tmp_path)
    return runner


def listed(cli: Cli, *filters: str) -> list[tuple[str, str, str, str]]:
    return [
        (row["person_id"], row["unit_id"], row["week_start"], row["source"])
        for row in cli.json("training", "list", *filters)
    ]


# --- training add / remove / list ------------------------------------------------------


def test_add_stores_the_weeks_monday_and_its_term(cli: Cli) -> None:
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-26") == 0
    assert cli.out.strip() == (
        "Recorded: E1 at SOL, week of Monday 2026-11-23 (2026-11-26 is in that week), HT2026"
    )
    assert ("E1", "SOL", "2026-11-23", "added") in listed(cli, "--person", "E1")
    (row,) = cli.json("training", "list", "--person", "E1")
    assert row["term"] == "HT2026"

    assert cli("training", "add", "E1", "SOL", "--week", "2027-01-01") == 0  # a Friday
    assert "week of Monday 2026-12-28" in cli.out and cli.out.strip().endswith("HT2026")


def test_a_duplicate_is_a_no_op_that_says_so(cli: Cli) -> None:
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-23") == 0
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-25") == 0
    assert cli.out.startswith("Already recorded, nothing changed: E1 at SOL")
    assert listed(cli, "--person", "E1") == [("E1", "SOL", "2026-11-23", "added")]

    assert cli("training", "add", "E2", "SOL", "--week", "2026-09-16") == 0  # imported
    assert cli.out.startswith("Already in the imported training.csv, nothing changed")
    assert listed(cli, "--person", "E2") == [("E2", "SOL", "2026-09-14", "import")]


def test_an_imported_week_dated_by_another_day_is_the_same_week(cli: Cli, tmp_path: Path) -> None:
    cli.import_roster(tmp_path, training=TRAINING + "E5;BJO;;2026-03-04\n")  # a Wednesday
    assert cli("training", "add", "E5", "BJO", "--week", "2026-03-02") == 0
    assert cli.out.startswith("Already in the imported training.csv, nothing changed")
    assert cli("training", "remove", "E5", "BJO", "--week", "2026-03-06") == 1
    assert "correct that file and import it again" in cli.err
    assert listed(cli, "--person", "E5") == [("E5", "BJO", "2026-03-04", "import")]


@pytest.mark.parametrize(
    ("person", "unit", "message"),
    [
        ("E9", "SOL", "dispatcher: error: no person 'E9' in the roster (see staff.csv)"),
        ("E1", "XYZ", "dispatcher: error: no unit 'XYZ' in the roster (see units.csv)"),
    ],
)
def test_an_unknown_person_or_unit_is_a_one_line_user_error(
    cli: Cli, person: str, unit: str, message: str
) -> None:
    assert cli("training", "add", person, unit, "--week", "2026-11-23") == 1
    assert cli.err.strip().splitlines() == [message]
    assert listed(cli, "--person", person) == []


def test_a_bad_week_is_a_usage_error(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("training", "add", "E1", "SOL", "--week", "23/11/2026")
    assert exit_info.value.code == 2


def test_added_weeks_survive_a_re_import_and_count_while_the_person_is_there(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-23") == 0
    cli.import_roster(tmp_path, training="person_id;unit_id;term;week_start\n")
    assert listed(cli) == [("E1", "SOL", "2026-11-23", "added")]  # the imported ones went
    lapsed = cli.json("roster", "check", "--today", "2026-11-25")["lapsed"]
    assert "E1" not in {p["person_id"] for p in lapsed}
    assert {"E2", "E3"} <= {p["person_id"] for p in lapsed}

    without_e1 = "\n".join(line for line in STAFF.splitlines() if not line.startswith("E1;"))
    cli.import_roster(tmp_path, staff=without_e1 + "\n")
    assert listed(cli, "--person", "E1") == []  # counts only while E1 is in the roster
    cli.import_roster(tmp_path)
    assert ("E1", "SOL", "2026-11-23", "added") in listed(cli)  # back, and so is the week


def test_remove_takes_back_only_added_weeks(cli: Cli) -> None:
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-23") == 0
    assert cli("training", "remove", "E1", "SOL", "--week", "2026-11-27") == 0
    assert cli.out.startswith("Removed: E1 at SOL, week of Monday 2026-11-23")
    assert listed(cli, "--person", "E1") == []

    assert cli("training", "remove", "E1", "SOL", "--week", "2026-11-23") == 1
    assert "no week recorded with `training add`" in cli.err

    assert cli("training", "remove", "E2", "SOL", "--week", "2026-09-14") == 1
    assert "correct that file and import it again" in cli.err
    assert listed(cli, "--person", "E2") == [("E2", "SOL", "2026-09-14", "import")]

    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-23") == 0  # again: fine
    assert listed(cli, "--person", "E1") == [("E1", "SOL", "2026-11-23", "added")]


def test_removing_an_added_week_the_import_also_has_warns_that_it_still_counts(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("training", "add", "E1", "SOL", "--week", "2026-11-23") == 0
    cli.import_roster(tmp_path, training=TRAINING + "E1;SOL;;2026-11-23\n")
    assert listed(cli, "--person", "E1") == [("E1", "SOL", "2026-11-23", "import")]
    assert cli("training", "remove", "E1", "SOL", "--week", "2026-11-23") == 0
    assert cli.err.startswith("warning: the imported training.csv has the week too")
    cli.import_roster(tmp_path)  # the import drops it: now it is gone for good
    assert listed(cli, "--person", "E1") == []


def test_list_filters_and_masks_protected_people(cli: Cli) -> None:
    assert cli("training", "add", "E4", "BJO", "--week", "2026-10-05") == 0
    assert cli.out.startswith("Recorded: E4 at BJO")  # the id the user typed; no name
    assert "Hemlig" not in cli.out
    assert listed(cli, "--term", "VT2026") == [("E3", "SOL", "2026-03-02", "import")]
    assert listed(cli, "--unit", "SOL", "--term", "HT2026") == [
        ("E2", "SOL", "2026-09-14", "import")
    ]
    (protected,) = cli.json("training", "list", "--unit", "BJO")
    assert protected["person_id"] is None and protected["name"] == PROTECTED_LABEL

    assert cli("training", "list") == 0
    header, *rows = cli.out.splitlines()
    assert header.split() == ["PERSON", "NAME", "UNIT", "UNIT", "NAME", "TERM", "WEEK", "SOURCE"]
    assert len(rows) == 3 and "Hemlig" not in cli.out
    assert cli("training", "list", "--person", "E9") == 0
    assert cli.out.strip() == "No training weeks match."


def test_list_refuses_a_bad_term(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("training", "list", "--term", "2026")
    assert exit_info.value.code == 2


# --- training needs ---------------------------------------------------------------------


def test_needs_groups_by_host_unit_with_capacity_and_weeks(cli: Cli) -> None:
    assert cli("training", "add", "E5", "BJO", "--week", "2026-10-05") == 0
    plan = cli.json("training", "needs", "--today", "2026-11-25")
    assert (plan["term"], plan["weeks_left"]) == ("HT2026", 5)  # Mondays 30 Nov … 28 Dec
    assert plan["totals"] == {
        "people": 3,
        "lapsed": 2,
        "due": 1,
        "units": 2,
        "units_not_fitting": 0,
    }
    sol, bjo = plan["units"]
    assert (sol["unit_id"], sol["capacity"], sol["people"], sol["weeks_needed"]) == (
        "SOL",
        2,
        2,
        1,
    )
    assert [(t["person_id"], t["need"]) for t in sol["trainees"]] == [
        ("E1", "lapsed"),
        ("E3", "due"),  # VT2026 lapses when HT2026 ends; E2 trained this term
    ]
    assert (bjo["unit_id"], bjo["capacity"], bjo["weeks_needed"]) == ("BJO", 1, 1)
    assert bjo["trainees"] == [
        {
            "person_id": None,
            "name": PROTECTED_LABEL,
            "protected": True,
            "phone": None,
            "email": None,
            "need": "lapsed",
            "last_trained": None,
        }
    ]

    assert cli("training", "needs", "--today", "2026-11-25") == 0
    assert "Hemlig" not in cli.out
    assert "SOL Solgården (Norr, äldreomsorg): 2 people; 2 per week, so 1 week" in cli.out
    assert PROTECTED_LABEL in cli.out

    only = cli.json("training", "needs", "--today", "2026-11-25", "--unit", "BJO")
    assert [u["unit_id"] for u in only["units"]] == ["BJO"]
    assert cli("training", "needs", "--unit", "XYZ") == 1
    assert cli.err.strip() == "dispatcher: error: no unit 'XYZ' in the roster (see units.csv)"


def test_needs_says_when_a_unit_cannot_fit_its_trainees(cli: Cli) -> None:
    plan = cli.json("training", "needs", "--today", "2026-12-29")  # no Monday left in HT2026
    assert plan["weeks_left"] == 0
    assert plan["totals"]["units_not_fitting"] == 2
    assert cli("training", "needs", "--today", "2026-12-29") == 0
    assert "1 week: more than the 0 left this term" in cli.out


def test_needs_on_an_empty_database(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = Cli(config, capsys)
    assert runner("training", "needs") == 0
    assert runner.out.strip() == "No roster is imported yet, so nobody needs training."


# --- roster check --term ----------------------------------------------------------------


def test_roster_check_assesses_a_term(cli: Cli) -> None:
    report = cli.json("roster", "check", "--term", "VT2026")
    assert (report["today"], report["terms"]) == ("2026-06-30", ["HT2025", "VT2026"])
    assert report["totals"]["trained"] == 1  # E3 (E2's week is in HT2026)

    report = cli.json("roster", "check", "--term", "vt2027")
    assert (report["today"], report["terms"]) == ("2027-06-30", ["HT2026", "VT2027"])
    assert report["totals"]["trained"] == 1  # E2 (HT2026); E3's VT2026 no longer counts
    assert {p["person_id"] for p in report["lapsed"]} >= {"E1", "E3", "E5"}

    assert cli("training", "add", "E1", "SOL", "--week", "2027-02-01") == 0
    report = cli.json("roster", "check", "--term", "VT2027")
    assert "E1" not in {p["person_id"] for p in report["lapsed"]}  # an added week counts

    assert cli("roster", "check", "--term", "HT2025") == 0
    assert cli.out.startswith("Readiness in HT2025 on 2025-12-31:")


def test_roster_check_takes_a_term_or_a_date_not_both(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("roster", "check", "--term", "HT2026", "--today", "2026-11-25")
    assert exit_info.value.code == 2


# --- the API ----------------------------------------------------------------------------


async def test_training_needs_route(
    client: TestClient[web.Request, web.Application],
    app: web.Application,
    tokens: dict[str, str],
) -> None:
    parsed = parse_roster_files(
        RosterFile("units.csv", UNITS.encode()),
        RosterFile("staff.csv", STAFF.encode()),
        RosterFile("training.csv", TRAINING.encode()),
        today=date(2026, 3, 2),
    )
    assert parsed.roster is not None
    db = app[DATABASE]
    await replace_roster(
        db, parsed.roster, imported_by="test", source="test", warnings=0, imported_at_ms=0
    )
    added = training_week("E1", "SOL", date(2026, 3, 18))
    assert await record_training_week(db, added, recorded_by="test", recorded_at_ms=0) is (
        RecordOutcome.ADDED
    )

    assert (await client.get("/api/roster/training-needs")).status == 401
    response = await client.get(
        "/api/roster/training-needs", headers={"Authorization": f"Bearer {tokens['viewer']}"}
    )
    assert response.status == 200
    body = await response.json()
    # The test clock is Monday 2 March 2026, in VT2026. At SOL, E3 trained this term and E1
    # has an added week this term; E2's only week is next term (HT2026), so E2 is lapsed.
    assert (body["today"], body["term"], body["weeks_left"]) == ("2026-03-02", "VT2026", 18)
    sol, bjo = body["units"]
    assert [(t["person_id"], t["need"]) for t in sol["trainees"]] == [("E2", "lapsed")]
    assert (bjo["people"], bjo["capacity"], bjo["weeks_needed"]) == (2, 1, 2)
    assert [t["name"] for t in bjo["trainees"]] == ["Dan Berg", PROTECTED_LABEL]
    assert "Hemlig" not in await response.text()

    audit = await client.get(
        "/api/audit?action=training_needs.read",
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    (entry,) = (await audit.json())["entries"]
    assert entry["detail"] == {"people": 3, "term": "VT2026"}
