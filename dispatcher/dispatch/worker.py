"""The dispatcher: claims due outbox rows, paces them to the providers, records the results.

The database is the truth. A message is marked `sending` (committed) before it is handed
to a provider, and its result is committed in a batch right after; a crash in between
leaves it `sending`, and `recover()` settles it on the next start. One claim loop per
channel paces hand-offs with a token bucket and keeps at most `max_in_flight` sends
running; one recorder writes results in batched transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import structlog

from dispatcher.channels.base import (
    EmailChannel,
    Outcome,
    OutgoingEmail,
    OutgoingSms,
    SendResult,
    SmsChannel,
)
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.dispatch.outcomes import CallUpComposer, record_outcomes
from dispatcher.dispatch.pacing import TokenBucket
from dispatcher.domain.delivery import RetryPolicy
from dispatcher.store import message_status, outbox
from dispatcher.store.database import Database
from dispatcher.store.outbox import OutboxMessage

log = structlog.get_logger("dispatcher.dispatch")

SendFunction = Callable[[OutboxMessage], Awaitable[SendResult]]

_MAX_POLL_SECONDS = 1.0
# What a lookup at the provider can say besides a message id.
_ABSENT = "<absent>"
_UNKNOWN = "<unknown>"
_STILL_UNSURE = SendResult.temporary(
    "the provider cannot say whether an earlier attempt arrived", may_have_sent=True
)
_RECORD_BATCH = 500
_RECORD_WINDOW_SECONDS = 0.02
# Messages that are not sent once their activation is no longer active (stand-down notices
# and gap reports still go), and how old the list of active activations may be (seconds).
_WITHDRAWN_WHEN_CLOSED = frozenset({"callup", "reminder"})
_OPEN_ACTIVATIONS_TTL = 0.2


class DispatchMetrics(Protocol):
    """What the dispatcher reports as it works (`dispatcher.metrics.Metrics` is one)."""

    def handed_off(self, channel: str, outcome: str, seconds: float) -> None: ...


@dataclass
class _Lane:
    """One channel's pipeline: its pacing and whether its last claim found nothing."""

    name: str
    bucket: TokenBucket
    send: SendFunction
    claim_size: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    idle: bool = False
    claimed: set[int] = field(default_factory=set)  # claimed, not yet handed to the provider


