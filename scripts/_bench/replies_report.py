"""What `scripts/bench_replies` prints and records: the Markdown for parts a and b."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from _bench.inbound import MIX, Stored
from _bench.loadgen import LoadResult
from _bench.polls import CONNECTIONS, PollResult
from _bench.report import table, verdict
from dispatcher.demo import PEOPLE_PER_UNIT

RATIO_TARGET = 0.85
RATE_TARGET = 2_000.0
WARM_UP = 1_000


@dataclass
class RepliesRun:
    """Everything part a measured and checked."""

    people: int
    seconds: float  # sending, per run
    connections: int
    callups: int = 0
    senders: int = 0  # call-ups with a mobile number
    unsettled: int = 0  # messages not yet handed over or delivered when timing began
    minimal: list[LoadResult] = field(default_factory=list)
    service: list[LoadResult] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)  # MessageSids the service answered 200
    answers: int = 0  # requests the service answered 200 with TwiML, warm-up included
    logged_errors: int = 0  # error lines in the service's log
    stored: Stored | None = None

    def note_answers(self, result: LoadResult, *, warm_up: bool = False) -> LoadResult:
        """Check the service's answers and keep the MessageSids it answered."""
        result.require_clean("warm-up" if warm_up else "dispatcher")
        self.answered.update(result.ok_tags)
        self.answers += len(result.ok_tags)
        result.ok_tags.clear()
        return result


def _cpu(busy: float, seconds: float) -> str:
    return f"{100 * busy / seconds:.0f} %" if seconds else "–"


def _latency(p50: float, p99: float) -> str:
    return f"{p50:.1f} / {p99:.1f} ms"


def _reply_row(name: str, results: Sequence[LoadResult]) -> list[str]:
    rates = [r.rate for r in results]
    seconds = sum(r.seconds for r in results)
    return [
        name,
        f"**{statistics.median(rates):,.0f}**",
        f"{min(rates):,.0f} – {max(rates):,.0f}",
        _latency(
            statistics.median(r.latency_ms["p50"] for r in results),
            statistics.median(r.latency_ms["p99"] for r in results),
        ),
        _cpu(sum(r.server_cpu for r in results), seconds),
        _cpu(sum(r.loadgen_cpu for r in results), seconds),
    ]


def replies_report(runs: RepliesRun) -> str:
    minimal = statistics.median(r.rate for r in runs.minimal)
    service = statistics.median(r.rate for r in runs.service)
    ratio = service / minimal
    mix = ", ".join(
        f"{'repeats of an earlier MessageSid' if kind == 'duplicate' else kind} {share} %"
        for kind, share in MIX
    )
    header = ["server", "replies per second (median)", "min – max", "latency p50 / p99"]
    header += ["server CPU", "load generator CPU"]
    rows = [
        _reply_row("minimal handler: signature, parse, one INSERT + commit", runs.minimal),
        _reply_row("`dispatcher serve`: store, apply, answer in batches", runs.service),
    ]
    return "\n\n".join(
        [
            "### a. Inbound replies",
            f"`dispatcher serve` in its own process, Twilio SMS channel against the fake "
            f"Twilio process, with a crisis for the demo municipality ({runs.people:,} people, "
            f"{runs.callups:,} call-ups, {runs.senders:,} by SMS), "
            f"{_dispatch_state(runs.unsettled)}. A load generator (its own process, "
            f"aiohttp, {runs.connections} connections) posts signed inbound SMS for "
            f"{runs.seconds:g} s per run from the people called, each in turn: {mix} "
            "(garbage is texts like `Vad gäller det?`). Requests and signatures are made "
            "before timing; both servers get the same ones. Every answer must be 200 with "
            "TwiML within 15 s (Twilio's limit). Timed from the first request to the last "
            f"answer; median of {len(runs.service)} runs, interleaved, after a warm-up of "
            f"{WARM_UP:,} each. CPU: the share of one core each process used during the runs.",
            table(header, rows),
            f"Ratio dispatcher / minimal handler: **{ratio:.2f}** — target at least "
            f"{RATIO_TARGET} — {verdict(ratio >= RATIO_TARGET)}. Rate: **{service:,.0f} "
            f"replies per second** — target at least {RATE_TARGET:,.0f} — "
            f"{verdict(service >= RATE_TARGET)}.",
            _late(runs),
            _proof(runs),
        ]
    )


