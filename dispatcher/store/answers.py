"""SQL for answers: inbound messages, the sender's call-ups, recording an answer, opt-outs.

Every function takes the connection of the caller's `db.transaction()`: an inbound message,
the answer it records and the reply it gets commit together, before anyone is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from dispatcher.domain.answering import SenderCallUp

# A reply to a stood-down activation gets "no longer active" for this long; after that the
# sender is a stranger again.
CLOSED_RECENTLY_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class StoredInbound:
    id: int
    outcome: str
    reply: str | None


async def insert_inbound(
    conn: aiosqlite.Connection,
    *,
    provider_id: str | None,
    channel: str,
    sender: str,
    body: str,
    meaning: str,
    received_at: int,
) -> StoredInbound | None:
    """Store an inbound message; None when one with this provider id is already stored."""
    async with conn.execute(
        "INSERT INTO inbound_messages (provider_id, channel, sender, body, meaning, outcome,"
        " received_at) VALUES (?, ?, ?, ?, ?, 'received', ?)"
        " ON CONFLICT (provider_id) DO NOTHING",
        (provider_id, channel, sender, body, meaning, received_at),
    ) as cursor:
        if cursor.rowcount == 0:
            return None
        row_id = cursor.lastrowid
    assert row_id is not None
    return StoredInbound(row_id, "received", None)


async def stored_inbound(conn: aiosqlite.Connection, provider_id: str) -> StoredInbound | None:
    async with conn.execute(
        "SELECT id, outcome, reply FROM inbound_messages WHERE provider_id = ?", (provider_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else StoredInbound(int(row[0]), str(row[1]), row[2])


async def settle_inbound(
    conn: aiosqlite.Connection,
    inbound_id: int,
    *,
    outcome: str,
    callup_id: int | None,
    reply: str | None,
) -> None:
    await conn.execute(
        "UPDATE inbound_messages SET outcome = ?, callup_id = ?, reply = ? WHERE id = ?",
        (outcome, callup_id, reply, inbound_id),
    )


async def sender_callups(conn: aiosqlite.Connection, phone: str, now_ms: int) -> list[SenderCallUp]:
    """The sender's call-ups in open activations, and in ones stood down recently; oldest first."""
    async with conn.execute(
        "SELECT c.id, c.activation_id, a.reply_code, a.state = 'active'"
        " FROM callups c JOIN activations a ON a.id = c.activation_id"
        " WHERE c.sms_number = ? AND (a.state = 'active'"
        "  OR (a.state = 'stood_down' AND a.stood_down_at >= ?))"
        " ORDER BY a.declared_at, c.id",
        (phone, now_ms - CLOSED_RECENTLY_MS),
    ) as cursor:
        rows = await cursor.fetchall()
    return [SenderCallUp(int(r[0]), str(r[1]), str(r[2]), bool(r[3])) for r in rows]


@dataclass(frozen=True, slots=True)
class CallUpForAnswer:
    """What recording an answer and writing back need to know about a call-up."""

    id: int
    activation_id: str
    activation_kind: str
    activation_title: str
    activation_state: str
    person_name: str
    unit_id: str
    unit_name: str
    unit_address: str
    reply_code: str  # the code shown to this person ("" when they had only one call-up)
    state: str
    unit_needed: int
    unit_confirmed: int
    activation_reply_code: str  # the activation's own code, shown when asking for one


async def callup_for_answer(conn: aiosqlite.Connection, callup_id: int) -> CallUpForAnswer | None:
    async with conn.execute(
        "SELECT c.id, c.activation_id, a.kind, a.title, a.state, c.person_name, c.unit_id,"
        " c.unit_name, c.unit_address, c.reply_code, c.state, COALESCE(u.needed, 0),"
        " (SELECT COUNT(*) FROM callups o WHERE o.activation_id = c.activation_id"
        "   AND o.unit_id = c.unit_id AND o.state = 'confirmed'), a.reply_code"
        " FROM callups c JOIN activations a ON a.id = c.activation_id"
        " LEFT JOIN activation_units u ON u.activation_id = c.activation_id"
        "  AND u.unit_id = c.unit_id"
        " WHERE c.id = ?",
        (callup_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else CallUpForAnswer(*tuple(row))


async def callups_for_answer(
    conn: aiosqlite.Connection, callup_ids: Sequence[int]
) -> list[CallUpForAnswer]:
    found = [await callup_for_answer(conn, i) for i in callup_ids]
    return [c for c in found if c is not None]


async def record_answer(
    conn: aiosqlite.Connection,
    callup_id: int,
    *,
    state: str,
    answer: str,
    eta_minutes: int | None,
    reason: str | None,
    via: str,
    inbound_id: int | None,
    answered_at: int,
) -> None:
    """The call-up takes the latest answer (escalation stops); the history keeps every one."""
    await conn.execute(
        "UPDATE callups SET state = ?, eta_minutes = ?, reason = ?, answered_at = ?,"
        " first_answer_at = COALESCE(first_answer_at, ?), next_step_at = NULL, updated_at = ?"
        " WHERE id = ?",
        (state, eta_minutes, reason, answered_at, answered_at, answered_at, callup_id),
    )
    await conn.execute(
        "INSERT INTO answers (callup_id, inbound_id, answer, eta_minutes, reason, via,"
        " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (callup_id, inbound_id, answer, eta_minutes, reason, via, answered_at),
    )


async def automatic_replies_since_last_callup(conn: aiosqlite.Connection, phone: str) -> int:
    """Automatic replies to this number since its latest call-up."""
    async with conn.execute(
        "SELECT COUNT(*) FROM inbound_messages WHERE sender = ?1 AND reply IS NOT NULL"
        " AND received_at >= COALESCE((SELECT MAX(created_at) FROM callups"
        "  WHERE sms_number = ?1), 0)",
        (phone,),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def set_opt_out(
    conn: aiosqlite.Connection, phone: str, *, opted_out: bool, source: str, at: int
) -> None:
    if opted_out:
        await conn.execute(
            "INSERT INTO opt_outs (phone, source, opted_out_at) VALUES (?, ?, ?)"
            " ON CONFLICT (phone) DO UPDATE SET source = excluded.source,"
            " opted_out_at = excluded.opted_out_at",
            (phone, source, at),
        )
    else:
        await conn.execute("DELETE FROM opt_outs WHERE phone = ?", (phone,))


async def is_opted_out(conn: aiosqlite.Connection, phone: str) -> bool:
    async with conn.execute("SELECT 1 FROM opt_outs WHERE phone = ?", (phone,)) as cursor:
        return await cursor.fetchone() is not None


async def opted_out_numbers(conn: aiosqlite.Connection) -> frozenset[str]:
    async with conn.execute("SELECT phone FROM opt_outs") as cursor:
        return frozenset(str(r[0]) for r in await cursor.fetchall())
