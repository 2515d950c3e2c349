"""Prometheus metrics: counters bumped as messages go out and answers come in, and gauges
read from the database when `/metrics` is scraped.

Each app has its own `CollectorRegistry`, never prometheus_client's global one: tests and
several apps in one process keep separate counts. Only counts and durations are exported,
never a name, number or message text, so `/metrics` needs no token.

The gauges (activations, call-ups, outbox depth, stall) come from a custom collector.
prometheus_client collects synchronously, so `render()` reads the database first (on the
reader connection) and hands the readings to the collector just before generating the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from dispatcher.channels.base import Outcome as SendOutcome
from dispatcher.clock import from_millis, to_millis
from dispatcher.domain.delivery import MessageState
from dispatcher.domain.escalation import CallUpState
from dispatcher.domain.planning import Channel
from dispatcher.store.database import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus text format 0.0.4, which `generate_latest` writes. (prometheus_client 0.26's
`CONTENT_TYPE_LATEST` names version 1.0.0; the body is the same for our plain names.)"""

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds per hand-off to a provider: loopback sandboxes to a struggling Twilio."""

ACTIVATION_KINDS = ("crisis", "drill")
ACTIVATION_STATES = ("awaiting_approval", "active", "stood_down", "cancelled")
WAITING_STATES = (MessageState.QUEUED, MessageState.FAILED_TEMPORARY, MessageState.SENDING)
"""The outbox's depth: messages not yet handed off for good (finished ones are counted by
`krisdispatch_messages_handed_off_total`)."""


@dataclass(frozen=True, slots=True)
class Readings:
    """What the database says at one scrape."""

    activations: dict[tuple[str, str], int]  # (kind, state) -> activations
    callups: dict[tuple[str, str], int]  # (activation kind, call-up state) -> call-ups
    outbox: dict[tuple[str, str], int]  # (channel, state) -> waiting messages
    stalled_seconds: float


def stalled_seconds(
    now: datetime, last_progress_at: datetime, waiting_since: datetime | None
) -> float:
    """How long due work has waited with nothing recorded by the dispatcher; 0 when nothing
    waits. Counted from the later of the last progress and the moment the oldest waiting
    message fell due (or was claimed), so work arriving after a quiet hour starts at 0."""
    if waiting_since is None:
        return 0.0
    return max(0.0, (now - max(last_progress_at, waiting_since)).total_seconds())


class Metrics:
    """One app's metrics. The dispatcher calls `handed_off`, the answer desk `answered`;
    the `/metrics` handler calls `render`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._handed_off_family = Counter(
            "krisdispatch_messages_handed_off",
            "Messages handed to a provider, by channel and outcome"
            " (sent; temporary: tried again later; permanent: will never work).",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self._latency_family = Histogram(
            "krisdispatch_provider_latency_seconds",
            "Seconds per hand-off to a provider, by channel.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._answers_family = Counter(
            "krisdispatch_inbound_replies",
            "Inbound answers (SMS, and answer links in e-mails), by channel, what the reply"
            " meant (yes, no, stop, help, unknown) and what was done (applied, code_needed, …;"
            " error when it could not be stored).",
            ["channel", "meaning", "outcome"],
            registry=self.registry,
        )
        # Label children, created once: the hot paths do one dict lookup per event.
        self._handed_off = {
            (channel.value, outcome.value): self._handed_off_family.labels(channel, outcome)
            for channel in Channel
            for outcome in SendOutcome
        }
        self._latency = {c.value: self._latency_family.labels(c) for c in Channel}
        self._answers: dict[tuple[str, str, str], Counter] = {}
        self._gauges = _DatabaseGauges()
        self.registry.register(self._gauges)
        self._callups_key: tuple[tuple[str, int], ...] | None = None
        self._callups: dict[tuple[str, str], int] = {}

    # -- hooks for the workers ---------------------------------------------------------

    def handed_off(self, channel: str, outcome: str, seconds: float) -> None:
        """One attempt to hand a message to a provider, and how long the provider took."""
        counter = self._handed_off.get((channel, outcome))
        if counter is None:
            counter = self._handed_off_family.labels(channel, outcome)
            self._handed_off[(channel, outcome)] = counter
        counter.inc()
        latency = self._latency.get(channel)
        if latency is None:
            latency = self._latency[channel] = self._latency_family.labels(channel)
        latency.observe(seconds)

    def answered(self, channel: str, meaning: str, outcome: str) -> None:
        """One inbound answer handled (its outcome committed), or `outcome="error"`."""
        key = (channel, meaning, outcome)
        counter = self._answers.get(key)
        if counter is None:
            counter = self._answers[key] = self._answers_family.labels(*key)
        counter.inc()

    # -- scraping ----------------------------------------------------------------------

    async def render(self, db: Database, *, now: datetime, last_progress_at: datetime) -> bytes:
        """The metrics in Prometheus text format, with the gauges read from `db` now."""
        readings = await self.read(db, now=now, last_progress_at=last_progress_at)
        # No await between these two lines: a concurrent scrape cannot swap the readings.
        self._gauges.readings = readings
        return generate_latest(self.registry)

    async def read(self, db: Database, *, now: datetime, last_progress_at: datetime) -> Readings:
        row = await db.fetch_one(_WAITING_SINCE_SQL, (to_millis(now),))
        waiting_since = None if row is None or row[0] is None else from_millis(int(row[0]))
        return Readings(
            activations=await _counts(db, _ACTIVATIONS_SQL),
            callups=await self._callup_counts(db),
            outbox=await _counts(db, _OUTBOX_SQL),
            stalled_seconds=stalled_seconds(now, last_progress_at, waiting_since),
        )

    async def _callup_counts(self, db: Database) -> dict[tuple[str, str], int]:
        """Call-ups of active activations by kind and state, counted again only when an
        active activation's status revision moved (or the set of active ones changed)."""
        rows = await db.fetch_all(_ACTIVE_REVISIONS_SQL)
        key = tuple((str(r[0]), int(r[1])) for r in rows)
        if key != self._callups_key:
            # Revisions read first: a change after them only makes the next scrape count.
            self._callups = await _counts(db, _CALLUPS_SQL)
            self._callups_key = key
        return self._callups


class _DatabaseGauges:
    """A collector yielding the gauges of the latest `Readings` (none before a scrape)."""

    def __init__(self) -> None:
        self.readings: Readings | None = None

    def describe(self) -> Iterable[Metric]:
        return list(self._families(None))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.readings))

    def _families(self, readings: Readings | None) -> Iterator[Metric]:
        activations = GaugeMetricFamily(
            "krisdispatch_activations",
            "Activations by kind (crisis, drill) and state.",
            labels=["kind", "state"],
        )
        callups = GaugeMetricFamily(
            "krisdispatch_callups",
            "Call-ups of active activations, by activation kind and call-up state.",
            labels=["kind", "state"],
        )
        outbox = GaugeMetricFamily(
            "krisdispatch_outbox_messages",
            "Messages waiting in the outbox, by channel and state (queued; failed_temporary:"
            " waiting for a retry; sending: claimed, with a provider).",
            labels=["channel", "state"],
        )
        stalled = GaugeMetricFamily(
            "krisdispatch_dispatcher_stalled_seconds",
            "Seconds that due messages have waited without the dispatcher recording any"
            " result; 0 when nothing is due. Alert when it stays above a minute or so.",
        )
        if readings is not None:
            for kind in ACTIVATION_KINDS:
                for state in ACTIVATION_STATES:
                    value = readings.activations.get((kind, state), 0)
                    activations.add_metric([kind, state], value)
                for callup_state in CallUpState:
                    value = readings.callups.get((kind, callup_state.value), 0)
                    callups.add_metric([kind, callup_state.value], value)
            for channel in Channel:
                for message_state in WAITING_STATES:
                    value = readings.outbox.get((channel.value, message_state.value), 0)
                    outbox.add_metric([channel.value, message_state.value], value)
            stalled.add_metric([], readings.stalled_seconds)
        yield from (activations, callups, outbox, stalled)