def _dispatch_state(unsettled: int) -> str:
    if not unsettled:
        return "every call-up handed over and reported delivered before any timing"
    return (
        f"**the dispatch still running during the measurement** ({unsettled:,} messages "
        "not yet handed over or reported delivered when the wait for it ran out)"
    )


def _late(runs: RepliesRun) -> str:
    """Requests without an answer within 15 s, or still waiting when a run was cut off."""
    late = []
    for name, results in (("minimal handler", runs.minimal), ("dispatcher", runs.service)):
        unanswered = sum(r.sent - r.answered for r in results)
        if unanswered:
            late.append(f"{name} {unanswered:,} of {sum(r.sent for r in results):,}")
    if not late:
        return "Every request sent got its answer within 15 s."
    return (
        "**Not answered within 15 s** (Twilio would have given up and sent them again): "
        + "; ".join(late)
        + "."
    )


def _proof(runs: RepliesRun) -> str:
    stored = runs.stored
    assert stored is not None
    outcomes = ", ".join(f"{outcome} {count:,}" for outcome, count in stored.outcomes.most_common())
    missing = len(stored.missing)
    errors = (
        "no error in its log"
        if not runs.logged_errors
        else f"**{runs.logged_errors:,} errors in its log**"
    )
    return (
        f"**Answered only after commit:** the service answered {runs.answers:,} requests "
        f"with 200 and TwiML (warm-up included), {len(runs.answered):,} distinct MessageSids "
        "(the rest were repeats). After the last run it was killed with SIGKILL, so nothing "
        "it still held could reach the file, and the database opened: "
        + (
            "every one of them is in `inbound_messages`."
            if not missing
            else f"**{missing:,} of them are missing from `inbound_messages`.**"
        )
        + f" Stored outcomes: {outcomes}; {errors}."
    )


def polls_report(
    results: dict[tuple[str, int], list[PollResult]],
    units: int,
    body_size: int,
    poller: str,
    unsettled: int,
) -> str:
    tool = (
        "`wrk` (one thread)"
        if poller == "wrk"
        else "The Python load generator (aiohttp; it may be the limit for the bare handler)"
    )
    rows = []
    rates: dict[tuple[str, int], float] = {}
    for (label, expect), runs in results.items():
        rate = statistics.median(r.rate for r in runs)
        rates[label, expect] = rate
        seconds = sum(r.seconds for r in runs)
        rows.append(
            [
                f"{expect}" + (" (with the ETag)" if expect == 304 else ""),
                "bare handler, fixed body" if label == "minimal handler" else "`dispatcher serve`",
                f"**{rate:,.0f}**",
                f"{statistics.median(r.p50_ms for r in runs):.1f} ms",
                f"{statistics.median(r.p99_ms for r in runs):.1f} ms",
                _cpu(sum(r.server_cpu for r in runs), seconds),
            ]
        )
    ratios = "; ".join(
        f"{expect}s: {rates['dispatcher', expect] / rates['minimal handler', expect]:.2f}"
        for expect in (200, 304)
        if ("dispatcher", expect) in rates
    )
    count = len(next(iter(results.values())))
    return "\n\n".join(
        [
            "### b. Status polls",
            f"An activation over {units} units (a demo roster of {units * PEOPLE_PER_UNIT:,} "
            f"people; {_dispatch_state(unsettled)}; no answers yet); its status body is "
            f"{body_size:,} bytes. "
            f"{tool} keeps {CONNECTIONS} connections busy per run, each request with a "
            "viewer token: without `If-None-Match` (200 with the body), then with the "
            "current ETag (304). Median of "
            f"{count} runs, interleaved. Baseline: a bare aiohttp handler answering a fixed "
            "body of the same size (304 for the same ETag), checking no token and reading "
            "nothing.",
            table(["answer", "server", "requests per second", "p50", "p99", "server CPU"], rows),
            f"Dispatcher / bare handler: {ratios}. (No target in issue 4 beyond reporting these.)",
        ]
    )
