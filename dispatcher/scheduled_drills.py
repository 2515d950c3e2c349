"""Scheduled drills: create, change, cancel, and run each at its time.

The database is the truth: every schedule's `next_run_at` lives in `drill_schedules`.
APScheduler only wakes the runner: one date job per scheduled drill at its next run
(stable id, `replace_existing=True`, no misfire grace), plus a slow interval job that
picks up changes made from the command line. A wake-up runs `run_due()`, which re-reads
the rows. A drill late by no more than the grace (down for a while) runs at once; one
later than that is recorded as missed, audited and not run; a cron drill then moves on
to its next time. A run declares the drill with the idempotency key
`schedule:{id}:{due_ms}`, so a run repeated for the same time returns the same
activation. Tests move a `ManualClock` and call `run_due()` themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.declarations import Declaration, DeclarationError
from dispatcher.domain.drill_schedule import (
    DueDecision,
    ScheduleError,
    due_decision,
)
from dispatcher.domain.planning import ActivationPlan
from dispatcher.drill_schedule_input import (
    ScheduleInputError,
    declaration_of,
    next_run,
    validated,
)
from dispatcher.store import drill_schedules as store
from dispatcher.store.activations import ActivationRecord
from dispatcher.store.database import Database
from dispatcher.store.drill_schedules import DrillSchedule, NewDrillSchedule
from dispatcher.wake_loop import WakeLoop

log = structlog.get_logger(__name__)

SCHEDULED = "drill_schedule.created"
CHANGED = "drill_schedule.changed"
CANCELLED = "drill_schedule.cancelled"
RAN = "drill_schedule.ran"
MISSED = "drill_schedule.missed"
SYNC_JOB_ID = "drill-schedules-sync"


class UnknownSchedule(LookupError):
    pass


class NotScheduled(RuntimeError):
    """The schedule is done, cancelled or missed: it cannot be changed or cancelled."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the drill schedule is {state}")
        self.state = state


class Declarer(Protocol):
    async def plan(self, declaration: Declaration) -> ActivationPlan: ...

    async def declare(
        self, declaration: Declaration, declared_by: Actor | str
    ) -> tuple[ActivationRecord, bool]: ...


@dataclass(frozen=True, slots=True)
class RunOutcome:
    schedule_id: int
    due_at: int
    decision: DueDecision  # RUN or MISSED
    activation_id: str | None = None
    reason: str = ""  # why a due drill did not run


