"""Prometheus metrics: counters bumped as messages go out and answers come in, and gauges
read from the database when `/metrics` is scraped.

Each app has its own `CollectorRegistry`, never prometheus_client's global one: tests and
several apps in one process keep separate counts. Only counts and durations are exported,
never a name, number or message text, so `/metrics` needs no token.

The gauges come from a custom collector. prometheus_client collects synchronously, so
`render()` reads the database first (reader connection, index-only counts) and hands the
readings to the collector just before generating the text. Call-ups by state come from the
status cache the dashboards use: counted again only when an activation's revision moved,
and then shared with the next status poll.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from dispatcher.channels.base import Outcome as SendOutcome
from dispatcher.clock import from_millis, to_millis
from dispatcher.domain.escalation import CallUpState
from dispatcher.domain.planning import Channel
from dispatcher.status_cache import StatusCache
from dispatcher.store.database import Database

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus text format 0.0.4, which `generate_latest` writes. (prometheus_client 0.26's
`CONTENT_TYPE_LATEST` names version 1.0.0; the body is the same for our plain names.)"""

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds per hand-off to a provider: from a loopback sandbox to a struggling Twilio."""

ACTIVATION_KINDS = ("crisis", "drill")
ACTIVATION_STATES = ("awaiting_approval", "active", "stood_down", "cancelled")
OUTBOX_STATES = ("due", "scheduled", "sending")
"""Unfinished messages: due now (new, or a retry whose time has come), scheduled (a retry
waiting for its time) and sending (claimed, with the provider). Finished ones are counted
by `krisdispatch_messages_handed_off_total`."""


@dataclass(frozen=True, slots=True)
class Readings:
    """What the database says at one scrape."""

    activations: dict[tuple[str, str], int]  # (kind, state) -> activations
    callups: dict[tuple[str, str], int]  # (activation kind, call-up state) -> call-ups
    outbox: dict[tuple[str, str], int]  # (channel, OUTBOX_STATES) -> messages
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
            "Attempts to hand a message to a provider, by channel and outcome"
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
            "Inbound answers (SMS, and answer links in e-mails) by channel, what the reply"
            " meant (yes, no, stop, help, unknown) and what was done (applied, code_needed,"
            " help, …; error when it could not be stored).",
            ["channel", "meaning", "outcome"],
            registry=self.registry,
        )
        # Label children made once: the hot paths cost one dict lookup per event.
        self._handed_off = {
            (channel.value, outcome.value): self._handed_off_family.labels(channel, outcome)
            for channel in Channel
            for outcome in SendOutcome
        }
        self._latency = {c.value: self._latency_family.labels(c) for c in Channel}
        self._answers: dict[tuple[str, str, str], Counter] = {}
        self._gauges = _DatabaseGauges()
        self.registry.register(self._gauges)
        self._totals: dict[str, tuple[int, dict[str, int]]] = {}  # id -> (revision, totals)

    # -- hooks for the workers ---------------------------------------------------------

    def handed_off(self, channel: str, outcome: str, seconds: float) -> None:
        """One attempt to hand a message to a provider, and how long it took."""
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

    async def render(
        self, db: Database, status: StatusCache, *, now: datetime, last_progress_at: datetime
    ) -> bytes:
        """The metrics in Prometheus text format, with the gauges read now."""
        readings = await self.read(db, status, now=now, last_progress_at=last_progress_at)
        # No await between these two lines: a concurrent scrape cannot swap the readings.
        self._gauges.readings = readings
        return generate_latest(self.registry)

    async def read(
        self, db: Database, status: StatusCache, *, now: datetime, last_progress_at: datetime
    ) -> Readings:
        now_ms = to_millis(now)
        row = await db.fetch_one(_WAITING_SINCE_SQL, (now_ms,))
        waiting_since = None if row is None or row[0] is None else from_millis(int(row[0]))
        return Readings(
            activations=await _counts(db, _ACTIVATIONS_SQL),
            callups=await self._callup_counts(db, status),
            outbox=await _counts(db, _OUTBOX_SQL, (now_ms,)),
            stalled_seconds=stalled_seconds(now, last_progress_at, waiting_since),
        )

    async def _callup_counts(self, db: Database, status: StatusCache) -> dict[tuple[str, str], int]:
        """Call-ups of active activations by kind and state, from their status totals."""
        counts: dict[tuple[str, str], int] = {}
        totals: dict[str, tuple[int, dict[str, int]]] = {}
        for activation_id, kind in await db.fetch_all(_ACTIVE_SQL):
            body = await status.get(activation_id)
            if body is None:
                continue
            known = self._totals.get(activation_id)
            if known is None or known[0] != body.revision:
                # The contract's status totals count call-ups per state, one bucket each.
                parsed = json.loads(body.body)["totals"]
                known = (body.revision, {s.value: int(parsed[s.value]) for s in CallUpState})
            totals[activation_id] = known
            for state, number in known[1].items():
                counts[(kind, state)] = counts.get((kind, state), 0) + number
        self._totals = totals  # activations no longer active are forgotten
        return counts


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
            "Unfinished messages in the outbox by channel and state (due: waiting to be"
            " sent now; scheduled: a retry waiting for its time; sending: with a provider).",
            labels=["channel", "state"],
        )
        stalled = GaugeMetricFamily(
            "krisdispatch_dispatcher_stalled_seconds",
            "Seconds that due messages have waited without the dispatcher recording any"
            " result; 0 when nothing is due.",
        )
        if readings is not None:
            for kind in ACTIVATION_KINDS:
                for state in ACTIVATION_STATES:
                    activations.add_metric(
                        [kind, state], readings.activations.get((kind, state), 0)
                    )
                for callup_state in CallUpState:
                    number = readings.callups.get((kind, callup_state.value), 0)
                    callups.add_metric([kind, callup_state.value], number)
            for channel in Channel:
                for state in OUTBOX_STATES:
                    number = readings.outbox.get((channel.value, state), 0)
                    outbox.add_metric([channel.value, state], number)
            stalled.add_metric([], readings.stalled_seconds)
        yield from (activations, callups, outbox, stalled)


async def _counts(
    db: Database, sql: str, parameters: tuple[object, ...] = ()
) -> dict[tuple[str, str], int]:
    """Rows of (label, label, count) as a dict."""
    return {(str(r[0]), str(r[1])): int(r[2]) for r in await db.fetch_all(sql, parameters)}


# Each query is answered from an index (activations is a small table), so a scrape stays
# cheap while 100,000 messages wait: counting a channel's waiting messages walks its part of
# `messages_due` and never reads the table. `sending` holds at most a few hundred rows.
_ACTIVATIONS_SQL = "SELECT kind, state, COUNT(*) FROM activations GROUP BY kind, state"
_ACTIVE_SQL = "SELECT id, kind FROM activations WHERE state = 'active' ORDER BY id"
_OUTBOX_SQL = """
SELECT 'sms', 'due', COUNT(*) FROM messages
 WHERE channel = 'sms' AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1
UNION ALL SELECT 'sms', 'scheduled', COUNT(*) FROM messages
 WHERE channel = 'sms' AND state IN ('queued', 'failed_temporary') AND next_attempt_at > ?1
UNION ALL SELECT 'email', 'due', COUNT(*) FROM messages
 WHERE channel = 'email' AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1
UNION ALL SELECT 'email', 'scheduled', COUNT(*) FROM messages
 WHERE channel = 'email' AND state IN ('queued', 'failed_temporary') AND next_attempt_at > ?1
UNION ALL SELECT channel, 'sending', COUNT(*) FROM messages WHERE state = 'sending' GROUP BY 1
"""
# When the oldest waiting work began to wait: the earliest due time among due messages (one
# step down `messages_due` per channel) and the earliest claim among messages being sent.
_WAITING_SINCE_SQL = """
SELECT MIN(t) FROM (
 SELECT MIN(next_attempt_at) AS t FROM messages
  WHERE channel = 'sms' AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1
 UNION ALL SELECT MIN(next_attempt_at) FROM messages
  WHERE channel = 'email' AND state IN ('queued', 'failed_temporary') AND next_attempt_at <= ?1
 UNION ALL SELECT MIN(claimed_at) FROM messages WHERE state = 'sending')
"""
