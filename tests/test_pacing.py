"""The token bucket paces hand-offs: measured on a simulated clock, not with sleeps."""

from __future__ import annotations

import pytest

from dispatcher.dispatch.pacing import TokenBucket


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("rate", [1.0, 10.0, 100.0, 1000.0])
async def test_rate_is_kept(rate: float) -> None:
    time = SimulatedTime()
    bucket = TokenBucket(rate, now=time.monotonic, sleep=time.sleep)
    n = 500
    for _ in range(n):
        await bucket.acquire()
    # The first `burst` go at once; the rest at `rate`.
    expected = (n - bucket.burst) / rate
    assert time.now == pytest.approx(expected, rel=1e-6)


async def test_multi_segment_messages_cost_more() -> None:
    time = SimulatedTime()
    bucket = TokenBucket(10, burst=1, now=time.monotonic, sleep=time.sleep)
    starts = []
    for _ in range(10):
        await bucket.acquire(2)
        starts.append(time.now)
    # Two segments each at 10 per second: one message every 0.2 s.
    assert starts == pytest.approx([0.2 * i for i in range(10)])


async def test_idle_time_saves_up_no_more_than_the_burst() -> None:
    time = SimulatedTime()
    bucket = TokenBucket(10, burst=5, now=time.monotonic, sleep=time.sleep)
    time.now = 1000.0  # a long quiet spell
    for _ in range(5):
        await bucket.acquire()
    assert time.now == 1000.0
    await bucket.acquire()
    assert time.now == pytest.approx(1000.1)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(0)
