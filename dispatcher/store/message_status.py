"""Recording a provider's delivery report (Twilio's status callback) on its outbox message.

One report, one transaction: find the message by the provider's id, move it forward
(never back: `dispatcher.domain.delivery.apply_report`), and for an undelivered message
either make it due again or give up on the channel, queueing the call-up on the next one
(`switch_channel`). A duplicate or late report changes nothing, so Twilio may send each
callback as often and in whatever order it likes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import aiosqlite

from dispatcher.channels.twilio_errors import is_permanent_delivery_error
from dispatcher.dispatch.outcomes import CallUpComposer, ChannelFailure, switch_channel
from dispatcher.domain.delivery import (
    MessageState,
    StatusChange,
    apply_report,
    report_from_twilio,
)
from dispatcher.store import outbox
from dispatcher.store.database import Database
from dispatcher.store.outbox import MessageUpdate, OutboxMessage

# Same order as OutboxMessage's fields, then the message's state.
_SELECT = (
    "SELECT id, activation_id, callup_id, channel, purpose, recipient, subject, body, html,"
    " segments, attempts, claimed_at, unsure_since, state FROM messages WHERE provider_id = ?"
)

# A message back in these states with this provider id is waiting to be (or being) sent
# again: that earlier attempt is over, and nothing more it reports may touch the message.
_RESEND_UNDER_WAY = frozenset(
    {MessageState.QUEUED, MessageState.SENDING, MessageState.FAILED_TEMPORARY}
)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A status callback, as the provider sent it."""

    provider_id: str  # Twilio's MessageSid
    status: str  # Twilio's MessageStatus: sent, delivered, undelivered, failed, …
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ResendPolicy:
    """When a message the phone could not take for now (30003 handset off, 30008, an
    unknown code) goes out again: after 2, 4, 8 minutes, then the channel is given up.

    Counted in hand-offs (the message's `attempts`, which also counts hand-offs the API
    refused for a while), so a message is resent at most `max_attempts - 1` times.
    """

    first_delay: timedelta = timedelta(minutes=2)
    cap: timedelta = timedelta(minutes=10)
    max_attempts: int = 4

    def next_attempt_ms(self, now_ms: int, attempts: int) -> int | None:
        """When to resend after `attempts` hand-offs, or None to give up on the channel."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.cap, self.first_delay * (1 << max(0, attempts - 1)))
        return now_ms + int(delay.total_seconds() * 1000)


class Change(StrEnum):
    """What a report did to its message."""

    UNKNOWN_MESSAGE = "unknown_message"  # no message has this provider id
    UNKNOWN_STATUS = "unknown_status"  # a status we do not act on
    NONE = "none"  # duplicate, late or backwards: nothing changed
    SENT = "sent"
    DELIVERED = "delivered"
    RESEND = "resend"  # due again at `next_attempt_at`
    FAILED = "failed_permanent"  # given up on this channel; see `fallback_queued`
    CANCELLED = "cancelled"  # undelivered, and no longer worth resending


@dataclass(frozen=True, slots=True)
class StatusResult:
    change: Change
    message_id: int | None = None
    callup_id: int | None = None
    activation_id: str | None = None
    previous: MessageState | None = None
    next_attempt_at: int | None = None
    fallback_queued: bool = False  # a message on the next channel is due now


async def record_status_report(
    db: Database,
    report: StatusReport,
    *,
    now_ms: int,
    composer: CallUpComposer | None,
    policy: ResendPolicy | None = None,
) -> StatusResult:
    """Apply one delivery report to its message, in one transaction; say what it changed."""
    async with db.transaction() as conn:
        async with conn.execute(_SELECT, (report.provider_id,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            await _keep_for_later(conn, report, now_ms)
            return StatusResult(Change.UNKNOWN_MESSAGE)
        values = tuple(row)
        message = OutboxMessage(*values[:-1])
        state = MessageState(values[-1])
        change, next_at, fallback = await _apply(
            conn,
            message,
            state,
            report,
            now_ms=now_ms,
            composer=composer,
            policy=policy or ResendPolicy(),
        )
    return StatusResult(
        change,
        message.id,
        message.callup_id,
        message.activation_id,
        state,
        next_at,
        fallback,
    )


# An early report is kept this long for its message to turn up; after that it is noise.
EARLY_REPORT_KEPT_MS = 24 * 3600 * 1000


async def _keep_for_later(conn: aiosqlite.Connection, report: StatusReport, now_ms: int) -> None:
    """A report for a provider id we have not recorded yet: the hand-off's result may still be
    on its way to the database. Keep it; `replay_early_reports` applies it once it is there."""
    await conn.execute(
        "DELETE FROM early_status_reports WHERE received_at < ?", (now_ms - EARLY_REPORT_KEPT_MS,)
    )
    await conn.execute(
        "INSERT INTO early_status_reports (provider_id, status, error_code, received_at)"
        " VALUES (?, ?, ?, ?)",
        (report.provider_id, report.status, report.error_code, now_ms),
    )


async def replay_early_reports(
    db: Database,
    provider_ids: list[str],
    *,
    now_ms: int,
    composer: CallUpComposer | None,
) -> list[StatusResult]:
    """Apply reports that came before their messages' provider ids were recorded."""
    if not provider_ids:
        return []
    marks = ",".join("?" * len(provider_ids))
    rows = await db.fetch_all(
        "SELECT id, provider_id, status, error_code FROM early_status_reports"
        f" WHERE provider_id IN ({marks}) ORDER BY id",
        provider_ids,
    )
    results = []
    for row in rows:
        report = StatusReport(row["provider_id"], row["status"], row["error_code"])
        results.append(await record_status_report(db, report, now_ms=now_ms, composer=composer))
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM early_status_reports WHERE id = ?", (row["id"],))
    return results


