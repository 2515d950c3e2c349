"""One SQLite database: a serialised writer connection and a reader connection, in WAL mode.

Every write goes through `Database.transaction()`, which holds an asyncio lock for the
whole `BEGIN IMMEDIATE … COMMIT`, so tasks never share a half-done transaction. Reads go
through a second connection and, under WAL, never wait for the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

import aiosqlite

from dispatcher.store.migrations import MIGRATIONS, Migration

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    # 64 MiB of page cache: a 100,000-person declaration writes ~40 MB in one transaction,
    # and with the default 2 MiB the B-tree pages it needs are evicted and read back.
    "PRAGMA cache_size=-65536",
)


class StoreError(RuntimeError):
    """The database cannot be opened or is not one of ours."""


async def _connect(path: Path) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    for pragma in _PRAGMAS:
        await connection.execute(pragma)
    return connection


class Database:
    """The store's connections. Open with `await Database.open(path)`, close with `close()`."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> Self:
        """Open (creating if needed) the database at `path` and apply pending migrations."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            writer = await _connect(path)
        except sqlite3.Error as error:
            raise StoreError(f"{path}: cannot open database: {error}") from None
        try:
            await _migrate(writer, migrations)
            reader = await _connect(path)
        except BaseException:
            await writer.close()
            raise
        return cls(path, writer, reader)

    @property
    def reader(self) -> aiosqlite.Connection:
        """The read connection, for read-only queries outside a transaction."""
        return self._reader

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The one writer, inside `BEGIN IMMEDIATE`; commits on success, rolls back on error.

        Safe under cancellation: the connection's thread runs statements in order, so a
        rollback queued after a cancelled statement always runs after it, and the next
        transaction's BEGIN after the rollback.
        """
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                await self._writer.commit()
            except BaseException:
                # sqlite3's rollback() is a no-op outside a transaction.
                await asyncio.shield(self._writer.rollback())
                raise

    async def fetch_all(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        async with self._reader.execute(sql, tuple(parameters)) as cursor:
            return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Row | None:
        async with self._reader.execute(sql, tuple(parameters)) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    async def ping(self) -> None:
        """Raise if the database cannot answer a query (used by /healthz)."""
        await self.fetch_one("SELECT 1")

    async def schema_version(self) -> int:
        row = await self.fetch_one("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        return int(row["v"]) if row is not None else 0


async def _migrate(connection: aiosqlite.Connection, migrations: Sequence[Migration]) -> None:
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    async with connection.execute("SELECT version FROM schema_migrations") as cursor:
        applied = {int(row[0]) for row in await cursor.fetchall()}
    known = {m.version for m in migrations}
    unknown = applied - known
    if unknown:
        raise StoreError(
            f"database has schema version {max(unknown)}, newer than this program knows "
            f"({max(known)}); upgrade krisdispatch"
        )
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in applied:
            continue
        # executescript would commit on its own; one script with BEGIN…COMMIT is atomic.
        try:
            await connection.executescript(
                "BEGIN IMMEDIATE;\n"
                f"{migration.sql}\n"
                "INSERT INTO schema_migrations (version, name, applied_at) "
                f"VALUES ({migration.version}, '{migration.name}', "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\n"
                "COMMIT;"
            )
        except sqlite3.Error as error:
            if connection.in_transaction:
                await connection.rollback()
            raise StoreError(
                f"migration {migration.version} ({migration.name}) failed: {error}"
            ) from error