async def _counts(db: Database, sql: str) -> dict[tuple[str, str], int]:
    """Rows of (label, label, count) as a dict."""
    return {(str(r[0]), str(r[1])): int(r[2]) for r in await db.fetch_all(sql)}


# Every query below is answered from an index (activations is small), so a scrape stays
# cheap during a 100,000-person dispatch; only the call-up count reads the call-ups, and
# only when something changed.
_ACTIVATIONS_SQL = "SELECT kind, state, COUNT(*) FROM activations GROUP BY kind, state"
_ACTIVE_REVISIONS_SQL = "SELECT id, revision FROM activations WHERE state = 'active' ORDER BY id"
_CALLUPS_SQL = (
    "SELECT a.kind, c.state, COUNT(*) FROM activations a"
    " JOIN callups c ON c.activation_id = a.id"
    " WHERE a.state = 'active' GROUP BY a.kind, c.state"
)
_OUTBOX_SQL = (
    "SELECT channel, state, COUNT(*) FROM messages"
    " WHERE state IN ('queued', 'failed_temporary') GROUP BY channel, state"
    " UNION ALL"
    " SELECT channel, 'sending', COUNT(*) FROM messages WHERE state = 'sending' GROUP BY channel"
)
# When the oldest waiting work began to wait: the earliest due time among due messages
# (per channel, so each half is one step down the `messages_due` index) and the earliest
# claim among messages with a provider.
_WAITING_SINCE_SQL = (
    "SELECT MIN(t) FROM ("
    " SELECT MIN(next_attempt_at) AS t FROM messages WHERE channel = 'sms'"
    "  AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1"
    " UNION ALL"
    " SELECT MIN(next_attempt_at) FROM messages WHERE channel = 'email'"
    "  AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1"
    " UNION ALL"
    " SELECT MIN(claimed_at) FROM messages WHERE state = 'sending')"
)
