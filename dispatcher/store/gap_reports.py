"""SQL for gap reports: the activations that get them, the reports sent, reopened gaps.

Every function takes a connection: `db.reader` to look, or the connection of the caller's
`db.transaction()` to check again and record, so that a report and its messages commit
together and a report is never recorded twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite


@dataclass(frozen=True, slots=True)
class ReportedActivation:
    """An active activation as gap reporting sees it."""

    id: str
    kind: str
    title: str
    options: dict[str, Any]
    started_at: int  # approved_at, else declared_at: the first report is one period after
    revision: int  # changes whenever its coverage may have changed


@dataclass(frozen=True, slots=True)
class LastReport:
    id: int
    kind: str  # periodic | covered
    sent_at: int


async def active_activations(conn: aiosqlite.Connection) -> list[ReportedActivation]:
    async with conn.execute(
        "SELECT id, kind, title, options_json, COALESCE(approved_at, declared_at), revision"
        " FROM activations WHERE state = 'active' ORDER BY declared_at, id"
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        ReportedActivation(str(r[0]), str(r[1]), str(r[2]), json.loads(r[3]), int(r[4]), int(r[5]))
        for r in rows
    ]


async def is_active(conn: aiosqlite.Connection, activation_id: str) -> bool:
    async with conn.execute(
        "SELECT 1 FROM activations WHERE id = ? AND state = 'active'", (activation_id,)
    ) as cursor:
        return await cursor.fetchone() is not None


async def last_report(conn: aiosqlite.Connection, activation_id: str) -> LastReport | None:
    async with conn.execute(
        "SELECT id, kind, sent_at FROM gap_reports WHERE activation_id = ?"
        " ORDER BY sent_at DESC, id DESC LIMIT 1",
        (activation_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else LastReport(int(row[0]), str(row[1]), int(row[2]))


async def record_report(
    conn: aiosqlite.Connection, activation_id: str, *, kind: str, summary: str, sent_at: int
) -> int:
    async with conn.execute(
        "INSERT INTO gap_reports (activation_id, kind, summary, sent_at) VALUES (?, ?, ?, ?)",
        (activation_id, kind, summary, sent_at),
    ) as cursor:
        row_id = cursor.lastrowid
    assert row_id is not None
    return row_id


# A unit's confirmed count just after answer `n`: call-ups there whose latest answer up to
# `n` is a yes that was taken (a yes "thanked and released" carries a reason and counts
# as declined, see `dispatcher.domain.answering.answer_change`).
_CONFIRMED_AFTER_N = (
    "(SELECT COUNT(*) FROM callups o WHERE o.activation_id = ?1 AND o.unit_id = c.unit_id"
    " AND (SELECT l.answer = 'yes' AND l.reason IS NULL FROM answers l"
    "  WHERE l.callup_id = o.id AND l.id <= n.id ORDER BY l.id DESC LIMIT 1))"
)


async def gap_reopened_since(conn: aiosqlite.Connection, activation_id: str, since_ms: int) -> bool:
    """Whether some unit fell short again at some moment since `since_ms`.

    Called after an "all covered" report: then every unit was covered, and a unit's
    confirmed count only falls when someone confirmed changes their mind. So look for a
    "no" since then that followed a taken "yes" and left its unit below what it needs,
    even if the gap has closed again since. "Since" is strictly after: a change of mind
    in the report's own millisecond is not told apart from one just before it.
    """
    async with conn.execute(
        "SELECT 1 FROM answers n JOIN callups c ON c.id = n.callup_id"
        " JOIN activation_units u ON u.activation_id = c.activation_id AND u.unit_id = c.unit_id"
        " WHERE c.activation_id = ?1 AND n.answer = 'no' AND n.answered_at > ?2"
        " AND (SELECT p.answer = 'yes' AND p.reason IS NULL FROM answers p"
        "  WHERE p.callup_id = n.callup_id AND p.id < n.id ORDER BY p.id DESC LIMIT 1)"
        f" AND {_CONFIRMED_AFTER_N} < u.needed LIMIT 1",
        (activation_id, since_ms),
    ) as cursor:
        return await cursor.fetchone() is not None


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: int
    activation_id: str
    kind: str
    summary: str
    sent_at: int


async def reports_of(conn: aiosqlite.Connection, activation_id: str) -> list[StoredReport]:
    """An activation's gap reports, oldest first."""
    async with conn.execute(
        "SELECT id, activation_id, kind, summary, sent_at FROM gap_reports"
        " WHERE activation_id = ? ORDER BY sent_at, id",
        (activation_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [StoredReport(int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]
