"""Sub-commands of the `dispatcher` console command, one module each.

Each module has `register(subparsers)`, which adds its parser(s) and sets `handler` to a
function `(args, settings) -> exit status`. A handler raises `UserError` for anything the
user can fix; `dispatcher.cli` prints it as one line on standard error and exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager

from dispatcher.settings import Settings
from dispatcher.store.database import Database

Handler = Callable[[argparse.Namespace, Settings], int]


class UserError(Exception):
    """Something the user can fix: printed as one line, exit status 1."""


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The configured database, open for one command and closed after it."""
    db = await Database.open(settings.service.database)
    try:
        yield db
    finally:
        await db.close()


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """An aligned plain-text table (two spaces between columns, no trailing blanks)."""
    lines = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
