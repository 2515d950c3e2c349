"""Roster CSV files: decoding, delimiter, header and rows with their physical line numbers.

Tolerant where Excel and HR systems differ (byte-order mark, `;` or `,`, a `sep=;` first
line, header case and spacing, column order, extra columns, trailing rows of empty
cells) and strict where a guess could import the wrong data (encoding, field counts,
missing or repeated columns). Every problem is logged; nothing here raises on bad input.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dispatcher.roster_import.problems import ProblemLog, RosterFile

# No roster field needs more; a longer one is a broken export, not data.
MAX_FIELD_CHARS = 1000

SAVE_AS_CSV = 'save it from Excel as "CSV UTF-8"'

_EXCEL_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # .xlsx (zip), .xls (OLE)
_SEP_LINE = re.compile(r"^sep=([,;\t])$", re.IGNORECASE)
_HEADER_SPACING = re.compile(r"[\s\-]+")
# Columns that hold personal identity numbers (personnummer): never read, never stored.
# "personalnummer" (a staff number in Swedish) deliberately does not match.
_IDENTITY_COLUMN = re.compile(
    r"personnummer|personnr|samordningsnummer|personal_(?:identity_|id_)?number"
    r"|social_security|^ssn$|^pnr$|^person_nr$"
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """The columns a roster file must have, those it may have, and whether rows are required."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    rows_required: bool = True  # False: a header alone is fine, an empty file only a warning


@dataclass(frozen=True, slots=True)
class Record:
    """One data row: its first physical line and the stripped values of the spec's columns.

    `too_long` names the columns already reported as too long: the row's ids still count
    as defined, but nothing is built from it.
    """

    line: int
    fields: Mapping[str, str]
    too_long: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A roster file that could be read: its delimiter, the columns present and its rows."""

    file: str
    delimiter: str
    columns: frozenset[str]
    records: tuple[Record, ...]


# Spellings of column names common enough in exports to accept as they are.
_HEADER_ALIASES = {"e_mail": "email"}


def normalise_header(name: str) -> str:
    """`" Unit ID "` → `unit_id`: case, surrounding spaces, inner spaces and dashes ignored."""
    normalised = _HEADER_SPACING.sub("_", name.strip().lower())
    return _HEADER_ALIASES.get(normalised, normalised)


def detect_delimiter(header_line: str) -> str:
    """`;` if the header line has more semicolons than commas outside quotes, else `,`."""
    counts = {",": 0, ";": 0}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def decode_text(file: RosterFile, log: ProblemLog) -> str | None:
    """The file's text, or None (with one error) when it is not UTF-8 text."""
    data = file.data
    if data.startswith(_EXCEL_SIGNATURES):
        log.error(file.name, None, f"is an Excel workbook, not a CSV file; {SAVE_AS_CSV}")
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        log.error(file.name, None, f"is UTF-16 text, not UTF-8; {SAVE_AS_CSV}")
        return None
    if b"\x00" in data:
        log.error(file.name, None, f"is not a text file (it contains NUL bytes); {SAVE_AS_CSV}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        log.error(
            file.name, line, f"is not UTF-8 text (byte 0x{byte:02X}; Latin-1?); {SAVE_AS_CSV}"
        )
        return None
    return text.removeprefix("\ufeff")


def read_table(file: RosterFile, spec: TableSpec, log: ProblemLog) -> CsvTable | None:
    """Read one roster file; None when it cannot be used at all (the reason is logged)."""
    text = decode_text(file, log)
    if text is None:
        return None
    lines = io.StringIO(text, newline="").readlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        _empty(file.name, spec, log)
        return None
    delimiter = detect_delimiter(lines[first])
    sep_line = _SEP_LINE.match(lines[first].strip())
    if sep_line is not None:  # Excel's "sep=;" hint line
        delimiter = sep_line.group(1)
        first += 1
    records = _Records(lines, first, delimiter)
    header = next(records, None)
    if header is None:
        _empty(file.name, spec, log)
        return None
    header_line, _, header_fields = header
    if isinstance(header_fields, csv.Error):
        log.error(file.name, header_line, f"header cannot be read: {header_fields}")
        return None
    columns = _check_header(file.name, header_line, header_fields, spec, log)
    if columns is None:
        return None
    return _read_rows(
        file.name,
        records,
        lines=lines,
        width=len(header_fields),
        columns=columns,
        spec=spec,
        log=log,
    )


