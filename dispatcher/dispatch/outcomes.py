"""Recording send results: message states, retries, the switch to the next channel.

Runs inside one transaction with the results it records, so a permanent failure, the
e-mail that replaces the SMS and the call-up it may fail are committed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiosqlite

from dispatcher.channels.base import Outcome, SendResult
from dispatcher.clock import to_millis
from dispatcher.domain.delivery import MessageState, RetryPolicy
from dispatcher.store import callups, outbox
from dispatcher.store.callups import CallUpSnapshot, ContactProblem
from dispatcher.store.outbox import MessageUpdate, NewMessage, OutboxMessage

# The order in which channels are tried for a call-up.
CHANNEL_ORDER = ("sms", "email")
# Purposes whose permanent failure moves the person on to the next channel.
SWITCHING_PURPOSES = frozenset({"callup"})


@dataclass(frozen=True, slots=True)
class ChannelFailure:
    """A message given up on its channel. `address_at_fault` is true when the provider refused
    the address itself (invalid, opted out, landline): only then is the contact listed for the
    roster administrators to fix — an outage or a credentials fault is no reason to."""

    message: OutboxMessage
    error_code: str
    detail: str
    address_at_fault: bool


class CallUpComposer(Protocol):
    """Renders a call-up message for a channel from the call-up's snapshot."""

    def compose(self, callup: CallUpSnapshot, channel: str) -> NewMessage | None: ...


def _address(callup: CallUpSnapshot, channel: str) -> str | None:
    return callup.sms_number if channel == "sms" else callup.email


async def record_outcomes(
    conn: aiosqlite.Connection,
    results: Sequence[tuple[OutboxMessage, SendResult]],
    *,
    now: datetime,
    retry: RetryPolicy,
    composer: CallUpComposer | None = None,
) -> bool:
    """Write the results; return True when new messages were queued (fallbacks)."""
    now_ms = to_millis(now)
    updates: list[MessageUpdate] = []
    given_up: list[ChannelFailure] = []
    for message, result in results:
        attempts = message.attempts + 1
        if result.outcome is Outcome.SENT:
            updates.append(
                MessageUpdate(
                    message.id,
                    MessageState.SENT,
                    attempts,
                    now_ms,
                    provider_id=result.provider_id,
                    provider_status=result.provider_status,
                    sent_at=now_ms,
                )
            )
            continue
        next_at = None
        if result.outcome is Outcome.TEMPORARY:
            next_at = retry.next_attempt(now, attempts, retry_after=result.retry_after)
        if next_at is not None:
            updates.append(
                MessageUpdate(
                    message.id,
                    MessageState.FAILED_TEMPORARY,
                    attempts,
                    to_millis(next_at),
                    error_code=result.error_code,
                    error_detail=result.detail,
                    # The attempt may have reached the provider: ask before sending again.
                    unsure_since=message.claimed_at if result.may_have_sent else None,
                )
            )
            continue
        detail = result.detail
        if result.outcome is Outcome.TEMPORARY:
            detail = f"gave up after {attempts} attempts: {detail}"
        updates.append(
            MessageUpdate(
                message.id,
                MessageState.FAILED_PERMANENT,
                attempts,
                now_ms,
                error_code=result.error_code,
                error_detail=detail,
            )
        )
        given_up.append(
            ChannelFailure(
                message,
                result.error_code or "",
                detail,
                address_at_fault=result.outcome is Outcome.PERMANENT,
            )
        )
    await outbox.apply_updates(conn, updates, now_ms)
    if not given_up:
        return False
    return await switch_channel(conn, given_up, now_ms=now_ms, composer=composer)


async def switch_channel(
    conn: aiosqlite.Connection,
    failures: Sequence[ChannelFailure],
    *,
    now_ms: int,
    composer: CallUpComposer | None,
) -> bool:
    """After a channel is given up: note refused contacts, queue the next channel, or fail
    the call-up when no channel is left."""
    switching = [
        f
        for f in failures
        if f.message.callup_id is not None and f.message.purpose in SWITCHING_PURPOSES
    ]
    if not switching:
        return False
    callup_ids = [f.message.callup_id for f in switching if f.message.callup_id is not None]
    by_id = {s.id: s for s in await callups.snapshots(conn, callup_ids)}
    tried = await callups.channels_tried(conn, by_id, "callup")
    problems: list[ContactProblem] = []
    fallbacks: list[NewMessage] = []
    unreachable: list[int] = []
    for failure in switching:
        message = failure.message
        callup = by_id.get(message.callup_id or -1)
        if callup is None:
            continue
        if failure.address_at_fault:
            problems.append(
                ContactProblem(
                    callup.person_id,
                    message.channel,
                    message.recipient,
                    failure.error_code,
                    failure.detail,
                    callup.activation_id,
                )
            )
        if callup.state != "awaiting" or callup.activation_state != "active":
            continue  # answered, or stood down: no call-up on another channel
        remaining = [c for c in CHANNEL_ORDER if c not in tried[callup.id] and _address(callup, c)]
        fallback = composer.compose(callup, remaining[0]) if remaining and composer else None
        if fallback is None:
            unreachable.append(callup.id)
        else:
            fallbacks.append(fallback)
            tried[callup.id].add(fallback.channel)
    await callups.note_contact_problems(conn, problems, now_ms)
    await outbox.enqueue(conn, fallbacks, now_ms)
    # No channel left to try, but one tried earlier may still have reached the person.
    reached = await callups.with_live_callup_message(conn, unreachable)
    await callups.mark_unreachable(conn, [i for i in unreachable if i not in reached], now_ms)
    return bool(fallbacks)
