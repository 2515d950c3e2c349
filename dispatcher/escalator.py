"""The escalator: chases silence and calls reserves, over due times kept in the database.

Every awaiting call-up carries `next_step_at`. A tick takes the call-ups due at `now`
(index `callups_next_step`), asks the pure rule `next_steps` what each needs, and applies
a batch's plans in one transaction: a reminder on the channel the call-up went out on,
the call-up on the person's other channel, or `no_answer` at the deadline; each call-up's
step and next due time are stored with them. A tick run twice at the same `now` finds
nothing to do the second time; a crash between ticks loses nothing; after a restart the
first tick does everything overdue at once (the rule skips messages a later step makes
pointless). Then the reserve caller fills the gaps.

APScheduler only wakes the worker: an interval job sets an event and one loop runs the
ticks, as it does when an answer comes in (`wake`, the answer desk's `on_answer`). Tests
move a `ManualClock` and call `tick()` themselves.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.domain.escalation import (
    Action,
    CallUpProgress,
    CallUpState,
    EscalationRules,
    Step,
    next_steps,
)
from dispatcher.domain.messages import (
    CallUpText,
    RenderedSms,
    render_reminder_email,
    render_reminder_sms,
)
from dispatcher.domain.planning import Channel
from dispatcher.store import escalation as store
from dispatcher.store import outbox
from dispatcher.store.callups import CallUpSnapshot
from dispatcher.store.database import Database
from dispatcher.store.escalation import DueCallUp, StepRecord
from dispatcher.store.outbox import NewMessage
from dispatcher.wake_loop import WakeLoop

log = structlog.get_logger(__name__)

TICK_JOB_ID = "escalation-tick"
_BATCH = 500  # call-ups per transaction


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick did."""

    reminders: int = 0
    other_channel: int = 0  # call-ups sent again on the person's other channel
    no_answer: int = 0  # call-ups whose answer deadline passed
    reserves: int = 0  # reserves called
    examined: int = 0  # due call-ups looked at

    @property
    def queued(self) -> int:
        """Messages put in the outbox."""
        return self.reminders + self.other_channel + self.reserves


class ReserveFiller(Protocol):
    async def call(self, now: datetime) -> int: ...


