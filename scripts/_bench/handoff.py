"""Parts b and c of `scripts/bench_dispatch`: the dispatcher handing SMS to Twilio.

The SMS go through the real `twilio` library to the fake Twilio API in its own process.
`HandOffLog` wraps the Twilio channel to note the moment each SMS is handed over, so
pacing is measured where the provider sees it, not from the database afterwards.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twilio.rest import Client

from _bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from _bench.service import callup_messages
from dispatcher.channels.base import OutgoingSms, SendResult, SmsChannel
from dispatcher.channels.sandbox import SandboxEmailChannel
from dispatcher.channels.twilio_sms import (
    STATUS_CALLBACK_PATH,
    RoutedTwilioHttpClient,
    TwilioSmsChannel,
)
from dispatcher.clock import SystemClock, to_millis
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.sms_text import sms_segments
from dispatcher.settings import Settings, TwilioSettings
from dispatcher.store import outbox
from dispatcher.store.database import Database
from dispatcher.store.outbox import NewMessage

# A call-up as the Swedish template renders it for a short unit name: one GSM-7 segment.
BODY = (
    "Exempelkommun: Storm. Kom till din krisplacering Ekbackens förskola, Ekvägen 4 snarast. "
    "Svara JA om du kommer, NEJ om du inte kan."
)
SERVICE_NUMBER = "+46766860000"
# Status callbacks would go here, but the fake sends none unless told to (auto_deliver).
PUBLIC_URL = "http://127.0.0.1:9"
UNPACED_RATE = 100_000.0  # tokens per second: the bucket never makes a hand-off wait
REQUEST_TIMEOUT_SECONDS = 10.0
# What the app runs with: the Dispatcher's own default.
MAX_IN_FLIGHT: int = inspect.signature(Dispatcher).parameters["max_in_flight"].default

assert sms_segments(BODY) == 1, "the benchmark SMS must be a single segment"


def recipients(count: int) -> Iterator[str]:
    """Distinct fictional Swedish mobile numbers."""
    return (f"+4670{index:07d}" for index in range(count))


class HandOffLog:
    """An `SmsChannel` that notes when each SMS is handed over, then passes it on."""

    def __init__(self, channel: SmsChannel) -> None:
        self._channel = channel
        self.handed_off: list[float] = []  # time.perf_counter() at each hand-off
        self.outcomes: Counter[str] = Counter()

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.handed_off.append(time.perf_counter())
        result = await self._channel.send(sms)
        self.outcomes[result.outcome.value] += 1
        return result

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        return await self._channel.find_sent(to, since)

    async def close(self) -> None:
        await self._channel.close()


@dataclass(frozen=True, slots=True)
class DispatchRun:
    """One dispatcher run: when it started, each hand-off, and when the last result was in."""

    messages: int
    rate: float
    started: float
    handed_off: tuple[float, ...]
    all_recorded: float  # seconds from start until every result was committed

    @property
    def last_hand_off(self) -> float:
        return max(self.handed_off) - self.started

    @property
    def busiest_second(self) -> int:
        """The most hand-offs in any one-second window."""
        times = sorted(self.handed_off)
        busiest, first = 0, 0
        for last, moment in enumerate(times):
            while times[first] <= moment - 1.0:
                first += 1
            busiest = max(busiest, last - first + 1)
        return busiest


async def dispatch_run(
    fake: FakeTwilio, database: Path, count: int, rate: float, deadline: float
) -> DispatchRun:
    """Queue `count` SMS in a fresh outbox, run the Dispatcher at `rate` until all are sent."""
    fake.reset()
    db = await Database.open(database)
    try:
        async with db.transaction() as conn:
            now_ms = to_millis(datetime.now(UTC))
            await outbox.enqueue(
                conn,
                (
                    NewMessage(None, None, "sms", "callup", to, BODY, segments=1)
                    for to in recipients(count)
                ),
                now_ms,
            )
        run = await _dispatch(db, fake, count, rate, deadline)
        rows = await db.fetch_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
    finally:
        await db.close()
    states = {str(row[0]): int(row[1]) for row in rows}
    at_fake = fake.message_count()
    if states != {"sent": count} or at_fake != count:
        raise RuntimeError(
            f"expected {count} sent; the outbox says {states}, the fake has {at_fake}"
        )
    return run


async def _dispatch(
    db: Database, fake: FakeTwilio, count: int, rate: float, deadline: float
) -> DispatchRun:
    settings = Settings()
    clock = SystemClock()
    composer = callup_messages(settings)
    twilio = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=SERVICE_NUMBER,
        api_base=fake.url,
        timeout_seconds=REQUEST_TIMEOUT_SECONDS,
    )
    email = SandboxEmailChannel(db, clock, settings.email.from_address)
    sms = HandOffLog(TwilioSmsChannel(twilio, PUBLIC_URL))
    try:
        dispatcher = Dispatcher(
            db,
            sms,
            email,
            clock,
            sms_rate=rate,
            email_rate=settings.email.rate_per_second,
            composer=composer,
            max_in_flight=MAX_IN_FLIGHT,
        )
        started = time.perf_counter()
        try:
            await dispatcher.start()
            async with asyncio.timeout(deadline):
                await dispatcher.wait_idle()
            all_recorded = time.perf_counter() - started
        except TimeoutError:
            raise RuntimeError(f"the dispatcher did not finish within {deadline:.0f} s") from None
        finally:
            await dispatcher.stop()
    finally:
        await sms.close()
        await email.close()
    if sms.outcomes != Counter(sent=count):
        raise RuntimeError(f"expected {count} hand-offs, all sent; got {dict(sms.outcomes)}")
    return DispatchRun(count, rate, started, tuple(sms.handed_off), all_recorded)


async def bare_run(fake: FakeTwilio, count: int, concurrency: int, deadline: float) -> float:
    """The baseline: `count` `create_async` calls, `concurrency` at a time, nothing stored.

    Same library, same HTTP client class and fields as the Twilio channel, so the
    difference to `dispatch_run` is what the dispatcher adds.
    """
    fake.reset()
    http = RoutedTwilioHttpClient(fake.url, REQUEST_TIMEOUT_SECONDS)
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        client.edge = client.region = None
        messages: Any = client.messages
        fields: dict[str, Any] = {
            "from_": SERVICE_NUMBER,
            "status_callback": PUBLIC_URL + STATUS_CALLBACK_PATH,
            "validity_period": TwilioSettings().validity_period_seconds,
        }
        pending = recipients(count)  # shared: each worker takes the next number

        async def worker() -> None:
            for to in pending:
                await messages.create_async(to=to, body=BODY, **fields)

        started = time.perf_counter()
        try:
            async with asyncio.timeout(deadline), asyncio.TaskGroup() as workers:
                for _ in range(concurrency):
                    workers.create_task(worker())
        except TimeoutError:
            raise RuntimeError(f"the bare loop did not finish within {deadline:.0f} s") from None
        elapsed = time.perf_counter() - started
    finally:
        await http.close()
    if (at_fake := fake.message_count()) != count:
        raise RuntimeError(f"bare loop: expected {count} messages at the fake, found {at_fake}")
    return elapsed
