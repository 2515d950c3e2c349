"""`dispatcher roster import` end to end: real files, the real CLI, a real SQLite database.

Every refused import must name each problem exactly and leave the database as it was.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dispatcher.cli import main

FIXTURES = Path(__file__).resolve().parent / "roster_files"
TABLES = ("units", "people", "training_weeks", "roster_imports")
IMPORT = ("roster", "import", "--units", "units.csv", "--staff", "staff.csv")
WITH_TRAINING = (*IMPORT, "--training", "training.csv")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    @property
    def problem_lines(self) -> list[str]:
        """What the import said about the files (log lines, if any, left out)."""
        prefixes = ("error: ", "warning: ", "dispatcher: error: ")
        return [line for line in self.err.splitlines() if line.startswith(prefixes)]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a config, the good roster files, and no stray environment."""
    monkeypatch.chdir(tmp_path)
    for variable in ("DISPATCHER_DATABASE", "DISPATCHER_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("USER", "hr-anna")
    (tmp_path / "dispatcher.toml").write_text('[service]\ndatabase = "roster.sqlite3"\n')
    for source in (FIXTURES / "good").iterdir():
        shutil.copy(source, tmp_path / source.name)
    return tmp_path


def dispatcher(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(["--config", "dispatcher.toml", *args])
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def tables(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


@pytest.fixture
def imported(workdir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The good roster already imported; returns the tables as they are after it."""
    run = dispatcher(capsys, *WITH_TRAINING)
    assert run.code == 0, run.err
    return tables(workdir / "roster.sqlite3")


# --- the bad-input corpus -------------------------------------------------------------------


def replace_in(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def without_column(text: str, column: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    index = rows[0].index(column)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(r[:index] + r[index + 1 :] for r in rows)
    return out.getvalue()


@dataclass(frozen=True)
class BadCase:
    file: str
    change: Callable[[str], str | bytes]
    errors: list[str]
    refusal: str


ONE_IN_STAFF = "import refused: 1 problem in staff.csv; nothing was changed"

CORPUS = {
    "missing column": BadCase(
        "staff.csv",
        lambda t: without_column(t, "phone"),
        ["staff.csv:1: phone: required column is missing"],
        ONE_IN_STAFF,
    ),
    "unknown unit": BadCase(
        "staff.csv",
        lambda t: replace_in(t, "HR,BJO", "HR,SKOLA9"),
        ["staff.csv:3: placement: 'SKOLA9' — no such unit_id in units.csv"],
        ONE_IN_STAFF,
    ),
    "duplicate person id": BadCase(
        "staff.csv",
        lambda t: replace_in(t, "E1004", "E1001"),
        ["staff.csv:5: person_id: 'E1001' — duplicate person_id; first on line 2"],
        ONE_IN_STAFF,
    ),
    "duplicate unit id": BadCase(
        "units.csv",
        lambda t: t + "SOL,Solgården 2,elderly care,Norr,Solvägen 3,1,\n",
        ["units.csv:5: unit_id: 'SOL' — duplicate unit_id; first on line 2"],
        "import refused: 1 problem in units.csv; nothing was changed",
    ),
    "invalid phone": BadCase(
        "staff.csv",
        lambda t: replace_in(t, "070-111 22 33", "070-11"),
        ["staff.csv:2: phone: '070-11' — not a valid phone number (too short)"],
        ONE_IN_STAFF,
    ),
    "unknown role": BadCase(
        "staff.csv",
        lambda t: replace_in(t, ",manager,", ",boss,"),
        [
            "staff.csv:3: role: 'boss' — unknown role; "
            "use admin, manager, politician or volunteer_politician"
        ],
        ONE_IN_STAFF,
    ),
    "empty file": BadCase("staff.csv", lambda t: b"", ["staff.csv: file is empty"], ONE_IN_STAFF),
    "header only": BadCase(
        "units.csv",
        lambda t: t.splitlines(keepends=True)[0],
        ["units.csv: file has a header but no rows"],
        "import refused: 1 problem in units.csv; nothing was changed",
    ),
    "binary file": BadCase(
        "staff.csv",
        lambda t: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        [
            "staff.csv: is not a text file (it contains NUL bytes); "
            'save it from Excel as "CSV UTF-8"'
        ],
        ONE_IN_STAFF,
    ),
    "excel workbook": BadCase(
        "units.csv",
        lambda t: b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml",
        ['units.csv: is an Excel workbook, not a CSV file; save it from Excel as "CSV UTF-8"'],
        "import refused: 1 problem in units.csv; nothing was changed",
    ),
    "latin-1 export": BadCase(
        "staff.csv",
        lambda t: t.encode("latin-1"),
        ['staff.csv:4: is not UTF-8 text (byte 0xE4; Latin-1?); save it from Excel as "CSV UTF-8"'],
        ONE_IN_STAFF,
    ),
    "too many fields": BadCase(
        "staff.csv",
        lambda t: replace_in(t, "HR,BJO,,nej", "HR,BJO,,nej,extra"),
        ["staff.csv:3: row has 11 fields, the header has 10"],
        ONE_IN_STAFF,
    ),
    "mixed delimiters": BadCase(
        "staff.csv",
        lambda t: replace_in(
            t,
            "E1002,Bo Ek,+46 70 222 33 44,,manager,100,HR,BJO,,nej",
            "E1002;Bo Ek;+46 70 222 33 44;;manager;100;HR;BJO;;nej",
        ),
        [
            "staff.csv:3: row has 1 field, the header has 10 "
            "(split on ';' it has 10: are ',' and ';' mixed?)"
        ],
        ONE_IN_STAFF,
    ),
    "identity number as person id": BadCase(
        "staff.csv",
        lambda t: replace_in(t, "E1004", "19800101-1234"),
        ["staff.csv:5: person_id: looks like a personal identity number; use an employee number"],
        ONE_IN_STAFF,
    ),
    "unknown person in training": BadCase(
        "training.csv",
        lambda t: replace_in(t, "E1002,BJO", "E9999,BJO"),
        ["training.csv:3: person_id: 'E9999' — no such person_id in staff.csv"],
        "import refused: 1 problem in training.csv; nothing was changed",
    ),
}


@pytest.mark.parametrize("case", CORPUS.values(), ids=CORPUS.keys())
def test_bad_input_is_refused_exactly_and_changes_nothing(
    case: BadCase,
    workdir: Path,
    imported: dict[str, list[tuple[Any, ...]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = workdir / case.file
    changed = case.change(path.read_text(encoding="utf-8"))
    path.write_bytes(changed.encode() if isinstance(changed, str) else changed)

    run = dispatcher(capsys, *WITH_TRAINING)

    assert run.code == 1
    assert run.problem_lines == [
        *(f"error: {line}" for line in case.errors),
        f"dispatcher: error: {case.refusal}",
    ]
    assert run.out == ""
    assert tables(workdir / "roster.sqlite3") == imported


def test_a_20_mb_file_is_refused_before_it_is_read(
    workdir: Path, imported: dict[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    row = "E1001,Anna Lind,070-111 22 33,anna.lind@exempel.se,admin,100,Ekonomi,SOL,BJO,\n"
    header = (workdir / "staff.csv").read_text().splitlines(keepends=True)[0]
    with (workdir / "staff.csv").open("w") as stream:
        stream.write(header + row * (20 * 1024 * 1024 // len(row) + 1))
    assert (workdir / "staff.csv").stat().st_size >= 20 * 1024 * 1024

    run = dispatcher(capsys, *WITH_TRAINING)

    assert run.code == 1
    assert run.problem_lines == [
        "dispatcher: error: staff.csv: file is 20.0 MB; the limit is 16 MB ([roster] max_file_mb)"
    ]
    assert tables(workdir / "roster.sqlite3") == imported


def test_every_problem_in_every_file_is_listed_before_refusing(
    workdir: Path, imported: dict[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    units = workdir / "units.csv"
    units.write_text(replace_in(units.read_text(), "Skolgatan 4,2,", "Skolgatan 4,två,"))
    staff = workdir / "staff.csv"
    staff.write_text(
        replace_in(
            replace_in(staff.read_text(), "070-111 22 33", "070-CALL-ANNA"), "HR,BJO,,", "HR,,,"
        )
    )

    run = dispatcher(capsys, *WITH_TRAINING)

    assert run.code == 1
    assert run.problem_lines == [
        "error: units.csv:3: crisis_need: 'två' — must be a whole number, 0 or more (or empty)",
        "error: staff.csv:2: phone: '070-CALL-ANNA' — not a phone number (it contains letters)",
        "warning: staff.csv:3: no crisis placement: will not be called",
        "dispatcher: error: import refused: 2 problems in units.csv, staff.csv; "
        "nothing was changed",
    ]
    assert tables(workdir / "roster.sqlite3") == imported


def test_a_refused_first_import_does_not_even_create_the_database(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "staff.csv").write_bytes(b"")
    assert dispatcher(capsys, *IMPORT).code == 1
    assert not (workdir / "roster.sqlite3").exists()


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("missing.csv", "missing.csv: no such file"),
        (".", ".: is a directory, not a CSV file"),
    ],
)
def test_a_file_that_cannot_be_read_is_named(
    workdir: Path, capsys: pytest.CaptureFixture[str], argument: str, message: str
) -> None:
    run = dispatcher(capsys, "roster", "import", "--units", "units.csv", "--staff", argument)
    assert (run.code, run.problem_lines) == (1, [f"dispatcher: error: {message}"])


# --- imports that succeed ---------------------------------------------------------------------


def test_an_excel_semicolon_file_with_bom_imports_cleanly(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in (FIXTURES / "excel").iterdir():
        data = source.read_bytes()
        # Guard the fixture itself: a checkout that rewrote its bytes would prove nothing.
        assert data.startswith(b"\xef\xbb\xbf")
        assert b";" in data
        assert b"\r\n" in data
        shutil.copy(source, workdir / source.name)
    assert "070-123 45 67" in (workdir / "staff.csv").read_text(encoding="utf-8-sig")

    run = dispatcher(capsys, *WITH_TRAINING)

    assert run.code == 0, run.err
    assert run.problem_lines == []
    assert run.out.splitlines() == [
        "roster imported: 2 units, 3 people, 2 training weeks",
        "units: 2 added, 0 updated, 0 removed",
        "people: 3 added, 0 updated, 0 removed",
        "training weeks: 2 (before: 0)",
        "warnings: 0",
    ]
    people = tables(workdir / "roster.sqlite3")["people"]
    assert people == [
        (
            "E2001",
            "Åsa Öberg",
            "+46701234567",
            "mobile",
            "asa.oberg@exempel.se",
            "manager",
            100.0,
            "Förvaltning",
            "SOL",
            "BJO",
            0,
        ),
        (
            "E2002",
            "Örjan Ärlig",
            "+46739876543",
            "mobile",
            "orjan.arlig@exempel.se",
            "volunteer_politician",
            37.5,
            "Nämnd",
            "BJO",
            "SOL",
            0,
        ),
        (
            "E2003",
            "Ülla Åkesson",
            "+46765551234",
            "mobile",
            None,
            "politician",
            50.0,
            "Kommunstyrelsen",
            "SOL",
            None,
            1,
        ),
    ]


def test_a_reimport_replaces_the_roster_and_says_what_changed(
    workdir: Path, imported: dict[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    # HEM closes (Cecilia moves to BJO); SOL's need changes; Bo leaves; Eva arrives at
    # the new unit KOK; one training week goes, one comes.
    (workdir / "units.csv").write_text(
        "unit_id,name,service,area,address,crisis_need\n"
        "SOL,Solgården,elderly care,Norr,Solvägen 1,5\n"
        "BJO,Björkängens skola,school,Söder,Skolgatan 4,2\n"
        "KOK,Centralköket,kitchen,Centrum,Köksgatan 1,\n"
    )
    staff = (workdir / "staff.csv").read_text()
    staff = replace_in(staff, "E1002,Bo Ek,+46 70 222 33 44,,manager,100,HR,BJO,,nej\n", "")
    staff = replace_in(staff, "Kommunfullmäktige,HEM,SOL", "Kommunfullmäktige,BJO,SOL")
    staff += "E1005,Eva Strand,072-555 66 77,,manager,100,Kök,KOK,SOL,\n"
    (workdir / "staff.csv").write_text(staff)
    (workdir / "training.csv").write_text(
        "person_id,unit_id,term,week_start\n"
        "E1001,SOL,VT2026,2026-01-12\n"
        "E1005,KOK,VT2026,2026-02-02\n"
    )

    run = dispatcher(capsys, *WITH_TRAINING)

    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "roster imported: 3 units, 4 people, 2 training weeks",
        "units: 1 added, 1 updated, 1 removed",
        "people: 1 added, 1 updated, 1 removed",
        "training weeks: 2 (before: 3)",
        "warnings: 0",
    ]
    after = tables(workdir / "roster.sqlite3")
    assert [u[0] for u in after["units"]] == ["BJO", "KOK", "SOL"]
    assert [p[0] for p in after["people"]] == ["E1001", "E1003", "E1004", "E1005"]
    assert [(t[0], t[1]) for t in after["training_weeks"]] == [("E1001", "SOL"), ("E1005", "KOK")]
    assert [r[1:] for r in after["roster_imports"]][-1][1:] == (
        "cli:hr-anna",
        "units.csv, staff.csv, training.csv",
        1,
        1,
        1,
        1,
        1,
        1,
        2,
        0,
    )


def test_a_dry_run_reports_the_changes_and_writes_nothing(
    workdir: Path, imported: dict[str, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    staff = workdir / "staff.csv"
    staff.write_text(replace_in(staff.read_text(), "Bo Ek", "Bo Eklund"))

    run = dispatcher(capsys, *WITH_TRAINING, "--dry-run")

    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "dry run, nothing was changed: the import would hold 3 units, 4 people, 3 training weeks",
        "units: 0 added, 0 updated, 0 removed",
        "people: 0 added, 1 updated, 0 removed",
        "training weeks: 3 (before: 3)",
        "warnings: 0",
    ]
    assert tables(workdir / "roster.sqlite3") == imported


def test_a_dry_run_without_a_database_creates_none(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = dispatcher(capsys, *IMPORT, "--dry-run")
    assert run.code == 0, run.err
    assert run.out.splitlines()[1] == "units: 3 added, 0 updated, 0 removed"
    assert not (workdir / "roster.sqlite3").exists()


def test_warnings_are_printed_and_do_not_block(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USER")
    staff = workdir / "staff.csv"
    staff.write_text(replace_in(staff.read_text(), "+46 70 222 33 44", "08-123 456 78"))

    run = dispatcher(capsys, *IMPORT)

    assert run.code == 0, run.err
    assert run.problem_lines == [
        "warning: staff.csv:3: phone: '08-123 456 78' — fixed-line number: kept for phoning, "
        "not used for SMS",
        "warning: staff.csv:3: no mobile number and no e-mail: cannot be reached",
    ]
    assert run.out.splitlines()[-1] == "warnings: 2"
    after = tables(workdir / "roster.sqlite3")
    assert after["people"][1][2:4] == ("+46812345678", "fixed_line")
    assert after["roster_imports"][0][2] == "cli"  # no $USER


def test_json_output_on_success_and_on_refusal(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = dispatcher(capsys, *WITH_TRAINING, "--json")
    assert run.code == 0, run.err
    outcome = json.loads(run.out)
    assert outcome["imported"] is True
    assert outcome["units"]["added_ids"] == ["BJO", "HEM", "SOL"]
    assert outcome["people"]["added"] == 4
    assert outcome["training_weeks"] == {"before": 0, "after": 3}
    assert outcome["errors"] == outcome["warnings"] == []

    staff = workdir / "staff.csv"
    staff.write_text(replace_in(staff.read_text(), ",manager,", ",boss,"))
    run = dispatcher(capsys, *WITH_TRAINING, "--json")
    assert run.code == 1
    refused = json.loads(run.out)
    assert refused["imported"] is False
    assert "units" not in refused
    assert refused["errors"] == [
        {
            "file": "staff.csv",
            "line": 3,
            "column": "role",
            "value": "boss",
            "message": "unknown role; use admin, manager, politician or volunteer_politician",
            "severity": "error",
            "text": "staff.csv:3: role: 'boss' — unknown role; "
            "use admin, manager, politician or volunteer_politician",
        }
    ]
