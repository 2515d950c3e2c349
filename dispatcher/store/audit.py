"""The audit log in the store: append an entry, read entries newest first.

The table refuses UPDATE and DELETE on its own (triggers in migration 4), so this module
only inserts and selects; nothing here or elsewhere can change an entry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dispatcher.store.database import Database

_COLUMNS = "id, at, actor, actor_token_id, action, subject, detail_json, source, request_id"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: int  # milliseconds since the epoch, UTC
    actor: str  # the token's name, or cli:USER
    actor_token_id: int | None
    action: str
    subject: str | None
    detail: dict[str, Any]
    source: str  # the remote address, or "cli"
    request_id: str | None


async def append(
    conn: aiosqlite.Connection,
    *,
    at: int,
    actor: str,
    actor_token_id: int | None,
    action: str,
    subject: str | None,
    detail: Mapping[str, Any],
    source: str,
    request_id: str | None,
) -> int:
    """Insert one entry in the caller's transaction; its id."""
    async with conn.execute(
        "INSERT INTO audit_log (at, actor, actor_token_id, action, subject, detail_json, source,"
        " request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at,
            actor,
            actor_token_id,
            action,
            subject,
            json.dumps(detail, ensure_ascii=False, sort_keys=True),
            source,
            request_id,
        ),
    ) as cursor:
        entry_id = cursor.lastrowid
    assert entry_id is not None  # an INSERT into a rowid table always sets it
    return entry_id


async def recent_same(
    conn: aiosqlite.Connection,
    *,
    action: str,
    actor: str,
    actor_token_id: int | None,
    subject: str | None,
    since_ms: int,
) -> int | None:
    """The id of an entry of this action, actor and subject since `since_ms`, if any."""
    async with conn.execute(
        "SELECT id FROM audit_log WHERE action = ? AND at >= ? AND actor = ?"
        " AND actor_token_id IS ? AND subject IS ? ORDER BY id DESC LIMIT 1",
        (action, since_ms, actor, actor_token_id, subject),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def entries(
    db: Database,
    *,
    action: str | None = None,
    since: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries newest first (by id: the order they were written), filtered, at most `limit`.

    `since`: only entries at or after this time (ms); `before_id`: only older entries than
    this id (the next page).
    """
    conditions: list[str] = []
    parameters: list[Any] = []
    if action is not None:
        conditions.append("action = ?")
        parameters.append(action)
    if since is not None:
        conditions.append("at >= ?")
        parameters.append(since)
    if before_id is not None:
        conditions.append("id < ?")
        parameters.append(before_id)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM audit_log{where} ORDER BY id DESC LIMIT ?",
        (*parameters, limit),
    )
    return [_entry(row) for row in rows]


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=int(row["at"]),
        actor=str(row["actor"]),
        actor_token_id=None if row["actor_token_id"] is None else int(row["actor_token_id"]),
        action=str(row["action"]),
        subject=row["subject"],
        detail=json.loads(row["detail_json"]),
        source=str(row["source"]),
        request_id=row["request_id"],
    )
