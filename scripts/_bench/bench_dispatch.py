"""`scripts/bench_dispatch`: declaration, hand-off rate and pacing (issue 3), each beside a
baseline measured in the same run.

a. Declaring a crisis for at least `--people` people placed at units: the whole
   `Activations.declare` call and its write transaction, against `sqlite3.executemany`
   of the same rows. Target: the transaction in at most 2 s for 100,000 people.
b. Unpaced hand-off: `--messages` SMS (default: about 6 s of work) queued in the outbox,
   the `Dispatcher` with the Twilio channel against the fake Twilio process, every state
   persisted; against a bare loop of `create_async` calls at the same concurrency.
   Target: at least 0.85 of it.
c. Pacing: time to the last hand-off at 100 and 1,000 SMS per second.
   Target: at most 1.02 × N / rate + 1 s.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _bench.declaring import DeclarationRun, bare_insert, declare_once, declared_rows
from _bench.fake_twilio import FakeTwilio, running_fake
from _bench.handoff import MAX_IN_FLIGHT, UNPACED_RATE, DispatchRun, bare_run, dispatch_run
from _bench.report import Machine, record_section, table, verdict
from _bench.rosters import parse, read_files, store, write_roster_placing
from _bench.timing import (
    checked_repeat,
    interrupt_on_sigterm,
    run_async,
    scratch_directory,
    seconds,
)
from dispatcher.logs import configure_logging

PARTS = ("declaration", "handoff", "pacing")
PERSIST_TARGET_SECONDS = 2.0
PERSIST_TARGET_PEOPLE = 100_000
HANDOFF_TARGET_RATIO = 0.85
WARM_UP_MESSAGES = 1_000
HANDOFF_SECONDS = 6.0  # part b's default size: about this long for the bare loop
MIN_AUTO_MESSAGES, MAX_AUTO_MESSAGES = 5_000, 50_000
PACING = ((100.0, 1_000), (1_000.0, 5_000))  # (SMS per second, messages)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="scripts/bench_dispatch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--people", type=int, default=100_000, help="people called (100000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of a and b (3)")
    parser.add_argument(
        "--messages",
        type=int,
        default=None,
        help="SMS for part b (default: about 6 s of the bare loop, 5000–50000)",
    )
    parser.add_argument(
        "--part", action="append", choices=PARTS, help="run only this part (repeatable)"
    )
    parser.add_argument(
        "--record", action="store_true", help="write the results into docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.people < 1 or (args.messages is not None and args.messages < 1):
        parser.error("--people and --messages must be at least 1")
    repeat = checked_repeat(args.repeat)
    parts = args.part or list(PARTS)
    interrupt_on_sigterm()
    machine = Machine.now()
    try:
        with _service_logging_discarded(), scratch_directory("bench-dispatch-") as scratch:
            sections = _run(scratch, parts, args.people, args.messages, repeat)
    except KeyboardInterrupt:
        sys.exit("interrupted; child processes stopped, temporary files removed")
    body = "\n\n".join([*sections, machine.describe()])
    print(body)
    if args.record:
        if set(parts) != set(PARTS):
            sys.exit("--record needs all three parts (leave out --part)")
        record_section("bench_dispatch", body)


@contextmanager
def _service_logging_discarded() -> Iterator[None]:
    """The service's logging (one JSON line per message attempt), written to nowhere: the
    cost of rendering the lines is part of what the service does per message. Afterwards
    logs go to standard error again (an interrupted run may still log on its way out)."""
    configure_logging("info", json=True)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    with open(os.devnull, "w", encoding="utf-8") as sink:  # noqa: PTH123
        for handler in handlers:
            handler.setStream(sink)
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(sys.stderr)


def _run(
    scratch: Path, parts: list[str], people: int, messages: int | None, repeat: int
) -> list[str]:
    sections = []
    if "declaration" in parts:
        sections.append(_declaration(scratch, people, repeat))
    if "handoff" in parts or "pacing" in parts:
        with running_fake(scratch / "fake-twilio.log") as fake:
            if "handoff" in parts:
                sections.append(run_async(_handoff(fake, scratch, messages, repeat)))
            if "pacing" in parts:
                sections.append(run_async(_pacing(fake, scratch)))
    return sections


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- a. declaration -----------------------------------------------------------------------


def _declaration(scratch: Path, people: int, repeat: int) -> str:
    started = time.perf_counter()
    files = write_roster_placing(scratch / "roster", people)
    roster_database = scratch / "roster.sqlite3"
    run_async(store(roster_database, parse(read_files(files)), "bench"))
    _progress(
        f"a. roster of {files.people} people ({files.placed} placed) imported in "
        f"{time.perf_counter() - started:.1f} s (not timed)"
    )
    runs: list[DeclarationRun] = []
    bare: list[float] = []
    rows = None
    for number in range(1, repeat + 1):
        _progress(f"a. declaration {number}/{repeat} …")
        declared = scratch / f"declared-{number}.sqlite3"
        runs.append(run_async(declare_once(roster_database, declared)))
        if rows is None:
            rows = declared_rows(declared)
        _remove_database(declared)
        baseline = scratch / f"bare-{number}.sqlite3"
        bare.append(bare_insert(roster_database, baseline, rows))
        _remove_database(baseline)
    return _declaration_report(runs, bare, files.people)


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _declaration_report(runs: list[DeclarationRun], bare: list[float], people: int) -> str:
    def cell(values: list[float]) -> str:
        return f"{seconds(statistics.median(values))} / {seconds(min(values))}"

    persist = statistics.median(r.persist for r in runs)
    baseline = statistics.median(bare)
    callups, messages = runs[0].callups, runs[0].messages
    if callups >= PERSIST_TARGET_PEOPLE:
        met = f"{verdict(persist <= PERSIST_TARGET_SECONDS)} ({seconds(persist)})"
    else:
        met = f"not measured at this size ({callups:,} call-ups, the target is for 100,000)"
    rows = [
        [
            "first preview (reads the roster from the database, plans)",
            cell([r.preview for r in runs]),
        ],
        ["`Activations.declare`: plan, render, persist", cell([r.declare for r in runs])],
        ["— of which the write transaction (persist)", f"**{cell([r.persist for r in runs])}**"],
        ["baseline: `sqlite3.executemany` of the same rows, one transaction", cell(bare)],
    ]
    return "\n\n".join(
        [
            "### a. Declaration",
            f"A crisis for the whole demo municipality ({people:,} people): {callups:,} "
            f"call-ups and {messages:,} first messages, written in one transaction into a "
            f"fresh copy of a database holding the roster. Median / min of {len(runs)}.",
            table(["step", "median / min"], rows),
            f"Target: persist 100,000 call-ups in at most {PERSIST_TARGET_SECONDS:g} s — {met}. "
            f"The transaction takes {persist / baseline:.1f}× the baseline, which writes "
            "the same rows into the same schema and indexes from ready-made tuples.",
        ]
    )


# -- b. unpaced hand-off ------------------------------------------------------------------


async def _handoff(fake: FakeTwilio, scratch: Path, count: int | None, repeat: int) -> str:
    _progress("b. warming up both (not timed) …")  # one-time costs: lazy imports, connections
    warm_up = scratch / "handoff-warm-up.sqlite3"
    await dispatch_run(fake, warm_up, WARM_UP_MESSAGES, UNPACED_RATE, _deadline(WARM_UP_MESSAGES))
    _remove_database(warm_up)
    warm_rate = WARM_UP_MESSAGES / await bare_run(
        fake, WARM_UP_MESSAGES, MAX_IN_FLIGHT, _deadline(WARM_UP_MESSAGES)
    )
    if count is None:  # enough for about HANDOFF_SECONDS of the bare loop
        count = _auto_size(warm_rate)
    bare: list[float] = []
    runs: list[DispatchRun] = []
    for number in range(1, repeat + 1):  # interleaved, so both see the same machine
        _progress(f"b. hand-off {number}/{repeat}, {count} SMS: bare loop …")
        bare.append(await bare_run(fake, count, MAX_IN_FLIGHT, _deadline(count)))
        _progress(f"b. hand-off {number}/{repeat}, {count} SMS: dispatcher …")
        database = scratch / f"handoff-{number}.sqlite3"
        runs.append(await dispatch_run(fake, database, count, UNPACED_RATE, _deadline(count)))
        _remove_database(database)
    return _handoff_report(count, bare, [r.all_recorded for r in runs])


def _auto_size(rate: float) -> int:
    wanted = round(rate * HANDOFF_SECONDS, -3)
    return int(min(MAX_AUTO_MESSAGES, max(MIN_AUTO_MESSAGES, wanted)))


def _deadline(count: int) -> float:
    """Seconds a hand-off run may take before it counts as stuck."""
    return 120.0 + count / 50


def _handoff_report(count: int, bare: list[float], dispatched: list[float]) -> str:
    bare_time, run_time = statistics.median(bare), statistics.median(dispatched)
    ratio = bare_time / run_time
    rows = [
        [
            f"bare `create_async` loop, {MAX_IN_FLIGHT} at a time, nothing stored",
            f"{seconds(bare_time)} / {seconds(min(bare))}",
            f"{count / bare_time:,.0f}",
        ],
        [
            "`Dispatcher` + Twilio channel, every state persisted",
            f"{seconds(run_time)} / {seconds(min(dispatched))}",
            f"{count / run_time:,.0f}",
        ],
    ]
    short = " (less than 5 s of work: raise --messages)" if bare_time < 5 else ""
    return "\n\n".join(
        [
            "### b. Unpaced hand-off rate",
            f"{count:,} single-segment SMS queued in the outbox, handed to the fake Twilio "
            f"API (its own process) through the real `twilio` library; the dispatcher's "
            f"rate set to {UNPACED_RATE:,.0f}/s so pacing never waits, at most "
            f"{MAX_IN_FLIGHT} in flight (its default). Timed from start to the last "
            f"recorded result; median / min of {len(bare)}, runs interleaved{short}.",
            table(["run", "time", "SMS per second (median)"], rows),
            f"Ratio dispatcher / bare: **{ratio:.2f}** — target at least "
            f"{HANDOFF_TARGET_RATIO} — {verdict(ratio >= HANDOFF_TARGET_RATIO)}.",
        ]
    )


# -- c. pacing ----------------------------------------------------------------------------


async def _pacing(fake: FakeTwilio, scratch: Path) -> str:
    rows = []
    for rate, count in PACING:
        _progress(f"c. pacing {count} SMS at {rate:g}/s …")
        database = scratch / f"pacing-{rate:g}.sqlite3"
        run = await dispatch_run(fake, database, count, rate, 3 * count / rate + 60)
        _remove_database(database)
        ideal = count / rate
        target = 1.02 * ideal + 1
        rows.append(
            [
                f"{rate:,.0f}/s",
                f"{count:,}",
                f"{ideal:.2f} s",
                f"≤ {target:.2f} s",
                f"**{run.last_hand_off:.2f} s**",
                f"{run.all_recorded:.2f} s",
                f"{run.busiest_second:,}",
                verdict(run.last_hand_off <= target),
            ]
        )
    header = ["rate", "SMS", "N / rate", "target", "last hand-off", "all recorded"]
    header += ["most in any 1 s", "target"]
    return "\n\n".join(
        [
            "### c. Pacing",
            "Single-segment SMS through the same path as b, the dispatcher's token bucket at "
            "the given rate. Timed from start to the moment the last SMS was handed to the "
            "channel. The bucket starts full (a tenth of a second's worth), so the first "
            "few go at once and N / rate slightly overstates the ideal.",
            table(header, rows),
        ]
    )


if __name__ == "__main__":
    main()