def _empty(file: str, spec: TableSpec, log: ProblemLog) -> None:
    if spec.rows_required:
        log.error(file, None, "file is empty")
    else:
        log.warning(file, None, "file is empty")


_Fields = list[str] | csv.Error


class _Records:
    """(first physical line, last physical line, fields or the csv error) per CSV record.

    Line numbers are the file's own (1-based), also when a quoted field holds newlines.
    """

    def __init__(self, lines: list[str], first: int, delimiter: str) -> None:
        self.delimiter = delimiter
        self._first = first
        self._reader = csv.reader(iter(lines[first:]), delimiter=delimiter)

    def __iter__(self) -> Iterator[tuple[int, int, _Fields]]:
        return self

    def __next__(self) -> tuple[int, int, _Fields]:
        start = self._first + self._reader.line_num + 1
        fields: _Fields
        try:
            fields = next(self._reader)
        except csv.Error as error:
            fields = error
        return start, self._first + self._reader.line_num, fields


def _check_header(
    file: str, line: int, header: list[str], spec: TableSpec, log: ProblemLog
) -> dict[str, int] | None:
    """Column name → position, or None when a wanted column is missing or repeated."""
    positions: dict[str, list[int]] = {}
    for index, raw in enumerate(header):
        name = normalise_header(raw)
        if not name:
            continue
        if _IDENTITY_COLUMN.search(name):
            log.warning(
                file,
                line,
                "column ignored: personal identity numbers are never read or stored",
                column=raw.strip(),
            )
            continue
        positions.setdefault(name, []).append(index)
    usable = True
    for name in (*spec.required, *spec.optional):
        where = positions.get(name, [])
        if len(where) > 1:
            numbers = " and ".join(str(i + 1) for i in where)
            log.error(file, line, f"column appears more than once (columns {numbers})", column=name)
            usable = False
    for name in spec.required:
        if name not in positions:
            log.error(
                file, line, "required column is missing" + _guess(name, positions), column=name
            )
            usable = False
    if not usable:
        return None
    wanted = (*spec.required, *spec.optional)
    return {name: positions[name][0] for name in wanted if name in positions}


def _guess(missing: str, present: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(missing, list(present), n=1, cutoff=0.75)
    return f" (is it '{close[0]}'?)" if close else ""


def _read_rows(
    file: str,
    records: _Records,
    *,
    lines: list[str],
    width: int,
    columns: dict[str, int],
    spec: TableSpec,
    log: ProblemLog,
) -> CsvTable:
    good: list[Record] = []
    rows_seen = 0
    for start, end, fields in records:
        if isinstance(fields, csv.Error):
            rows_seen += 1
            log.error(file, start, f"row cannot be read: {_csv_error_text(fields)}")
            continue
        joined = "".join(fields)
        if not joined or joined.isspace():
            continue  # a blank line, or Excel's row of empty cells
        rows_seen += 1
        if len(fields) != width:
            raw = "".join(lines[start - 1 : end])
            hint = _width_hint(raw, records.delimiter, width, spans_lines=end > start)
            log.error(file, start, f"row has {_fields(len(fields))}, the header has {width}{hint}")
            continue
        values = {name: fields[index].strip() for name, index in columns.items()}
        too_long = (
            [name for name, value in values.items() if len(value) > MAX_FIELD_CHARS]
            if len(joined) > MAX_FIELD_CHARS
            else []
        )
        for name in too_long:
            log.error(
                file,
                start,
                f"is {len(values[name]):,} characters long; the limit is {MAX_FIELD_CHARS:,}",
                column=name,
            )
        good.append(Record(start, values, frozenset(too_long)))
    if spec.rows_required and rows_seen == 0:
        log.error(file, None, "file has a header but no rows")
    return CsvTable(file, records.delimiter, frozenset(columns), tuple(good))


def _fields(count: int) -> str:
    return "1 field" if count == 1 else f"{count} fields"


def _csv_error_text(error: csv.Error) -> str:
    if "field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return str(error)


def _width_hint(raw: str, delimiter: str, width: int, *, spans_lines: bool) -> str:
    """Why a row might have the wrong number of fields: mixed delimiters or a lost quote."""
    other = {",": ";", ";": ","}.get(delimiter)
    if other is not None:
        try:
            split = next(csv.reader(io.StringIO(raw, newline=""), delimiter=other), [])
        except csv.Error:
            split = []
        if len(split) == width:
            return f" (split on '{other}' it has {width}: are ',' and ';' mixed?)"
    if spans_lines:
        return " (a quoted field runs over several lines: is a closing quote missing?)"
    return ""