class Escalator:
    """The escalation worker: `start()` in the app's cleanup context, `stop()` after.

    `schedule=False` leaves APScheduler out (tests tick by hand); the wake-up loop for
    answers runs either way.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: CallUpMessages,
        rules: EscalationRules,
        *,
        wake_dispatcher: Callable[[], None] = lambda: None,
        reserves: ReserveFiller | None = None,
        schedule: bool = True,
        interval_seconds: float = 5.0,
        min_gap_seconds: float = 0.5,
    ) -> None:
        self._db = db
        self._clock = clock
        self._rules = rules
        self._reminders = _Reminders(messages)
        self._messages = messages
        self._wake_dispatcher = wake_dispatcher
        self._reserves = reserves
        self._loop = WakeLoop(
            self._tick_quietly,
            job_id=TICK_JOB_ID,
            interval_seconds=interval_seconds,
            schedule=schedule,
            min_gap_seconds=min_gap_seconds,  # answers by the thousand wake it as often
            failure_event="escalation tick failed",
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the loop (its first tick does whatever fell due while we were down)."""
        await self._loop.start()
        self.wake()

    async def stop(self) -> None:
        """Stop the scheduler, let a tick under way finish, stop the loop."""
        await self._loop.stop()

    def wake(self) -> None:
        """Tick soon (an answer came in, or the scheduler's interval passed)."""
        self._loop.wake()

    async def wait_idle(self) -> None:
        """Return once the loop has no wake-up pending and no tick running (after `start`)."""
        await self._loop.wait_idle()

    async def _tick_quietly(self) -> None:
        await self.tick()

    # -- ticking ---------------------------------------------------------------------

    async def tick(self) -> TickResult:
        """Do every escalation step due now, then call the reserves gaps need."""
        async with self._loop.lock:  # one tick at a time; stop() waits for it
            now = self._clock.now()
            result = await self._escalate(now)
            if self._reserves is not None:
                result = dataclasses.replace(result, reserves=await self._reserves.call(now))
        if result.queued:
            self._wake_dispatcher()
        if result.examined or result.reserves:
            log.info("escalation tick", **dataclasses.asdict(result))
        return result

    async def _escalate(self, now: datetime) -> TickResult:
        now_ms = to_millis(now)
        counts: Counter[str] = Counter()
        while True:
            async with self._db.transaction() as conn:
                due = await store.due_callups(conn, now_ms, _BATCH)
                plans = [self._plan(callup, now) for callup in due]
                messages = [m for _, m in plans if m is not None]
                await outbox.enqueue(conn, messages, now_ms)
                await store.record_steps(conn, [r for r, _ in plans], now_ms)
            counts.update(m.purpose for m in messages)  # "reminder" or "callup"
            counts["no_answer"] += sum(r.no_answer for r, _ in plans)
            counts["examined"] += len(due)
            if len(due) < _BATCH:
                return TickResult(
                    reminders=counts["reminder"],
                    other_channel=counts["callup"],
                    no_answer=counts["no_answer"],
                    examined=counts["examined"],
                )

    def _plan(self, due: DueCallUp, now: datetime) -> tuple[StepRecord, NewMessage | None]:
        """What one due call-up gets: its new step, and the message to queue if any."""
        callup = due.snapshot
        if due.activation_state != "active":  # stood down: nothing more is ever due
            return StepRecord(callup.id, due.step, None), None
        if due.first_sent_at is None and callup.state == CallUpState.AWAITING:
            # Its call-up has not reached a provider yet (a large activation at 10 SMS a
            # second takes a while): time counts from when it does. Looking again one
            # reminder interval later is never late: it will have been sent after now.
            later = now + self._rules.due_after(Step.REMINDED)
            return StepRecord(callup.id, due.step, to_millis(later)), None
        usable = _usable_channels(due)
        first = due.first_channel if due.first_channel in usable else None
        plan = next_steps(
            CallUpProgress(
                state=CallUpState(callup.state),
                # From when the call-up reached the person's provider, not when it was queued.
                called_at=from_millis(due.first_sent_at or due.created_at),
                step=Step(due.step),
                channels=usable,
                first_channel=Channel(first or (usable[0] if usable else Channel.SMS)),
            ),
            now,
            self._rules,
        )
        record = StepRecord(
            callup.id,
            int(plan.step),
            None if plan.next_due_at is None else to_millis(plan.next_due_at),
            no_answer=plan.deadline_passed,
        )
        for step in plan.actions:
            if step.channel is None or step.channel not in usable:
                continue  # DEADLINE, or nobody to send to
            if step.action is Action.REMIND:
                return record, self._reminders.compose(callup, step.channel)
            if step.channel.value not in due.callup_channels:  # never the call-up twice
                return record, self._messages.compose(callup, step.channel.value)
        return record, None


def _usable_channels(due: DueCallUp) -> tuple[Channel, ...]:
    """The person's channels that may still be used: an address, not refused for good by the
    provider, and for SMS a number that has not opted out."""
    callup = due.snapshot
    usable: list[Channel] = []
    if callup.sms_number and not due.sms_opted_out and "sms" not in due.refused_channels:
        usable.append(Channel.SMS)
    if callup.email and "email" not in due.refused_channels:
        usable.append(Channel.EMAIL)
    return tuple(usable)


class _Reminders:
    """Renders reminders. A unit's SMS reminders read the same (they never name the
    person): each distinct one is rendered once."""

    def __init__(self, messages: CallUpMessages) -> None:
        self._messages = messages
        self._sms: Callable[[CallUpText], RenderedSms] = functools.lru_cache(maxsize=4096)(
            functools.partial(render_reminder_sms, messages.templates)
        )

    def compose(self, callup: CallUpSnapshot, channel: Channel) -> NewMessage | None:
        activation = self._messages.activation_text(
            callup.activation_kind, callup.activation_title, callup.activation_message
        )
        text = CallUpText(activation, "", callup.unit_name, callup.unit_address, callup.reply_code)
        if channel is Channel.SMS and callup.sms_number:
            sms = self._sms(text)
            return NewMessage(
                callup.activation_id,
                callup.id,
                "sms",
                "reminder",
                callup.sms_number,
                sms.text,
                segments=sms.segments,
            )
        if channel is not Channel.EMAIL or not callup.email:
            return None
        url = self._messages.answer_url(callup.activation_id, callup.person_id)
        email = render_reminder_email(
            self._messages.templates,
            dataclasses.replace(text, person_name=callup.person_name, answer_url=url),
        )
        return NewMessage(
            callup.activation_id,
            callup.id,
            "email",
            "reminder",
            callup.email,
            email.text,
            subject=email.subject,
            html=email.html,
        )
