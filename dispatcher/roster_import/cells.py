"""One row's cells, read column by column, with a problem logged for each bad one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from dispatcher.roster_import.csv_reader import Record
from dispatcher.roster_import.problems import ProblemLog

_T = TypeVar("_T")


class Cells:
    """The cells of one record; `ok` is False once the row has any error."""

    __slots__ = ("_failed", "_fields", "_log", "file", "line", "ok")

    def __init__(self, file: str, record: Record, log: ProblemLog) -> None:
        self.file = file
        self.line = record.line
        self.ok = not record.too_long
        self._failed: set[str | None] = set(record.too_long)
        self._fields = record.fields
        self._log = log

    def text(self, column: str) -> str:
        """The stripped cell; empty when the (optional) column is absent."""
        return self._fields.get(column, "")

    def required(self, column: str) -> str:
        """The cell, with an error if it is empty."""
        value = self.text(column)
        if not value and column not in self._failed:
            self.error(column, None, "must not be empty")
        return value

    def parse(self, column: str, parser: Callable[[str], _T], fallback: _T) -> _T:
        """`parser(cell)`, or `fallback` with an error carrying the parser's ValueError text."""
        value = self.text(column)
        if column in self._failed:
            return fallback
        try:
            return parser(value)
        except ValueError as error:
            self.error(column, value or None, str(error))
            return fallback

    def failed(self, *columns: str) -> bool:
        """True if an error was logged for any of `columns` on this row."""
        return not self._failed.isdisjoint(columns)

    def error(self, column: str | None, value: str | None, message: str) -> None:
        self.ok = False
        self._failed.add(column)
        self._log.error(self.file, self.line, message, column=column, value=value)

    def warning(self, column: str | None, value: str | None, message: str) -> None:
        self._log.warning(self.file, self.line, message, column=column, value=value)


def claim_unique(cells: Cells, column: str, value: str, first_lines: dict[str, int]) -> bool:
    """Record `value` as seen on this row; an error if an earlier row already had it."""
    first = first_lines.setdefault(value, cells.line)
    if first != cells.line:
        cells.error(column, value, f"duplicate {column}; first on line {first}")
        return False
    return True


class KnownIds:
    """The ids another file defines (unit_id in units.csv), for checking references to them."""

    def __init__(
        self, file: str, column: str, ids: set[str], maybe: frozenset[str] = frozenset()
    ) -> None:
        self.file = file
        self.column = column
        self.ids = ids
        self.maybe = maybe  # on rows of that file that could not be read: not reported
        self._by_lower_case: dict[str, str] | None = None

    def check(self, cells: Cells, column: str, value: str) -> bool:
        """True if `value` is empty or known; otherwise logs an error naming the file."""
        if not value or value in self.ids or value in self.maybe or cells.failed(column):
            return True
        if self._by_lower_case is None:
            self._by_lower_case = {known.casefold(): known for known in self.ids}
        close = self._by_lower_case.get(value.casefold())
        hint = f" (did you mean '{close}'?)" if close else ""
        cells.error(column, value, f"no such {self.column} in {self.file}{hint}")
        return False