class ScheduledDrills:
    """Schedules and runs drills. `start()` in the app's cleanup context, `stop()` after;
    `schedule=False` leaves APScheduler out (tests call `run_due()`)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        declarer: Declarer,
        *,
        grace: timedelta,
        schedule: bool = True,
        sync_seconds: float = 60.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._declarer = declarer
        self._grace = grace
        self._loop = WakeLoop(
            self._run_and_register,
            job_id=SYNC_JOB_ID,
            interval_seconds=sync_seconds,
            schedule=schedule,
            failure_event="scheduled drills run failed",
        )
        self._lock = self._loop.lock  # one run at a time; stop() waits for it

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Run what fell due while we were down (or report it missed), then wait for more."""
        try:
            await self.run_due()
        except Exception:  # the schedules stay in the database: the next wake-up retries
            log.exception("scheduled drills catch-up failed")
        await self._loop.start()
        await self._register_all()

    async def stop(self) -> None:
        await self._loop.stop()

    def wake(self) -> None:
        """Run what is due soon and register the jobs again (a schedule changed, a job fired)."""
        self._loop.wake()

    async def wait_idle(self) -> None:
        """Return once the loop has no wake-up pending and no run going (after `start`)."""
        await self._loop.wait_idle()

    async def _scheduled_wake(self) -> None:
        structlog.contextvars.clear_contextvars()  # jobs inherit whoever added them
        self.wake()

    async def _run_and_register(self) -> None:
        await self.run_due()
        await self._register_all()

    def jobs(self) -> dict[str, datetime]:
        """The date jobs registered with APScheduler: job id → when it fires (UTC)."""
        if self._loop.scheduler is None:
            return {}
        return {
            job.id: job.trigger.run_date.astimezone(UTC)
            for job in self._loop.scheduler.get_jobs()
            if job.id != SYNC_JOB_ID
        }

    async def _register_all(self) -> None:
        """One date job per scheduled drill at its next run; jobs of the others removed."""
        scheduler = self._loop.scheduler
        if scheduler is None:
            return
        wanted = {f"drill-schedule-{s.id}": s for s in await store.scheduled(self._db)}
        for job in scheduler.get_jobs():
            if job.id != SYNC_JOB_ID and job.id not in wanted:
                job.remove()
        for job_id, schedule in wanted.items():
            if schedule.next_run_at is None:
                continue
            scheduler.add_job(
                self._scheduled_wake,
                "date",
                run_date=from_millis(schedule.next_run_at),
                id=job_id,
                replace_existing=True,
                misfire_grace_time=None,  # late is for the runner to judge, against the grace
            )

    # -- running ---------------------------------------------------------------------

    async def run_due(self) -> list[RunOutcome]:
        """Run (or report missed) every scheduled drill due now."""
        outcomes = []
        for schedule in await store.scheduled(self._db):
            outcome = await self.run(schedule.id)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    async def run(self, schedule_id: int) -> RunOutcome | None:
        """Run one schedule if it is due now; None if it is not (or not scheduled)."""
        async with self._lock:
            schedule = await store.get(self._db, schedule_id)
            if schedule is None or schedule.state != "scheduled" or schedule.next_run_at is None:
                return None
            now = self._clock.now()
            due_ms = schedule.next_run_at
            decision = due_decision(from_millis(due_ms), now, self._grace)
            if decision is DueDecision.WAIT:
                return None
            following = next_run(None, schedule.cron, now)
            if decision is DueDecision.MISSED:
                late = now - from_millis(due_ms)
                return await self._missed(schedule, following, f"late by {late}, over the grace")
            actor = Actor(f"schedule:{schedule.id}", source="internal")
            try:
                record, _ = await self._declarer.declare(declaration_of(schedule, due_ms), actor)
            except (DeclarationError, ScheduleInputError) as error:
                return await self._missed(schedule, following, f"not declared: {error}")
            now_ms = to_millis(self._clock.now())
            async with self._db.transaction() as conn:
                if await store.record_run(
                    conn,
                    schedule.id,
                    due_at=due_ms,
                    activation_id=record.id,
                    next_run_at=following,
                    now_ms=now_ms,
                ):
                    await audit.record(
                        conn,
                        actor,
                        RAN,
                        at_ms=now_ms,
                        subject=str(schedule.id),
                        detail={"due_at": due_ms, "activation_id": record.id},
                    )
            log.info("scheduled drill declared", schedule_id=schedule.id, activation_id=record.id)
            return RunOutcome(schedule.id, due_ms, DueDecision.RUN, record.id)

    async def _missed(
        self, schedule: DrillSchedule, following: int | None, reason: str
    ) -> RunOutcome:
        due_ms = schedule.next_run_at
        assert due_ms is not None
        now_ms = to_millis(self._clock.now())
        async with self._db.transaction() as conn:
            if await store.record_missed(
                conn, schedule.id, due_at=due_ms, next_run_at=following, now_ms=now_ms
            ):
                await audit.record(
                    conn,
                    Actor(f"schedule:{schedule.id}", source="internal"),
                    MISSED,
                    at_ms=now_ms,
                    subject=str(schedule.id),
                    detail={"due_at": due_ms, "next_run_at": following, "reason": reason},
                )
        log.warning("scheduled drill missed", schedule_id=schedule.id, reason=reason)
        return RunOutcome(schedule.id, due_ms, DueDecision.MISSED, reason=reason)

    # -- changing --------------------------------------------------------------------

    async def create(self, body: Mapping[str, Any], actor: Actor) -> DrillSchedule:
        """A new schedule from an API body; ScheduleInputError naming a bad field."""
        defaults = {"message": "", "announced": False, "options": {}, "scope": {}}
        fields = validated(body, {**defaults, "title": None, "id": 0})
        now = self._clock.now()
        upcoming = await self._upcoming(fields, now)
        async with self._db.transaction() as conn:
            schedule_id = await store.insert(
                conn,
                NewDrillSchedule(
                    fields["title"],
                    fields["scope"],
                    fields["message"],
                    fields["announced"],
                    fields["options"],
                    fields["run_at"],
                    fields["cron"],
                    upcoming,
                    actor.name,
                ),
                to_millis(now),
            )
            await audit.record(
                conn,
                actor,
                SCHEDULED,
                at_ms=to_millis(now),
                subject=str(schedule_id),
                detail={"next_run_at": upcoming, "cron": fields["cron"]},
            )
        return await self._changed(schedule_id)

    async def change(
        self, schedule_id: int, body: Mapping[str, Any], actor: Actor
    ) -> DrillSchedule:
        """Change a scheduled drill's time, cron, title, scope, message, options."""
        current = await self._scheduled(schedule_id)
        fields = validated(body, dataclasses.asdict(current))
        now = self._clock.now()
        retimed = "at" in body or "cron" in body
        # The time stays unless changed: a run due now is not skipped.
        upcoming = await self._upcoming(fields, now, None if retimed else current.next_run_at)
        columns = ("title", "scope", "message", "announced", "options", "run_at", "cron")
        async with self._db.transaction() as conn:
            await store.update(
                conn,
                schedule_id,
                to_millis(now),
                next_run_at=upcoming,
                **{name: fields[name] for name in columns},
            )
            await audit.record(
                conn,
                actor,
                CHANGED,
                at_ms=to_millis(now),
                subject=str(schedule_id),
                detail={"fields": sorted(body), "next_run_at": upcoming},
            )
        return await self._changed(schedule_id)

    async def cancel(self, schedule_id: int, actor: Actor) -> DrillSchedule:
        """Cancel a scheduled drill: it runs no more. Cancelling twice is harmless."""
        current = await store.get(self._db, schedule_id)
        if current is None:
            raise UnknownSchedule(schedule_id)
        if current.state == "cancelled":
            return current
        await self._scheduled(schedule_id)
        now_ms = to_millis(self._clock.now())
        async with self._db.transaction() as conn:
            await store.update(conn, schedule_id, now_ms, state="cancelled", next_run_at=None)
            await audit.record(conn, actor, CANCELLED, at_ms=now_ms, subject=str(schedule_id))
        return await self._changed(schedule_id)

    async def _scheduled(self, schedule_id: int) -> DrillSchedule:
        current = await store.get(self._db, schedule_id)
        if current is None:
            raise UnknownSchedule(schedule_id)
        if current.state != "scheduled":
            raise NotScheduled(current.state)
        return current

    async def _upcoming(
        self, fields: Mapping[str, Any], now: datetime, kept: int | None = None
    ) -> int:
        """The next run (`kept`, or from the time fields); checks the scope fits the roster."""
        try:
            upcoming = kept if kept is not None else next_run(fields["run_at"], fields["cron"], now)
        except ScheduleError as error:
            raise ScheduleInputError(error.field, str(error).partition(": ")[2]) from None
        if upcoming is None:
            raise ScheduleInputError("at", "must be in the future")
        try:
            await self._declarer.plan(declaration_of(fields, None))  # units and areas exist
        except DeclarationError as error:
            raise ScheduleInputError(error.field, str(error).partition(": ")[2]) from None
        return upcoming

    async def _changed(self, schedule_id: int) -> DrillSchedule:
        self.wake()  # re-register its job (and run it, should it be due already)
        found = await store.get(self._db, schedule_id)
        assert found is not None
        return found
