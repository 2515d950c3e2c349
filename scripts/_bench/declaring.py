"""Part a of `scripts/bench_dispatch`: declaring an activation for the whole municipality.

`TimedDatabase` is the store's own `Database` with a stopwatch around each write
transaction, so the persist time is that of the real `Activations.declare` transaction.
The baseline replays the very rows that declaration wrote, as plain tuples, through the
standard library's `sqlite3` into the same schema: the floor for writing them.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from _bench.service import callup_messages
from dispatcher.clock import SystemClock
from dispatcher.declarations import Activations, Declaration
from dispatcher.settings import Settings
from dispatcher.store.database import _PRAGMAS, Database  # the baseline uses the store's pragmas

_ACTIVATION = "SELECT * FROM activations"
_UNITS = "SELECT * FROM activation_units"
# The columns `insert_callups` and `outbox.enqueue` write, in their order.
_CALLUP_COLUMNS = (
    "id, activation_id, person_id, person_name, department, protected, sms_number, email,"
    " unit_id, unit_name, unit_address, placement_kind, reply_code, state, created_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "activation_id, callup_id, channel, purpose, recipient, subject, body, html, segments,"
    " state, attempts, next_attempt_at, created_at, updated_at"
)


class TimedDatabase(Database):
    """`Database` noting how long each write transaction takes, lock wait included."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        super().__init__(path, writer, reader)
        self.transaction_seconds: list[float] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        started = time.perf_counter()
        try:
            async with super().transaction() as conn:
                yield conn
        finally:
            self.transaction_seconds.append(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class DeclarationRun:
    preview: float  # the first preview: loads the roster from the database, plans
    declare: float  # the whole `Activations.declare` call: plan, render, persist
    persist: float  # its write transaction alone
    callups: int
    messages: int


async def declare_once(roster_database: Path, database: Path) -> DeclarationRun:
    """Copy the database holding the roster, then declare a crisis for everyone in it."""
    shutil.copyfile(roster_database, database)
    db = await TimedDatabase.open(database)
    try:
        settings = Settings()
        activations = Activations(db, settings, SystemClock(), callup_messages(settings))
        declaration = Declaration.from_json({"kind": "crisis", "title": "Storm", "scope": {}})
        started = time.perf_counter()
        await activations.preview(declaration)  # as a leader would; the roster is cached after
        preview = time.perf_counter() - started
        db.transaction_seconds.clear()
        started = time.perf_counter()
        _, created = await activations.declare(declaration, "bench")
        declare = time.perf_counter() - started
        if not created or len(db.transaction_seconds) != 1:
            raise RuntimeError("expected one new activation written in one transaction")
        callups = await db.fetch_one("SELECT COUNT(*) FROM callups")
        queued = await db.fetch_one("SELECT COUNT(*) FROM messages")
    finally:
        await db.close()
    assert callups is not None and queued is not None
    return DeclarationRun(
        preview, declare, db.transaction_seconds[0], int(callups[0]), int(queued[0])
    )


@dataclass(frozen=True, slots=True)
class DeclaredRows:
    """What one declaration wrote, as plain tuples."""

    activation: tuple[Any, ...]
    units: list[tuple[Any, ...]]
    callups: list[tuple[Any, ...]]
    messages: list[tuple[Any, ...]]


def declared_rows(database: Path) -> DeclaredRows:
    connection = sqlite3.connect(database)
    try:
        activation = connection.execute(_ACTIVATION).fetchone()
        units = connection.execute(_UNITS).fetchall()
        callups = connection.execute(f"SELECT {_CALLUP_COLUMNS} FROM callups").fetchall()
        messages = connection.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages").fetchall()
    finally:
        connection.close()
    return DeclaredRows(activation, units, callups, messages)


def bare_insert(roster_database: Path, database: Path, rows: DeclaredRows) -> float:
    """The baseline: the same rows with `sqlite3.executemany`, one transaction, timed from
    BEGIN to the end of COMMIT."""
    shutil.copyfile(roster_database, database)
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        for pragma in _PRAGMAS:
            connection.execute(pragma)
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(_insert("activations", len(rows.activation)), rows.activation)
        _many(connection, "activation_units", rows.units)
        _many(connection, f"callups ({_CALLUP_COLUMNS})", rows.callups)
        _many(connection, f"messages ({_MESSAGE_COLUMNS})", rows.messages)
        connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def _many(connection: sqlite3.Connection, into: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        connection.executemany(_insert(into, len(rows[0])), rows)


def _insert(into: str, width: int) -> str:
    return f"INSERT INTO {into} VALUES ({', '.join('?' * width)})"
