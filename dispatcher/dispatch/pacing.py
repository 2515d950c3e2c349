"""A token bucket that paces hand-offs to a provider (Twilio counts segments per second)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. Waiters are served in order."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate / 10)
        self._now = now
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = now()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, tokens: float = 1.0) -> None:
        """Wait until `tokens` are available and take them (more than `burst` goes into debt)."""
        async with self._lock:  # FIFO: one waiter refills and sleeps at a time
            self._refill()
            if self._tokens < min(tokens, self.burst):
                await self._sleep((min(tokens, self.burst) - self._tokens) / self.rate)
                self._refill()
            # Taking more than is there leaves a debt the next caller waits out.
            self._tokens -= tokens
