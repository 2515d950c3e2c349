"""Pure delivery rules: provider reports never move a message backwards; retries back off."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from dispatcher.domain.delivery import (
    MessageState,
    ProviderReport,
    RetryPolicy,
    StatusChange,
    apply_report,
    report_from_twilio,
)

S = MessageState
R = ProviderReport


@pytest.mark.parametrize(
    ("current", "report", "permanent", "expected"),
    [
        (S.SENDING, R.ACCEPTED, False, StatusChange(S.SENT)),
        (S.SENT, R.ACCEPTED, False, None),  # duplicate
        (S.DELIVERED, R.ACCEPTED, False, None),  # a late `sent` after `delivered`
        (S.SENT, R.DELIVERED, False, StatusChange(S.DELIVERED)),
        (S.SENDING, R.DELIVERED, False, StatusChange(S.DELIVERED)),  # out of order
        (S.DELIVERED, R.DELIVERED, False, None),
        (S.DELIVERED, R.UNDELIVERED, True, None),  # final stays final
        (S.SENT, R.UNDELIVERED, True, StatusChange(S.FAILED_PERMANENT, switch_channel=True)),
        (S.SENT, R.UNDELIVERED, False, StatusChange(S.FAILED_TEMPORARY)),
        (S.FAILED_PERMANENT, R.DELIVERED, False, None),
        (S.CANCELLED, R.ACCEPTED, False, None),
    ],
)
def test_apply_report(
    current: MessageState, report: ProviderReport, permanent: bool, expected: StatusChange | None
) -> None:
    assert apply_report(current, report, permanent_error=permanent) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("queued", R.ACCEPTED),
        ("sent", R.ACCEPTED),
        ("delivered", R.DELIVERED),
        ("undelivered", R.UNDELIVERED),
        ("FAILED", R.UNDELIVERED),
        ("nonsense", None),
    ],
)
def test_twilio_statuses(status: str, expected: ProviderReport | None) -> None:
    assert report_from_twilio(status) == expected


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_backoff_grows_is_capped_and_gives_up() -> None:
    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=60), max_attempts=8)
    rng = random.Random(1)
    delays = []
    for attempts in range(1, 8):
        at = policy.next_attempt(NOW, attempts, rng=rng)
        assert at is not None
        delays.append((at - NOW).total_seconds())
    assert all(1 <= d <= 60 for d in delays)
    assert delays[0] <= 2 < delays[3]
    assert policy.next_attempt(NOW, 8, rng=rng) is None


def test_retry_after_is_honoured() -> None:
    at = RetryPolicy().next_attempt(NOW, 1, retry_after=30, rng=random.Random(1))
    assert at is not None
    assert (at - NOW).total_seconds() >= 30


def test_huge_attempt_counts_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=10_000)
    at = policy.next_attempt(NOW, 5_000, rng=random.Random(1))
    assert at is not None
    assert at - NOW <= policy.cap