class Dispatcher:
    """The background worker. `start()` in the app's cleanup context, `stop()` after."""

    def __init__(
        self,
        db: Database,
        sms: SmsChannel,
        email: EmailChannel,
        clock: Clock,
        *,
        sms_rate: float,
        email_rate: float,
        composer: CallUpComposer | None = None,
        retry: RetryPolicy | None = None,
        max_in_flight: int = 64,
        metrics: DispatchMetrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._composer = composer
        self._sms = sms
        self._email = email
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._lanes = (
            _Lane("sms", TokenBucket(sms_rate), self._send_sms, _claim_size(sms_rate)),
            _Lane("email", TokenBucket(email_rate), self._send_email, _claim_size(email_rate)),
        )
        self._in_flight: set[asyncio.Task[None]] = set()
        self._withdrawals: list[OutboxMessage] = []  # claimed, then their activation closed
        self._activation_open: dict[str, tuple[bool, float]] = {}  # id -> (open, checked at)
        self._unrecorded = 0  # claimed and not yet recorded (or returned)
        self._results: list[tuple[OutboxMessage, SendResult]] = []
        self._results_ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_progress_at = clock.now()

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        await self.recover()
        self._tasks = [asyncio.create_task(self._claim_loop(lane)) for lane in self._lanes]
        self._tasks.append(asyncio.create_task(self._record_loop()))

    async def stop(self) -> None:
        """Stop claiming, let sends under way finish, record their results. Idempotent."""
        if not self._tasks:
            return
        for task in self._tasks[:-1]:
            task.cancel()
        await asyncio.gather(*self._tasks[:-1], return_exceptions=True)
        unsent = [message_id for lane in self._lanes for message_id in lane.claimed]
        for lane in self._lanes:
            lane.claimed.clear()
        if unsent:  # claimed but never handed off: due again, nothing to ask the provider
            async with self._db.transaction() as conn:
                await outbox.requeue(conn, unsent, to_millis(self._clock.now()))
            self._unrecorded -= len(unsent)
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        recorder = self._tasks[-1] if self._tasks else None
        if recorder is not None:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
        self._tasks = []
        await self._flush()

    def wake(self) -> None:
        """Look for due messages now (after a declaration, a reply, a moved clock)."""
        self._idle.clear()
        for lane in self._lanes:
            lane.idle = False
            lane.wake.set()

    async def wait_idle(self) -> None:
        """Return once nothing is due, nothing is in flight and every result is recorded."""
        self.wake()
        await self._idle.wait()

    # -- crash recovery --------------------------------------------------------------

    async def recover(self) -> None:
        """Settle messages a dead process left `sending`.

        An SMS is resent only if the provider has no message to that number created since
        the claim; when the provider cannot say, the message waits, marked unsure, and is
        looked up again before its next attempt. An e-mail is resent (a duplicate e-mail is
        the lesser harm; SMTP cannot be asked).
        """
        stranded = await outbox.left_sending(self._db)
        if not stranded:
            return
        settled: list[tuple[OutboxMessage, SendResult]] = []
        resend: list[OutboxMessage] = []
        for message in stranded:
            found = await self._look_up(message, message.claimed_at)
            if found is _ABSENT or message.channel != "sms":
                resend.append(message)
            elif found is _UNKNOWN:
                settled.append((message, _STILL_UNSURE))
            else:
                settled.append((message, SendResult.sent(found, "recovered")))
        now = self._clock.now()
        async with self._db.transaction() as conn:
            await record_outcomes(
                conn, settled, now=now, retry=self._retry, composer=self._composer
            )
            await outbox.requeue(conn, [m.id for m in resend], to_millis(now))
        log.warning(
            "recovered stranded messages",
            stranded=len(stranded),
            found_at_provider=sum(1 for _, r in settled if r.outcome is Outcome.SENT),
            unsure=sum(1 for _, r in settled if r.outcome is not Outcome.SENT),
            requeued=len(resend),
        )

    async def _look_up(self, message: OutboxMessage, since_ms: int | None) -> str:
        """The provider's id for an SMS to this number created since `since_ms`, or
        `_ABSENT` when there is none, or `_UNKNOWN` when the provider cannot say."""
        if message.channel != "sms" or since_ms is None:
            return _ABSENT
        # A little slack for clock differences between us and the provider.
        since = from_millis(since_ms) - timedelta(seconds=5)
        try:
            ids = await self._sms.find_sent(message.recipient, since)
        except (
            Exception
        ) as error:  # any failure to ask is "cannot say": never a reason to send twice
            log.warning("provider lookup failed", message_id=message.id, error=str(error))
            return _UNKNOWN
        return ids[0] if ids else _ABSENT

    # -- sending ---------------------------------------------------------------------

    async def _send_sms(self, message: OutboxMessage) -> SendResult:
        return await self._sms.send(OutgoingSms(message.id, message.recipient, message.body))

    async def _send_email(self, message: OutboxMessage) -> SendResult:
        return await self._email.send(
            OutgoingEmail(
                message.id, message.recipient, message.subject or "", message.body, message.html
            )
        )

    async def _claim_loop(self, lane: _Lane) -> None:
        while True:
            lane.wake.clear()
            now_ms = to_millis(self._clock.now())
            batch = await outbox.claim_due(
                self._db, channel=lane.name, now_ms=now_ms, limit=lane.claim_size
            )
            if not batch:
                lane.idle = True
                self._check_idle()
                await self._sleep_until_due(lane)
                continue
            lane.idle = False
            self._idle.clear()
            lane.claimed.update(m.id for m in batch)
            self._unrecorded += len(batch)
            for message in batch:
                cost = max(1, message.segments) if lane.name == "sms" else 1
                await lane.bucket.acquire(cost)
                await self._slots.acquire()
                lane.claimed.remove(message.id)
                task = asyncio.create_task(self._hand_off(lane, message))
                self._in_flight.add(task)
                task.add_done_callback(self._hand_off_done)

    async def _sleep_until_due(self, lane: _Lane) -> None:
        due = await outbox.next_due_at(self._db, channel=lane.name)
        delay = _MAX_POLL_SECONDS
        if due is not None:
            delay = min(delay, max(0.0, (due - to_millis(self._clock.now())) / 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lane.wake.wait(), timeout=max(delay, 0.01))

    def _hand_off_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)

    async def _attempt(self, lane: _Lane, message: OutboxMessage) -> SendResult:
        """One attempt, never sending an SMS that an earlier attempt may already have sent."""
        if message.unsure_since is not None:
            found = await self._look_up(message, message.unsure_since)
            if found is _UNKNOWN:
                return _STILL_UNSURE
            if found is not _ABSENT:
                return SendResult.sent(found, "found after lost answer")
        result = await lane.send(message)
        if result.outcome is Outcome.TEMPORARY and result.may_have_sent:
            # The request reached the provider and its answer was lost: look before resending.
            found = await self._look_up(message, message.claimed_at)
            if found is _ABSENT and message.channel == "sms":
                return dataclasses.replace(result, may_have_sent=False)
            if found is not _ABSENT and found is not _UNKNOWN:
                return SendResult.sent(found, "found after lost answer")
        return result

    async def _withdrawn(self, message: OutboxMessage) -> bool:
        """A call-up or reminder whose activation was stood down after it was claimed.

        An activation known to be open is checked again after a fifth of a second; one known
        to be closed stays closed (activations never reopen)."""
        activation_id = message.activation_id
        if activation_id is None or message.purpose not in _WITHDRAWN_WHEN_CLOSED:
            return False
        now = asyncio.get_running_loop().time()
        known = self._activation_open.get(activation_id)
        if known is None or (known[0] and now - known[1] > _OPEN_ACTIVATIONS_TTL):
            row = await self._db.fetch_one(
                "SELECT state = 'active' FROM activations WHERE id = ?", (activation_id,)
            )
            known = (row is not None and bool(row[0]), now)
            self._activation_open[activation_id] = known
        return not known[0]

    async def _hand_off(self, lane: _Lane, message: OutboxMessage) -> None:
        started = time.perf_counter()
        try:
            if await self._withdrawn(message):
                self._withdrawals.append(message)
                self._results_ready.set()
                return
            started = time.perf_counter()
            result = await self._attempt(lane, message)
        except Exception as error:  # a channel bug must not lose the message: retry it later
            log.exception("channel raised", message_id=message.id, channel=lane.name)
            result = SendResult.temporary(detail=f"internal error: {type(error).__name__}")
        finally:
            self._slots.release()
        if self._metrics is not None:
            self._metrics.handed_off(lane.name, result.outcome, time.perf_counter() - started)
        self._results.append((message, result))
        self._results_ready.set()

    # -- recording -------------------------------------------------------------------

    async def _record_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            if len(self._results) < _RECORD_BATCH // 2:
                # Let a few more results arrive: one commit for many hand-offs at high rates,
                # a few milliseconds of delay at low ones.
                await asyncio.sleep(_RECORD_WINDOW_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        if self._withdrawals:
            withdrawn, self._withdrawals = self._withdrawals, []
            async with self._db.transaction() as conn:
                await outbox.cancel_messages(
                    conn, [m.id for m in withdrawn], to_millis(self._clock.now())
                )
            self._unrecorded -= len(withdrawn)
            log.info("withdrawn after stand-down", messages=len(withdrawn))
        while self._results:
            batch = self._results[:_RECORD_BATCH]
            del self._results[:_RECORD_BATCH]
            now = self._clock.now()
            async with self._db.transaction() as conn:
                queued_more = await record_outcomes(
                    conn, batch, now=now, retry=self._retry, composer=self._composer
                )
            sent = [r.provider_id for _, r in batch if r.provider_id is not None]
            replayed = await message_status.replay_early_reports(
                self._db, sent, now_ms=to_millis(now), composer=self._composer
            )
            self._unrecorded -= len(batch)
            queued_more = queued_more or any(r.fallback_queued for r in replayed)
            self.last_progress_at = now
            for message, result in batch:
                log.info(
                    "message attempt",
                    message_id=message.id,
                    activation_id=message.activation_id,
                    callup_id=message.callup_id,
                    channel=message.channel,
                    purpose=message.purpose,
                    outcome=result.outcome.value,
                    error_code=result.error_code,
                )
            if queued_more:
                self.wake()
        self._results_ready.clear()
        self._check_idle()

    def _check_idle(self) -> None:
        if self._unrecorded == 0 and all(lane.idle for lane in self._lanes):
            self._idle.set()


def _claim_size(rate: float) -> int:
    """Claim about a second's worth of messages at a time: enough to keep the pipe full."""
    return max(1, min(200, math.ceil(rate)))
