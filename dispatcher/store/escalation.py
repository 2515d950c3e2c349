"""SQL for escalation and reserves: due call-ups, recording steps, what each unit has.

Functions that take a `conn` run inside the caller's `db.transaction()`: the call-ups read,
the messages their plans queue and the steps recorded commit together or not at all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from dispatcher.domain.coverage import UnitTally
from dispatcher.store.callups import (
    SNAPSHOT_COLUMNS,
    SNAPSHOT_WIDTH,
    CallUpSnapshot,
    snapshot_from_row,
)


@dataclass(frozen=True, slots=True)
class DueCallUp:
    """A call-up whose `next_step_at` has come, with what escalation needs to decide."""

    snapshot: CallUpSnapshot
    activation_state: str
    step: int  # escalation_step
    created_at: int
    first_sent_at: int | None  # when a call-up message first reached a provider
    sms_opted_out: bool  # its SMS number asked for no more SMS
    first_channel: str | None  # the channel of its first call-up message
    callup_channels: frozenset[str]  # channels a call-up message was queued on
    refused_channels: frozenset[str]  # channels whose call-up message failed for good


_DUE_SQL = (
    f"SELECT {SNAPSHOT_COLUMNS}, c.escalation_step, c.created_at,"
    " EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = c.sms_number)"
    " FROM callups c JOIN activations a ON a.id = c.activation_id"
    " WHERE c.next_step_at IS NOT NULL AND c.next_step_at <= ?"
    " ORDER BY c.next_step_at, c.id LIMIT ?"
)


async def due_callups(conn: aiosqlite.Connection, now_ms: int, limit: int) -> list[DueCallUp]:
    """Up to `limit` call-ups due at `now_ms`, the longest overdue first (index
    `callups_next_step`)."""
    rows = await conn.execute_fetchall(_DUE_SQL, (now_ms, limit))
    if not rows:
        return []
    ids = [int(r[0]) for r in rows]
    marks = ",".join("?" * len(ids))
    messages: dict[int, list[tuple[int, str, str, int | None]]] = defaultdict(list)
    async with conn.execute(
        "SELECT callup_id, id, channel, state, sent_at FROM messages"
        f" WHERE purpose = 'callup' AND callup_id IN ({marks})",
        ids,
    ) as cursor:
        for callup_id, message_id, channel, state, sent_at in await cursor.fetchall():
            messages[int(callup_id)].append(
                (
                    int(message_id),
                    str(channel),
                    str(state),
                    None if sent_at is None else int(sent_at),
                )
            )
    due: list[DueCallUp] = []
    for row in rows:
        values = tuple(row)
        snapshot = snapshot_from_row(values)
        step, created_at, opted_out = values[SNAPSHOT_WIDTH:]
        sent = sorted(messages[snapshot.id])
        due.append(
            DueCallUp(
                snapshot=snapshot,
                activation_state=snapshot.activation_state,
                step=int(step),
                created_at=int(created_at),
                first_sent_at=min((m[3] for m in sent if m[3] is not None), default=None),
                sms_opted_out=bool(opted_out),
                first_channel=sent[0][1] if sent else None,
                callup_channels=frozenset(m[1] for m in sent),
                refused_channels=frozenset(m[1] for m in sent if m[2] == "failed_permanent"),
            )
        )
    return due


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What a tick leaves on a call-up: its step, when to look again, and whether the
    answer deadline made it `no_answer`."""

    callup_id: int
    step: int
    next_step_at: int | None
    no_answer: bool = False


async def record_steps(
    conn: aiosqlite.Connection, records: Iterable[StepRecord], now_ms: int
) -> None:
    """Store each call-up's step and next due time; a deadline makes an awaiting one
    `no_answer` (the state trigger bumps the activation's revision)."""
    await conn.executemany(
        "UPDATE callups SET escalation_step = ?, next_step_at = ?,"
        " state = CASE WHEN ? AND state = 'awaiting' THEN 'no_answer' ELSE state END,"
        " updated_at = ? WHERE id = ?",
        ((r.step, r.next_step_at, int(r.no_answer), now_ms, r.callup_id) for r in records),
    )


@dataclass(frozen=True, slots=True)
class OpenActivation:
    """An active activation as the reserve caller sees it."""

    id: str
    kind: str
    title: str
    message: str
    reply_code: str
    options: dict[str, Any]
    revision: int


async def active_activations(conn: aiosqlite.Connection) -> list[OpenActivation]:
    async with conn.execute(
        "SELECT id, kind, title, message, reply_code, options_json, revision FROM activations"
        " WHERE state = 'active' ORDER BY declared_at, id"
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        OpenActivation(
            str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), json.loads(r[5]), int(r[6])
        )
        for r in rows
    ]


async def revision_of(conn: aiosqlite.Connection, activation_id: str) -> int | None:
    async with conn.execute(
        "SELECT revision FROM activations WHERE id = ? AND state = 'active'", (activation_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def unit_tallies(conn: aiosqlite.Connection, activation_id: str) -> list[UnitTally]:
    """Call-ups per unit and state, reserves included (they carry the unit they fill)."""
    async with conn.execute(
        "SELECT u.unit_id, u.name, u.needed, c.state, COUNT(c.id)"
        " FROM activation_units u LEFT JOIN callups c"
        "  ON c.activation_id = u.activation_id AND c.unit_id = u.unit_id"
        " WHERE u.activation_id = ? GROUP BY u.unit_id, c.state ORDER BY u.unit_id",
        (activation_id,),
    ) as cursor:
        rows = await cursor.fetchall()
    names: dict[str, tuple[str, int]] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for unit_id, name, needed, state, count in rows:
        names[str(unit_id)] = (str(name), int(needed))
        if state is not None:
            counts[str(unit_id)][str(state)] = int(count)
    return [
        UnitTally(unit_id, name, needed, counts.get(unit_id, {}))
        for unit_id, (name, needed) in names.items()
    ]


@dataclass(frozen=True, slots=True)
class CallOfCandidate:
    """A call-up a reserve candidate has in some active activation."""

    activation_id: str
    person_id: str
    state: str


async def calls_of(conn: aiosqlite.Connection, person_ids: Iterable[str]) -> list[CallOfCandidate]:
    """The call-ups these people have in active activations (an index lookup per person)."""
    ids = sorted(set(person_ids))
    found: list[CallOfCandidate] = []
    for start in range(0, len(ids), 500):  # stay far below SQLite's variable limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            "SELECT c.activation_id, c.person_id, c.state"
            " FROM activations a JOIN callups c ON c.activation_id = a.id"
            f" WHERE a.state = 'active' AND c.person_id IN ({marks})",
            chunk,
        ) as cursor:
            found.extend(
                CallOfCandidate(str(r[0]), str(r[1]), str(r[2])) for r in await cursor.fetchall()
            )
    return found
