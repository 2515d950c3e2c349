"""The outbox table: claiming due messages, recording what the providers said.

Functions that take a `conn` run inside the caller's `db.transaction()`, so that a
result, the fallback it triggers and the call-up it fails commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from dispatcher.domain.delivery import MessageState
from dispatcher.store.database import Database


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message as claimed for sending."""

    id: int
    activation_id: str | None
    callup_id: int | None
    channel: str
    purpose: str
    recipient: str
    subject: str | None
    body: str
    html: str | None
    segments: int
    attempts: int
    claimed_at: int | None
    unsure_since: int | None = None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to put in the outbox."""

    activation_id: str | None
    callup_id: int | None
    channel: str
    purpose: str
    recipient: str
    body: str
    subject: str | None = None
    html: str | None = None
    segments: int = 0


_COLUMNS = (
    "id, activation_id, callup_id, channel, purpose, recipient, subject, body, html, "
    "segments, attempts, claimed_at, unsure_since"
)


def _message(row: aiosqlite.Row | Sequence[object]) -> OutboxMessage:
    return OutboxMessage(*row)  # columns are listed in _COLUMNS order


async def enqueue(
    conn: aiosqlite.Connection,
    messages: Iterable[NewMessage],
    now_ms: int,
    *,
    callup_id_base: int = 0,
) -> None:
    """Queue messages, due at once. `callup_id_base` is added to every message's call-up id
    (messages prepared before their call-ups had ids carry the call-up's index instead)."""
    await conn.executemany(
        "INSERT INTO messages (activation_id, callup_id, channel, purpose, recipient, subject,"
        " body, html, segments, state, attempts, next_attempt_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
        (
            (
                m.activation_id,
                None if m.callup_id is None else m.callup_id + callup_id_base,
                m.channel,
                m.purpose,
                m.recipient,
                m.subject,
                m.body,
                m.html,
                m.segments,
                now_ms,
                now_ms,
                now_ms,
            )
            for m in messages
        ),
    )


async def claim_due(db: Database, *, channel: str, now_ms: int, limit: int) -> list[OutboxMessage]:
    """Mark up to `limit` due messages of a channel `sending` and return them, oldest first."""
    async with db.transaction() as conn:
        # execute_fetchall steps the statement to its end in one call on the connection's
        # thread: a claim cancelled at shutdown cannot leave a half-read RETURNING statement
        # behind, which would make every later commit on the writer fail.
        rows = await conn.execute_fetchall(
            f"UPDATE messages SET state = 'sending', claimed_at = ?1, updated_at = ?1"
            f" WHERE id IN (SELECT id FROM messages"
            f"  WHERE state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1"
            f"  AND channel = ?2 ORDER BY next_attempt_at, id LIMIT ?3)"
            f" RETURNING {_COLUMNS}",
            (now_ms, channel, limit),
        )
    return sorted((_message(r) for r in rows), key=lambda m: m.id)


async def next_due_at(db: Database, *, channel: str) -> int | None:
    """When the channel's earliest waiting message falls due (ms), or None when nothing waits."""
    row = await db.fetch_one(
        "SELECT MIN(next_attempt_at) FROM messages"
        " WHERE state IN ('queued', 'failed_temporary') AND channel = ?",
        (channel,),
    )
    return None if row is None or row[0] is None else int(row[0])


async def left_sending(db: Database) -> list[OutboxMessage]:
    """Messages a dead process claimed but never recorded a result for."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM messages WHERE state = 'sending' ORDER BY id"
    )
    return [_message(r) for r in rows]


@dataclass(frozen=True, slots=True)
class MessageUpdate:
    """A message's new state after a send attempt or a provider report."""

    message_id: int
    state: MessageState
    attempts: int
    next_attempt_at: int
    provider_id: str | None = None
    provider_status: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    sent_at: int | None = None
    unsure_since: int | None = None  # set once an attempt may have reached the provider


async def apply_updates(
    conn: aiosqlite.Connection, updates: Iterable[MessageUpdate], now_ms: int
) -> None:
    """Write many message updates at once. Provider ids and errors are kept once known."""
    await conn.executemany(
        "UPDATE messages SET state = ?, attempts = ?, next_attempt_at = ?,"
        " provider_id = COALESCE(?, provider_id), provider_status = COALESCE(?, provider_status),"
        " error_code = COALESCE(?, error_code), error_detail = COALESCE(?, error_detail),"
        " sent_at = COALESCE(?, sent_at), unsure_since = COALESCE(unsure_since, ?),"
        " updated_at = ? WHERE id = ?",
        (
            (
                u.state.value,
                u.attempts,
                u.next_attempt_at,
                u.provider_id,
                u.provider_status,
                u.error_code,
                u.error_detail,
                u.sent_at,
                u.unsure_since,
                now_ms,
                u.message_id,
            )
            for u in updates
        ),
    )


async def cancel_queued(conn: aiosqlite.Connection, activation_id: str, now_ms: int) -> int:
    """Cancel every message of an activation that has not been handed to a provider yet."""
    cursor = await conn.execute(
        "UPDATE messages SET state = 'cancelled', updated_at = ?"
        " WHERE activation_id = ? AND state IN ('queued', 'failed_temporary')",
        (now_ms, activation_id),
    )
    return cursor.rowcount


async def depth_by_state(db: Database) -> dict[str, int]:
    rows = await db.fetch_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
    return {str(r[0]): int(r[1]) for r in rows}


async def requeue(conn: aiosqlite.Connection, message_ids: Iterable[int], now_ms: int) -> None:
    """Make claimed messages due again (they were never handed to a provider)."""
    await conn.executemany(
        "UPDATE messages SET state = 'queued', next_attempt_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'sending'",
        ((now_ms, now_ms, message_id) for message_id in message_ids),
    )


async def cancel_messages(
    conn: aiosqlite.Connection, message_ids: Iterable[int], now_ms: int
) -> None:
    """Cancel claimed messages that must not go out any more (their activation closed)."""
    await conn.executemany(
        "UPDATE messages SET state = 'cancelled', updated_at = ?"
        " WHERE id = ? AND state = 'sending'",
        ((now_ms, message_id) for message_id in message_ids),
    )