def _step(state: MessageState, report: StatusReport) -> StatusChange | Change:
    """The change a report makes to a message in `state`, or why it makes none."""
    provider_report = report_from_twilio(report.status)
    if provider_report is None:
        return Change.UNKNOWN_STATUS
    if state in _RESEND_UNDER_WAY:
        return Change.NONE
    permanent = is_permanent_delivery_error(report.error_code)
    step = apply_report(state, provider_report, permanent_error=permanent)
    return Change.NONE if step is None else step


async def _apply(
    conn: aiosqlite.Connection,
    message: OutboxMessage,
    state: MessageState,
    report: StatusReport,
    *,
    now_ms: int,
    composer: CallUpComposer | None,
    policy: ResendPolicy,
) -> tuple[Change, int | None, bool]:
    """Write what the report does: (change, when the message is due again, fallback queued)."""
    step = _step(state, report)
    if isinstance(step, Change):
        return step, None, False

    async def write(new: MessageState, next_at: int = now_ms, detail: str | None = None) -> None:
        update = MessageUpdate(
            message.id,
            new,
            message.attempts,
            next_at,
            provider_status=report.status,
            error_code=report.error_code,
            error_detail=detail,
        )
        await outbox.apply_updates(conn, [update], now_ms)

    if step.state in (MessageState.SENT, MessageState.DELIVERED):
        await write(step.state)
        return Change(step.state.value), None, False
    detail = f"Twilio: {report.status}, error {report.error_code or 'none given'}"
    if step.state is MessageState.FAILED_TEMPORARY:
        if not await _worth_resending(conn, message):
            await write(MessageState.CANCELLED, detail=f"{detail}; not resent: no longer needed")
            return Change.CANCELLED, None, False
        next_at = policy.next_attempt_ms(now_ms, message.attempts)
        if next_at is not None:
            await write(MessageState.FAILED_TEMPORARY, next_at, detail)
            return Change.RESEND, next_at, False
        detail = f"{detail}; gave up after {message.attempts} hand-offs"
    await write(MessageState.FAILED_PERMANENT, detail=detail)
    failure = ChannelFailure(
        message,
        report.error_code or report.status,
        detail,
        # Only a permanent code blames the number; giving up after resends does not.
        address_at_fault=is_permanent_delivery_error(report.error_code),
    )
    fallback = await switch_channel(conn, [failure], now_ms=now_ms, composer=composer)
    return Change.FAILED, None, fallback


async def _worth_resending(conn: aiosqlite.Connection, message: OutboxMessage) -> bool:
    """A call-up is resent only while it waits for an answer in an active activation;
    other messages (a stand-down notice, a reminder) are always resent."""
    if message.purpose != "callup" or message.callup_id is None:
        return True
    async with conn.execute(
        "SELECT c.state = 'awaiting' AND a.state = 'active' FROM callups c"
        " JOIN activations a ON a.id = c.activation_id WHERE c.id = ?",
        (message.callup_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return row is not None and bool(row[0])
