"""The header row of a roster file: column names, the delimiter, and the columns we read."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dispatcher.roster_import.problems import ProblemLog

_HEADER_SPACING = re.compile(r"[\s\-]+")
# Spellings of column names common enough in exports to accept as they are.
_HEADER_ALIASES = {"e_mail": "email"}
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

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


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


def check_header(
    file: str, line: int, header: list[str], spec: TableSpec, log: ProblemLog
) -> dict[str, int] | None:
    """Column name → position for the spec's columns present; None if one is missing or repeated.

    Extra columns are ignored; a column of identity numbers is ignored with a warning, so
    that its values are never even read.
    """
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
    for name in spec.columns:
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
    return {name: positions[name][0] for name in spec.columns if name in positions}


def _guess(missing: str, present: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(missing, list(present), n=1, cutoff=0.75)
    return f" (is it '{close[0]}'?)" if close else ""
