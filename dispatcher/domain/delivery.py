"""Rules for one outbox message: its states, how provider reports move it, when to retry.

A message only ever moves forward. `sending` is the claim a dispatcher takes before it
hands the message to a provider; `sent` means the provider accepted it; `delivered`,
`failed_permanent` and `cancelled` are final.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

_JITTER = random.Random()  # noqa: S311 - jitter for retries, not security


class MessageState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED_TEMPORARY = "failed_temporary"
    FAILED_PERMANENT = "failed_permanent"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset(
    {MessageState.DELIVERED, MessageState.FAILED_PERMANENT, MessageState.CANCELLED}
)
DUE_STATES = frozenset({MessageState.QUEUED, MessageState.FAILED_TEMPORARY})

# How far along a message is; a report may only move it to a higher rank.
_RANK = {
    MessageState.QUEUED: 0,
    MessageState.FAILED_TEMPORARY: 0,
    MessageState.SENDING: 1,
    MessageState.SENT: 2,
    MessageState.DELIVERED: 3,
    MessageState.FAILED_PERMANENT: 3,
    MessageState.CANCELLED: 3,
}


class ProviderReport(StrEnum):
    """What a provider's status callback says, reduced to what matters to us."""

    ACCEPTED = "accepted"  # queued, accepted, scheduled, sending, sent
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # undelivered or failed


_TWILIO_STATUS = {
    "accepted": ProviderReport.ACCEPTED,
    "scheduled": ProviderReport.ACCEPTED,
    "queued": ProviderReport.ACCEPTED,
    "sending": ProviderReport.ACCEPTED,
    "sent": ProviderReport.ACCEPTED,
    "delivered": ProviderReport.DELIVERED,
    "read": ProviderReport.DELIVERED,
    "undelivered": ProviderReport.UNDELIVERED,
    "failed": ProviderReport.UNDELIVERED,
    "canceled": ProviderReport.UNDELIVERED,
}


def report_from_twilio(status: str) -> ProviderReport | None:
    """Twilio's `MessageStatus`, or None for a status we do not know."""
    return _TWILIO_STATUS.get(status.strip().lower())


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What a provider report does to a message: its new state, and whether to switch channel."""

    state: MessageState
    switch_channel: bool = False


def apply_report(
    current: MessageState, report: ProviderReport, *, permanent_error: bool
) -> StatusChange | None:
    """The change a report makes, or None when it changes nothing (duplicate, late, backwards).

    An undelivered report with a permanent error code (invalid number, opted out,
    landline) fails the message for good and moves the person to the next channel; one
    with a temporary code makes the message due again.
    """
    if current in FINAL_STATES:
        return None
    if report is ProviderReport.ACCEPTED:
        new = MessageState.SENT
        return StatusChange(new) if _RANK[new] > _RANK[current] else None
    if report is ProviderReport.DELIVERED:
        return StatusChange(MessageState.DELIVERED)
    if permanent_error:
        return StatusChange(MessageState.FAILED_PERMANENT, switch_channel=True)
    return StatusChange(MessageState.FAILED_TEMPORARY)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring a provider's Retry-After."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 8

    def next_attempt(
        self,
        now: datetime,
        attempts: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> datetime | None:
        """When to try again after `attempts` failed tries, or None to give up on this channel."""
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.cap, self.base * (1 << min(20, max(0, attempts - 1))))
        jitter = (rng or _JITTER).uniform(0.5, 1.0)
        delay = ceiling * jitter
        if retry_after is not None and retry_after > 0:
            delay = max(delay, timedelta(seconds=min(retry_after, self.cap.total_seconds())))
        return now + delay
