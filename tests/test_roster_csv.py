"""Reading roster files and checking their rows (pure: bytes in, roster or problems out)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.roster import Person, PhoneKind, Role, TrainingWeek, Unit
from dispatcher.domain.terms import parse_term
from dispatcher.roster_import import (
    ImportProblem,
    RosterFile,
    RosterParse,
    detect_delimiter,
    normalise_header,
    parse_roster_files,
)

TODAY = date(2026, 2, 1)
UNITS_HEADER = "unit_id,name,service,area,address,crisis_need"
UNITS = (
    f"{UNITS_HEADER}\n"
    "SOL,Solgården,elderly care,Norr,Solvägen 1,3\n"
    "BJO,Björkängen,school,Söder,Skolgatan 4,\n"
)
STAFF_HEADER = "person_id,name,phone,email,role,pay_pct,department,placement,reserve_placement"
ANNA = "E1,Anna Lind,070-111 22 33,anna@exempel.se,admin,100,Ekonomi,SOL,BJO"


def parse(
    units: str | bytes = UNITS,
    staff: str | bytes = f"{STAFF_HEADER}\n{ANNA}\n",
    training: str | bytes | None = None,
) -> RosterParse:
    def file(name: str, data: str | bytes) -> RosterFile:
        return RosterFile(name, data.encode() if isinstance(data, str) else data)

    return parse_roster_files(
        file("units.csv", units),
        file("staff.csv", staff),
        None if training is None else file("training.csv", training),
        today=TODAY,
    )


def errors(result: RosterParse) -> list[str]:
    return [str(p) for p in result.errors]


def warnings(result: RosterParse) -> list[str]:
    return [str(p) for p in result.warnings]


def staff_rows(*rows: str, header: str = STAFF_HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


# --- problems as text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (
            ImportProblem("staff.csv", 4, "phone", "070-12", "not a valid phone number"),
            "staff.csv:4: phone: '070-12' — not a valid phone number",
        ),
        (ImportProblem("staff.csv", None, None, None, "file is empty"), "staff.csv: file is empty"),
        (
            ImportProblem("staff.csv", 1, "phone", None, "required column is missing"),
            "staff.csv:1: phone: required column is missing",
        ),
        (
            ImportProblem("staff.csv", 7, None, None, "row has 3 fields, the header has 9"),
            "staff.csv:7: row has 3 fields, the header has 9",
        ),
        (
            ImportProblem("u.csv", 2, "name", "a\nb" + "x" * 80, "m"),
            "u.csv:2: name: 'a\\nb" + "x" * 55 + "…' — m",  # escaped, then cut to 60
        ),
    ],
)
def test_a_problem_reads_file_line_column_value_message(problem: ImportProblem, text: str) -> None:
    assert str(problem) == text


# --- decoding -----------------------------------------------------------------------------


def test_a_byte_order_mark_and_crlf_are_fine() -> None:
    result = parse(staff=("\ufeff" + staff_rows(ANNA)).replace("\n", "\r\n").encode())
    assert errors(result) == []
    assert result.roster is not None
    assert [p.person_id for p in result.roster.people] == ["E1"]


def test_latin1_is_refused_naming_the_line() -> None:
    data = staff_rows(ANNA, "E2,Åsa Berg,,,admin,,,SOL,").encode("latin-1")
    assert errors(parse(staff=data)) == [
        'staff.csv:3: is not UTF-8 text (byte 0xC5; Latin-1?); save it from Excel as "CSV UTF-8"'
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a text file (it contains NUL bytes)"),
        (b"PK\x03\x04\x14\x00\x06\x00", "is an Excel workbook, not a CSV file"),
        ("person_id,name".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    ],
)
def test_files_that_are_not_utf8_text_are_refused(data: bytes, message: str) -> None:
    assert errors(parse(staff=data)) == [f'staff.csv: {message}; save it from Excel as "CSV UTF-8"']


@pytest.mark.parametrize("data", ["", "\ufeff", "\r\n\r\n", "   \n"])
def test_an_empty_file_is_an_error(data: str) -> None:
    assert errors(parse(units=data)) == ["units.csv: file is empty"]


def test_a_header_without_rows_is_an_error_for_units_and_staff() -> None:
    result = parse(units=UNITS_HEADER + "\n", staff=STAFF_HEADER + "\n")
    assert errors(result) == [
        "units.csv: file has a header but no rows",
        "staff.csv: file has a header but no rows",
    ]


def test_an_empty_or_header_only_training_file_is_no_error() -> None:
    assert warnings(parse(training="")) == ["training.csv: file is empty"]
    result = parse(training="person_id,unit_id,term,week_start\n")
    assert errors(result) == []
    assert result.roster is not None
    assert result.roster.training == ()


# --- delimiter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("a,b,c", ","),
        ("a;b;c", ";"),
        ('"a;x",b,c', ","),  # the semicolon is inside quotes
        ('"a,x";"b,y";c', ";"),
        ("single", ","),
    ],
)
def test_the_delimiter_is_read_from_the_header(header: str, delimiter: str) -> None:
    assert detect_delimiter(header) == delimiter


@given(st.lists(st.from_regex(r"[a-z_ ]{1,12}", fullmatch=True), min_size=2, max_size=12))
def test_a_plain_header_gives_its_own_delimiter(names: list[str]) -> None:
    assert detect_delimiter(",".join(names)) == ","
    assert detect_delimiter(";".join(names)) == ";"


def test_a_semicolon_file_with_commas_in_values_reads_right() -> None:
    staff = staff_rows(
        "E1;Lind, Anna;070-111 22 33;;admin;37,5;Ekonomi, stab;SOL;",
        header=STAFF_HEADER.replace(",", ";"),
    )
    result = parse(staff=staff)
    assert errors(result) == []
    assert result.roster is not None
    person = result.roster.people[0]
    assert (person.name, person.pay_pct, person.department) == ("Lind, Anna", 37.5, "Ekonomi, stab")


def test_excels_sep_line_sets_the_delimiter_and_lines_still_count_from_the_file() -> None:
    staff = "sep=;\n" + staff_rows(
        "E1;Anna;070-111 22 33;;admin;;;SOL;",
        "E2;Bo;070-12;;admin;;;SOL;",
        header=STAFF_HEADER.replace(",", ";"),
    )
    assert errors(parse(staff=staff)) == [
        "staff.csv:4: phone: '070-12' — not a valid phone number (too short)"
    ]


def test_a_row_with_too_many_fields_names_the_line_and_both_counts() -> None:
    staff = staff_rows(ANNA, "E2,Bo,,,admin,,,SOL,,extra,more")
    assert errors(parse(staff=staff)) == ["staff.csv:3: row has 11 fields, the header has 9"]


def test_a_row_with_the_other_delimiter_is_reported_as_mixed() -> None:
    staff = staff_rows(ANNA, "E2;Bo;;;admin;;;SOL;")
    assert errors(parse(staff=staff)) == [
        "staff.csv:3: row has 1 field, the header has 9 "
        "(split on ';' it has 9: are ',' and ';' mixed?)"
    ]


def test_blank_lines_and_rows_of_empty_cells_are_skipped() -> None:
    staff = staff_rows(ANNA, "", ",,,,,,,,", " , ,", "E2,Bo,,bo@exempel.se,admin,,,SOL,")
    result = parse(staff=staff)
    assert errors(result) == []
    assert result.roster is not None
    assert len(result.roster.people) == 2


# --- line numbers -------------------------------------------------------------------------


def test_line_numbers_are_physical_lines_across_quoted_newlines() -> None:
    units = (
        f"{UNITS_HEADER}\n"
        'SOL,Solgården,elderly care,Norr,"Solvägen 1\nBox 2\nNorrby",3\n'
        "BJO,Björkängen,school,Söder,Skolgatan 4,many\n"
    )
    result = parse(units=units)
    assert errors(result) == [
        "units.csv:5: crisis_need: 'many' — must be a whole number, 0 or more (or empty)"
    ]


def test_an_unclosed_quote_is_suspected() -> None:
    staff = staff_rows('E1,"Anna Lind,070-111 22 33,,admin,,,SOL,', "E2,Bo,,,admin,,,SOL,")
    assert errors(parse(staff=staff)) == [
        "staff.csv:2: row has 2 fields, the header has 9 "
        "(a quoted field runs over several lines: is a closing quote missing?)"
    ]


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("unit_id", "unit_id"),
        ("  Unit_ID ", "unit_id"),
        ("Unit ID", "unit_id"),
        ("reserve-placement", "reserve_placement"),
        ("E-mail", "email"),
        ("PAY_PCT", "pay_pct"),
    ],
)
def test_header_names_ignore_case_spacing_and_dashes(raw: str, name: str) -> None:
    assert normalise_header(raw) == name


def test_columns_in_any_order_with_extra_columns() -> None:
    header = (
        "Placement, NAME ,Kommentar,person_id,Role,phone,EMAIL,pay_pct,Reserve_Placement,department"
    )
    row = "SOL,Anna,hej,E1,admin,070-111 22 33,,,,"
    result = parse(staff=staff_rows(row, header=header))
    assert errors(result) == []
    assert result.roster is not None
    assert result.roster.people[0].placement == "SOL"
    assert result.roster.people[0].name == "Anna"


def test_each_missing_column_is_one_error_and_rows_are_not_checked() -> None:
    header = "person_id,name,email,role,department,placement,reserve_placement"
    staff = staff_rows("E1,Anna,bad,boss,,SOL,", header=header)
    assert errors(parse(staff=staff)) == [
        "staff.csv:1: phone: required column is missing",
        "staff.csv:1: pay_pct: required column is missing",
    ]


def test_a_misspelt_column_gets_a_suggestion() -> None:
    header = STAFF_HEADER.replace("reserve_placement", "reserv_placement")
    assert errors(parse(staff=staff_rows(ANNA, header=header))) == [
        "staff.csv:1: reserve_placement: required column is missing (is it 'reserv_placement'?)"
    ]


def test_a_repeated_column_is_an_error() -> None:
    header = STAFF_HEADER + ",Phone"
    assert errors(parse(staff=staff_rows(ANNA + ",070-999 88 77", header=header))) == [
        "staff.csv:1: phone: column appears more than once (columns 3 and 10)"
    ]


@pytest.mark.parametrize("column", ["personnummer", "Personnummer", "personal_number", "SSN"])
def test_an_identity_number_column_is_ignored_with_one_warning(column: str) -> None:
    result = parse(staff=staff_rows(ANNA + ",19800101-1234", header=f"{STAFF_HEADER},{column}"))
    assert errors(result) == []
    assert warnings(result) == [
        f"staff.csv:1: {column}: column ignored: personal identity numbers are never read or stored"
    ]
    assert result.roster is not None
    assert "19800101" not in repr(result.roster)


def test_a_staff_number_column_is_not_mistaken_for_identity_numbers() -> None:
    result = parse(staff=staff_rows(ANNA + ",4711", header=f"{STAFF_HEADER},personalnummer"))
    assert warnings(result) == []


# --- field size ---------------------------------------------------------------------------


def test_a_giant_field_is_an_error_not_a_crash() -> None:
    giant = "x" * 200_000
    units = f"{UNITS_HEADER}\nSOL,Solgården,elderly care,Norr,{giant},3\nBJO,B,school,S,Gatan 1,\n"
    # Anna is placed at SOL, whose row was lost: no second error about SOL for her.
    assert errors(parse(units=units)) == [
        "units.csv:2: row cannot be read: a field is longer than 131,072 characters",
    ]


def test_ids_on_rows_that_cannot_be_read_are_not_reported_unknown_elsewhere() -> None:
    units = f"{UNITS_HEADER}\nSOL,Solgården,elderly care,Norr,Solvägen 1,3,extra\nBJO;B;s;S;G 1;\n"
    staff = staff_rows(ANNA, "E2,Bo,,bo@exempel.se,admin,,,XYZ,")
    assert errors(parse(units=units, staff=staff)) == [
        "units.csv:2: row has 7 fields, the header has 6",
        "units.csv:3: row has 1 field, the header has 6 "
        "(split on ';' it has 6: are ',' and ';' mixed?)",
        "staff.csv:3: placement: 'XYZ' — no such unit_id in units.csv",
    ]


def test_a_long_field_is_an_error_but_its_id_still_counts() -> None:
    long = "x" * 5000
    units = f"{UNITS_HEADER}\nSOL,Solgården,elderly care,Norr,{long},3\nBJO,B,school,S,Gatan 1,\n"
    assert errors(parse(units=units)) == [
        "units.csv:2: address: is 5,000 characters long; the limit is 1,000"
    ]


# --- units --------------------------------------------------------------------------------


def test_units_are_read_with_defaults() -> None:
    units = (
        f"{UNITS_HEADER},training_capacity\n"
        "SOL,Solgården,elderly care,Norr,Solvägen 1,3,\n"
        "BJO,B,school,S,G 1,,0\n"
    )
    result = parse(units=units)
    assert result.roster is not None
    assert result.roster.units == (
        Unit("SOL", "Solgården", "elderly care", "Norr", "Solvägen 1", 3, 2),
        Unit("BJO", "B", "school", "S", "G 1", None, 0),
    )


def test_unit_problems_are_all_reported() -> None:
    units = (
        f"{UNITS_HEADER},training_capacity\n"
        "SOL,Solgården,elderly care,Norr,Solvägen 1,3,\n"
        "SOL,Again,school,Söder,Gatan 2,1,\n"
        ",Nameless,school,Söder,Gatan 3,1,\n"
        "BJO,,school,,Gatan 4,-1,2.5\n"
    )
    assert errors(parse(units=units)) == [
        "units.csv:3: unit_id: 'SOL' — duplicate unit_id; first on line 2",
        "units.csv:4: unit_id: must not be empty",
        "units.csv:5: name: must not be empty",
        "units.csv:5: area: must not be empty",
        "units.csv:5: crisis_need: '-1' — must be a whole number, 0 or more (or empty)",
        "units.csv:5: training_capacity: '2.5' — must be a whole number, 0 or more (or empty)",
    ]


# --- staff --------------------------------------------------------------------------------


def test_a_person_is_read_and_normalised() -> None:
    row = 'E1, Anna Lind ,070-111 22 33,Anna@Exempel.SE,Chef,"37,5",Ekonomi,SOL,BJO,ja'
    result = parse(staff=staff_rows(row, header=STAFF_HEADER + ",protected"))
    assert errors(result) == []
    assert result.roster is not None
    assert result.roster.people == (
        Person(
            person_id="E1",
            name="Anna Lind",
            phone="+46701112233",
            phone_kind=PhoneKind.MOBILE,
            email="Anna@exempel.se",
            role=Role.MANAGER,
            pay_pct=37.5,
            department="Ekonomi",
            placement="SOL",
            reserve_placement="BJO",
            protected=True,
        ),
    )


@pytest.mark.parametrize(
    ("role", "pay_pct", "expected"),
    [
        ("politician", "40", Role.VOLUNTEER_POLITICIAN),
        ("politician", '"49,9 %"', Role.VOLUNTEER_POLITICIAN),
        ("Politiker", "50", Role.POLITICIAN),
        ("politician", "100", Role.POLITICIAN),
        ("volunteer_politician", "", Role.VOLUNTEER_POLITICIAN),
        ("Volunteer politician", "", Role.VOLUNTEER_POLITICIAN),
        ("fritidspolitiker", "", Role.VOLUNTEER_POLITICIAN),
        ("ADMIN", "", Role.ADMIN),
        ("administratör", "", Role.ADMIN),
        ("manager", "80", Role.MANAGER),
    ],
)
def test_roles_and_the_volunteer_rule(role: str, pay_pct: str, expected: Role) -> None:
    row = f"E1,Anna,070-111 22 33,,{role},{pay_pct},,SOL,"
    result = parse(staff=staff_rows(row))
    assert errors(result) == []
    assert result.roster is not None
    assert result.roster.people[0].role is expected


def test_a_politician_needs_pay_pct() -> None:
    assert errors(parse(staff=staff_rows("E1,Anna,070-111 22 33,,politician,,,SOL,"))) == [
        "staff.csv:2: pay_pct: must be given for a politician "
        "(below 50 counts as volunteer_politician)"
    ]


def test_every_staff_problem_is_reported_in_line_order() -> None:
    staff = staff_rows(
        ANNA,
        "E1,Anna igen,070-999 88 77,,admin,,,SOL,",
        "800101-1234,Bo,070-CALL,bo@,boss,,,XYZ,sol",
        ",,070-222 33 44,,admin,150,,SOL,",
        "E4,Cecilia,070-12,c@exempel.se,manager,abc,,SOL,",
    )
    assert errors(parse(staff=staff)) == [
        "staff.csv:3: person_id: 'E1' — duplicate person_id; first on line 2",
        "staff.csv:4: person_id: looks like a personal identity number; use an employee number",
        "staff.csv:4: phone: '070-CALL' — not a phone number (it contains letters)",
        "staff.csv:4: email: 'bo@' — not an e-mail address (nothing after @)",
        "staff.csv:4: role: 'boss' — unknown role; use admin, manager, politician or "
        "volunteer_politician",
        "staff.csv:4: placement: 'XYZ' — no such unit_id in units.csv",
        "staff.csv:4: reserve_placement: 'sol' — no such unit_id in units.csv "
        "(did you mean 'SOL'?)",
        "staff.csv:5: person_id: must not be empty",
        "staff.csv:5: name: must not be empty",
        "staff.csv:5: pay_pct: '150' — must be a number from 0 to 100 (or empty)",
        "staff.csv:6: phone: '070-12' — not a valid phone number (too short)",
        "staff.csv:6: pay_pct: 'abc' — must be a number from 0 to 100 (or empty)",
    ]


@pytest.mark.parametrize(
    "person_id", ["800101-1234", "19800101-1234", "198001011234", "800161+1234", "8112189876"]
)
def test_identity_numbers_as_person_ids_are_refused(person_id: str) -> None:
    row = f"{person_id},Anna,070-111 22 33,,admin,,,SOL,"
    assert errors(parse(staff=staff_rows(row))) == [
        "staff.csv:2: person_id: looks like a personal identity number; use an employee number"
    ]


def test_an_identity_number_is_never_echoed_in_any_problem() -> None:
    row = "19800101-1234,Anna,070-111 22 33,,admin,,,SOL,"
    training = "person_id,unit_id,week_start\n19800101-1234,SOL,2026-01-12\n"
    result = parse(staff=staff_rows(row, row.replace("Anna", "Bo")), training=training)
    assert errors(result) == [
        "staff.csv:2: person_id: looks like a personal identity number; use an employee number",
        "staff.csv:3: person_id: looks like a personal identity number; use an employee number",
    ]
    assert not any("19800101" in str(p) for p in result.problems)


@pytest.mark.parametrize("person_id", ["1234567890", "E800101-1234", "801301-1234", "4711"])
def test_employee_numbers_are_not_taken_for_identity_numbers(person_id: str) -> None:
    row = f"{person_id},Anna,070-111 22 33,,admin,,,SOL,"
    assert errors(parse(staff=staff_rows(row))) == []


def test_staff_warnings() -> None:
    staff = staff_rows(
        "E1,Anna,08-123 456 78,,admin,,,SOL,",  # fixed line and no e-mail: unreachable
        "E2,Bo,,,admin,,,SOL,",  # nothing at all
        "E3,Cecilia,070-111 22 33,c@exempel.se,admin,,,,",  # no placement
        "E4,David,0701112233,d@exempel.se,admin,,,SOL,SOL",  # E3's mobile; reserve = placement
    )
    result = parse(staff=staff)
    assert errors(result) == []
    assert warnings(result) == [
        "staff.csv:2: phone: '08-123 456 78' — fixed-line number: kept for phoning, "
        "not used for SMS",
        "staff.csv:2: no mobile number and no e-mail: cannot be reached",
        "staff.csv:3: no mobile number and no e-mail: cannot be reached",
        "staff.csv:4: no crisis placement: will not be called",
        "staff.csv:5: phone: '0701112233' — same mobile number as on line 4: SMS replies "
        "from it cannot be told apart",
        "staff.csv:5: reserve_placement: 'SOL' — same unit as placement",
    ]
    assert result.roster is not None
    anna = result.roster.people[0]
    assert (anna.phone, anna.phone_kind, anna.sms_number) == (
        "+46812345678",
        PhoneKind.FIXED_LINE,
        None,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ja", True),
        ("Yes", True),
        ("1", True),
        ("TRUE", True),
        ("nej", False),
        ("0", False),
        ("", False),
    ],
)
def test_protected_accepts_yes_and_no_in_both_languages(text: str, expected: bool) -> None:
    row = f"{ANNA},{text}"
    result = parse(staff=staff_rows(row, header=STAFF_HEADER + ",protected"))
    assert result.roster is not None
    assert result.roster.people[0].protected is expected


def test_protected_refuses_anything_else() -> None:
    row = f"{ANNA},kanske"
    assert errors(parse(staff=staff_rows(row, header=STAFF_HEADER + ",protected"))) == [
        "staff.csv:2: protected: 'kanske' — must be yes or no (ja/nej, 1/0)"
    ]


def test_placements_are_not_checked_when_units_cannot_be_read() -> None:
    result = parse(units=b"\x00\x01", staff=staff_rows(ANNA))
    assert errors(result) == [
        'units.csv: is not a text file (it contains NUL bytes); save it from Excel as "CSV UTF-8"'
    ]


# --- training -----------------------------------------------------------------------------


def test_training_weeks_are_read_and_duplicates_merged() -> None:
    training = (
        "person_id,unit_id,term,week_start\n"
        "E1,SOL,VT2026,2026-01-12\n"
        "E1,SOL,,2026-01-12\n"
        "E1,BJO,ht25,2025-09-08\n"
    )
    result = parse(training=training)
    assert errors(result) == []
    assert result.roster is not None
    assert result.roster.training == (
        TrainingWeek("E1", "SOL", parse_term("VT2026"), date(2026, 1, 12)),
        TrainingWeek("E1", "BJO", parse_term("HT2025"), date(2025, 9, 8)),
    )


def test_training_problems() -> None:
    training = (
        "person_id,unit_id,week_start,term\n"
        "E9,SOL,2026-01-12,\n"
        "E1,XYZ,2026-01-12,\n"
        "E1,SOL,12/01/2026,\n"
        "E1,SOL,2026-02-30,\n"
        "E1,SOL,2026-01-12,HT2026\n"
        "E1,SOL,2026-01-19,VT\n"
        "E1,SOL,2027-09-06,\n"
    )
    result = parse(training=training)
    assert errors(result) == [
        "training.csv:2: person_id: 'E9' — no such person_id in staff.csv",
        "training.csv:3: unit_id: 'XYZ' — no such unit_id in units.csv",
        "training.csv:4: week_start: '12/01/2026' — must be a date written like 2026-01-12",
        "training.csv:5: week_start: '2026-02-30' — must be a date written like 2026-01-12",
        "training.csv:6: term: 'HT2026' — does not match week_start 2026-01-12, which is in VT2026",
        "training.csv:7: term: 'VT' — not a term; write it like VT2026 or HT2025",
    ]
    assert warnings(result) == [
        "training.csv:8: week_start: '2027-09-06' — is more than a year ahead"
    ]


def test_problems_are_sorted_by_file_then_line_and_no_roster_is_given() -> None:
    result = parse(
        units=f"{UNITS_HEADER}\nSOL,S,s,a,addr,x\nBJO,B,s,a,addr,\n",
        staff=staff_rows("E1,Anna,070-12,,admin,,,SOL,", "E2,Bo,,,admin,,,,"),
        training="person_id,unit_id,week_start\nE1,SOL,bad\n",
    )
    assert result.roster is None
    assert [(p.file, p.line, p.severity) for p in result.problems] == [
        ("units.csv", 2, "error"),
        ("staff.csv", 2, "error"),
        ("staff.csv", 3, "warning"),
        ("staff.csv", 3, "warning"),
        ("training.csv", 2, "error"),
    ]
