"""The store: migrations, WAL, the serialised writer, rollback on error."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from dispatcher.store.database import Database, StoreError
from dispatcher.store.migrations import MIGRATIONS, Migration


async def test_open_applies_every_migration_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "db.sqlite3"
    db = await Database.open(path)
    assert await db.schema_version() == max(m.version for m in MIGRATIONS)
    mode = await db.fetch_one("PRAGMA journal_mode")
    assert mode is not None
    assert mode[0] == "wal"
    await db.close()
    again = await Database.open(path)  # re-opening applies nothing twice
    rows = await again.fetch_all("SELECT version FROM schema_migrations")
    assert [r["version"] for r in rows] == [m.version for m in MIGRATIONS]
    await again.close()


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO service_meta VALUES ('k', 'v')")
                raise RuntimeError("boom")
        assert await db.fetch_all("SELECT * FROM service_meta") == []
    finally:
        await db.close()


async def test_concurrent_writers_are_serialised(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")

    async def bump(i: int) -> None:
        async with db.transaction() as conn:
            async with conn.execute(
                "SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM service_meta"
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await asyncio.sleep(0)  # yield mid-transaction: another writer must not interleave
            await conn.execute("INSERT INTO service_meta VALUES (?, ?)", (f"k{i}", str(row[0] + 1)))

    try:
        await asyncio.gather(*(bump(i) for i in range(20)))
        values = sorted(
            int(r["value"]) for r in await db.fetch_all("SELECT value FROM service_meta")
        )
        assert values == list(range(1, 21))
    finally:
        await db.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    await db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x')")
    with pytest.raises(StoreError, match="newer than this program knows"):
        await Database.open(path)


async def test_failed_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    broken = (
        *MIGRATIONS,
        Migration(99, "broken", "CREATE TABLE t (a); INSERT INTO nope VALUES (1);"),
    )
    with pytest.raises(StoreError, match="migration 99"):
        await Database.open(path, broken)
    db = await Database.open(path)
    try:
        assert await db.fetch_one("SELECT name FROM sqlite_master WHERE name = 't'") is None
        assert await db.schema_version() == max(m.version for m in MIGRATIONS)
    finally:
        await db.close()
