"""Roster CSV files: the delimiter, the header, and rows with their physical line numbers.

Tolerant where Excel and HR systems differ (byte-order mark, `;` or `,`, a `sep=;` first
line, header case and spacing, column order, extra columns, trailing rows of empty
cells) and strict where a guess could import the wrong data (encoding, field counts,
missing or repeated columns). Every problem is logged; nothing here raises on bad input.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from dispatcher.roster_import.decoding import decode_text
from dispatcher.roster_import.headers import TableSpec, check_header, detect_delimiter
from dispatcher.roster_import.problems import ProblemLog, RosterFile

# No roster field needs more; a longer one is a broken export, not data. (Fields beyond
# csv.field_size_limit(), 128 KiB by default, are caught by the csv module itself.)
MAX_FIELD_CHARS = 1000

_SEP_LINE = re.compile(r"sep=([,;\t])", re.IGNORECASE)


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
    """A roster file that could be read: its delimiter, the columns present and its rows.

    `lost_values` holds, by column, what rows that could not be split into fields (already
    reported) may contain: another file's reference to such an id is not reported as
    unknown, since the id may well be there once the row is fixed.
    """

    file: str
    delimiter: str
    columns: frozenset[str]
    records: tuple[Record, ...]
    lost_values: Mapping[str, frozenset[str]] = field(default_factory=dict)


def read_table(file: RosterFile, spec: TableSpec, log: ProblemLog) -> CsvTable | None:
    """Read one roster file; None when it cannot be used at all (the reason is logged)."""
    text = decode_text(file, log)
    if text is None:
        return None
    lines = io.StringIO(text, newline="").readlines()
    records = _open_records(lines)
    header = next(records, None) if records is not None else None
    if records is None or header is None:
        if spec.rows_required:
            log.error(file.name, None, "file is empty")
        else:
            log.warning(file.name, None, "file is empty")
        return None
    header_line, _, header_fields = header
    if isinstance(header_fields, csv.Error):
        log.error(file.name, header_line, f"header cannot be read: {header_fields}")
        return None
    columns = check_header(file.name, header_line, header_fields, spec, log)
    if columns is None:
        return None
    table, rows_seen = _read_rows(
        file.name, records, lines=lines, width=len(header_fields), columns=columns, log=log
    )
    if spec.rows_required and rows_seen == 0:
        log.error(file.name, None, "file has a header but no rows")
        return None
    return table


def _open_records(lines: list[str]) -> _Records | None:
    """Records from the first non-blank line on, split on the header's delimiter."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    delimiter = detect_delimiter(lines[first])
    sep_line = _SEP_LINE.fullmatch(lines[first].strip())
    if sep_line is not None:  # Excel's "sep=;" hint line
        delimiter = sep_line.group(1)
        first += 1
    return _Records(lines, first, delimiter)


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


def _read_rows(
    file: str,
    records: _Records,
    *,
    lines: list[str],
    width: int,
    columns: dict[str, int],
    log: ProblemLog,
) -> tuple[CsvTable, int]:
    """The table of good rows, and how many non-blank rows there were (bad ones included)."""
    good: list[Record] = []
    lost: dict[str, set[str]] = {}
    rows_seen = 0
    for start, end, fields in records:
        if isinstance(fields, csv.Error):
            rows_seen += 1
            log.error(file, start, f"row cannot be read: {_csv_error_text(fields)}")
            _salvage("".join(lines[start - 1 : end]), columns, lost)
            continue
        joined = "".join(fields)
        if not joined or joined.isspace():
            continue  # a blank line, or Excel's row of empty cells
        rows_seen += 1
        if len(fields) != width:
            raw = "".join(lines[start - 1 : end])
            hint = _width_hint(raw, records.delimiter, width, spans_lines=end > start)
            log.error(file, start, f"row has {_fields(len(fields))}, the header has {width}{hint}")
            _salvage(raw, columns, lost)
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
    lost_values = {name: frozenset(values) for name, values in lost.items()}
    table = CsvTable(file, records.delimiter, frozenset(columns), tuple(good), lost_values)
    return table, rows_seen


def _fields(count: int) -> str:
    return "1 field" if count == 1 else f"{count} fields"


def _csv_error_text(error: csv.Error) -> str:
    if "field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return str(error)


def _split(raw: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return raw.split(delimiter)


def _width_hint(raw: str, delimiter: str, width: int, *, spans_lines: bool) -> str:
    """Why a row might have the wrong number of fields: mixed delimiters or a lost quote."""
    other = {",": ";", ";": ","}.get(delimiter)
    if other is not None and len(_split(raw, other)) == width:
        return f" (split on '{other}' it has {width}: are ',' and ';' mixed?)"
    if spans_lines:
        return " (a quoted field runs over several lines: is a closing quote missing?)"
    return ""


def _salvage(raw: str, columns: Mapping[str, int], lost: dict[str, set[str]]) -> None:
    """Note what a row that could not be read may hold, split either way."""
    for delimiter in (",", ";"):
        fields = _split(raw, delimiter)
        for name, index in columns.items():
            if index < len(fields) and fields[index].strip():
                lost.setdefault(name, set()).add(fields[index].strip())
