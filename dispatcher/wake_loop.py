"""A worker that runs its work when woken: by events in the service, or by APScheduler.

The database says what is due; the loop only decides when to look. APScheduler's interval
job does nothing but wake the loop, so a job missed while the service was down costs
nothing and a tick run twice does no harm (the work is idempotent by design). Tests wake
the loop, or call the work, by hand and wait with `wait_idle()` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC

import structlog
from apscheduler.schedulers.asyncio import (  # type: ignore[import-untyped]  # no type hints shipped
    AsyncIOScheduler,
)

log = structlog.get_logger(__name__)


class WakeLoop:
    """Runs `work()` one at a time whenever woken; at most once per `min_gap_seconds`."""

    def __init__(
        self,
        work: Callable[[], Awaitable[None]],
        *,
        job_id: str,
        interval_seconds: float,
        schedule: bool = True,
        min_gap_seconds: float = 0.0,
        failure_event: str = "worker run failed",
    ) -> None:
        self._work = work
        self._job_id = job_id
        self._interval = interval_seconds
        self._schedule = schedule
        self._min_gap = min_gap_seconds
        self._failure_event = failure_event
        self.lock = asyncio.Lock()  # held by the work: stop() waits for a run under way
        self._woken = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        """Start the loop, and (unless `schedule=False`) the scheduler's interval wake-up."""
        self._task = asyncio.create_task(self._run())
        if self._schedule:
            self.scheduler = AsyncIOScheduler(timezone=UTC)
            self.scheduler.add_job(
                self._scheduled_wake,
                "interval",
                seconds=self._interval,
                id=self._job_id,
                replace_existing=True,
                misfire_grace_time=None,  # late is fine: the database says what is due
                coalesce=True,
                max_instances=1,
            )
            self.scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler, let a run under way finish, stop the loop."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # its shutdown runs as a loop callback: let it run now
        self.scheduler = None
        if self._task is not None:
            async with self.lock:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Run the work soon."""
        self._idle.clear()
        self._woken.set()

    async def wait_idle(self) -> None:
        """Return once no wake-up is pending and no run is going (after `start`)."""
        if self._task is not None:
            await self._idle.wait()

    async def _scheduled_wake(self) -> None:
        structlog.contextvars.clear_contextvars()  # jobs inherit whoever added them
        self.wake()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_run = -self._min_gap
        while True:
            if not self._woken.is_set():
                self._idle.set()
            await self._woken.wait()
            pause = last_run + self._min_gap - loop.time()
            if pause > 0:  # woken by the thousand (answers): at most one run per gap
                await asyncio.sleep(pause)
            self._woken.clear()
            last_run = loop.time()
            structlog.contextvars.clear_contextvars()
            try:
                await self._work()
            except Exception:  # the work stays in the database: the next wake-up retries it
                log.exception(self._failure_event)
