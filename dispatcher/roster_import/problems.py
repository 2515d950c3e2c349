"""Roster files as bytes in, problems as values out: what every import step speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

_MAX_SHOWN_VALUE = 60


@dataclass(frozen=True, slots=True)
class RosterFile:
    """One roster file as read from disk or an upload: its name (for messages) and bytes."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One thing wrong in a roster file, in the shape `file:line: column: 'value' — message`.

    Parts that do not apply are None and left out of the text.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        column = "" if self.column is None else f"{self.column}: "
        value = "" if self.value is None else f"'{_shown(self.value)}' — "
        return f"{where}: {column}{value}{self.message}"

    def as_dict(self) -> dict[str, str | int | None]:
        """The problem as JSON-ready data (for `--json` and the API)."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "message": self.message,
            "severity": self.severity,
            "text": str(self),
        }


def _shown(value: str) -> str:
    """A value as it can be printed on one line: control characters escaped, long ones cut."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    if len(value) > _MAX_SHOWN_VALUE:
        value = value[: _MAX_SHOWN_VALUE - 1] + "…"
    return value


@dataclass(slots=True)
class ProblemLog:
    """Collects the problems of one import, in the order they are found."""

    problems: list[ImportProblem] = field(default_factory=list)

    def error(
        self,
        file: str,
        line: int | None,
        message: str,
        *,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.problems.append(ImportProblem(file, line, column, value, message, "error"))

    def warning(
        self,
        file: str,
        line: int | None,
        message: str,
        *,
        column: str | None = None,
        value: str | None = None,
    ) -> None:
        self.problems.append(ImportProblem(file, line, column, value, message, "warning"))

    def error_count(self, file: str) -> int:
        return sum(1 for p in self.problems if p.file == file and p.severity == "error")
