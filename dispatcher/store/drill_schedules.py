"""The `drill_schedules` table: scheduled drills and when each runs next (times in ms, UTC)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dispatcher.store.database import Database

STATES = ("scheduled", "done", "cancelled", "missed")


@dataclass(frozen=True, slots=True)
class DrillSchedule:
    id: int
    title: str
    scope: dict[str, list[str]]
    message: str
    announced: bool
    options: dict[str, Any]
    run_at: int | None  # a one-off drill's time
    cron: str | None  # a repeating drill's expression (Europe/Stockholm)
    state: str
    next_run_at: int | None
    last_run_at: int | None
    last_activation_id: str | None
    last_missed_at: int | None
    created_by: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class NewDrillSchedule:
    title: str
    scope: Mapping[str, list[str]]
    message: str
    announced: bool
    options: Mapping[str, Any]
    run_at: int | None
    cron: str | None
    next_run_at: int
    created_by: str


_COLUMNS = (
    "id, title, scope_json, message, announced, options_json, run_at, cron, state, next_run_at,"
    " last_run_at, last_activation_id, last_missed_at, created_by, created_at, updated_at"
)


def _record(row: sqlite3.Row) -> DrillSchedule:
    return DrillSchedule(
        id=int(row["id"]),
        title=str(row["title"]),
        scope=json.loads(row["scope_json"]),
        message=str(row["message"]),
        announced=bool(row["announced"]),
        options=json.loads(row["options_json"]),
        run_at=row["run_at"],
        cron=row["cron"],
        state=str(row["state"]),
        next_run_at=row["next_run_at"],
        last_run_at=row["last_run_at"],
        last_activation_id=row["last_activation_id"],
        last_missed_at=row["last_missed_at"],
        created_by=str(row["created_by"]),
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
    )


async def insert(conn: aiosqlite.Connection, new: NewDrillSchedule, now_ms: int) -> int:
    cursor = await conn.execute(
        "INSERT INTO drill_schedules (title, scope_json, message, announced, options_json,"
        " run_at, cron, state, next_run_at, created_by, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)",
        (
            new.title,
            json.dumps(dict(new.scope), ensure_ascii=False),
            new.message,
            int(new.announced),
            json.dumps(dict(new.options), ensure_ascii=False),
            new.run_at,
            new.cron,
            new.next_run_at,
            new.created_by,
            now_ms,
            now_ms,
        ),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


async def get(db: Database | aiosqlite.Connection, schedule_id: int) -> DrillSchedule | None:
    sql = f"SELECT {_COLUMNS} FROM drill_schedules WHERE id = ?"
    if isinstance(db, Database):
        row = await db.fetch_one(sql, (schedule_id,))
    else:
        async with db.execute(sql, (schedule_id,)) as cursor:
            row = await cursor.fetchone()
    return None if row is None else _record(row)


async def list_all(db: Database) -> list[DrillSchedule]:
    """Every schedule: scheduled ones first by next run, then the rest newest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM drill_schedules"
        " ORDER BY state <> 'scheduled', next_run_at, id DESC"
    )
    return [_record(r) for r in rows]


async def scheduled(db: Database) -> list[DrillSchedule]:
    """The schedules still to run, soonest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM drill_schedules WHERE state = 'scheduled' ORDER BY next_run_at, id"
    )
    return [_record(r) for r in rows]


async def update(conn: aiosqlite.Connection, schedule_id: int, now_ms: int, **fields: Any) -> None:
    """Set the given columns (scope and options as mappings) and `updated_at`."""
    columns: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("scope", "options"):
            columns[f"{name}_json"] = json.dumps(dict(value), ensure_ascii=False)
        elif name == "announced":
            columns[name] = int(value)
        else:
            columns[name] = value
    columns["updated_at"] = now_ms
    assignments = ", ".join(f"{name} = ?" for name in columns)
    await conn.execute(
        f"UPDATE drill_schedules SET {assignments} WHERE id = ?",
        (*columns.values(), schedule_id),
    )


async def record_run(
    conn: aiosqlite.Connection,
    schedule_id: int,
    *,
    due_at: int,
    activation_id: str,
    next_run_at: int | None,
    now_ms: int,
) -> bool:
    """The run due at `due_at` was declared as `activation_id`; False if already recorded."""
    cursor = await conn.execute(
        "UPDATE drill_schedules SET last_run_at = ?, last_activation_id = ?, next_run_at = ?,"
        " state = CASE WHEN ? IS NULL THEN 'done' ELSE state END, updated_at = ?"
        " WHERE id = ? AND state = 'scheduled' AND next_run_at = ?",
        (due_at, activation_id, next_run_at, next_run_at, now_ms, schedule_id, due_at),
    )
    return cursor.rowcount == 1


async def record_missed(
    conn: aiosqlite.Connection,
    schedule_id: int,
    *,
    due_at: int,
    next_run_at: int | None,
    now_ms: int,
) -> bool:
    """The run due at `due_at` was missed; a one-off is `missed`, a cron drill moves on."""
    cursor = await conn.execute(
        "UPDATE drill_schedules SET last_missed_at = ?, next_run_at = ?,"
        " state = CASE WHEN ? IS NULL THEN 'missed' ELSE state END, updated_at = ?"
        " WHERE id = ? AND state = 'scheduled' AND next_run_at = ?",
        (due_at, next_run_at, next_run_at, now_ms, schedule_id, due_at),
    )
    return cursor.rowcount == 1
