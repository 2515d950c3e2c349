"""`scripts/bench_replies`: inbound replies and status polls (issue 4), each beside a minimal
aiohttp server measured in the same run.

a. Replies: `dispatcher serve` (its own process, Twilio SMS channel against the fake
   Twilio process) with a crisis declared for a demo roster of `--people`; a load
   generator (another process) posts signed inbound SMS at `--connections` connections
   for `--seconds` per run (at most `--replies`). Every answer must be 200 with TwiML
   (Twilio waits 15 s for one: a later answer counts as none); afterwards the
   service is killed (SIGKILL) and every answered MessageSid must be in the database.
   Baseline: parse + signature check + one INSERT and commit per request.
   Targets: at least 0.85 of the baseline, and at least 2,000 replies per second.
b. Status polls: an activation over `--units` units; 64 connections poll its status with
   a viewer token, without and with the current ETag (200s, then 304s), for
   `--poll-seconds` each. Baseline: a fixed JSON body of the same size.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from contextlib import AbstractContextManager, closing
from pathlib import Path

from _bench.children import Server, clean_environment, running_server, stop
from _bench.fake_twilio import AUTH_TOKEN, FakeTwilio, running_fake
from _bench.inbound import ReplyMaker, check_stored, senders
from _bench.loadgen import Checks, LoadResult, run_load, write_spec
from _bench.polls import PollResult, fetch_status, poll, wrk_available
from _bench.replies_report import RepliesRun, polls_report, replies_report
from _bench.report import ROOT, Machine, record_section
from _bench.rosters import write_roster
from _bench.served import (
    ServiceSetup,
    create_token,
    declare_crisis,
    deliver_automatically,
    import_roster,
    logged_errors,
    running_service,
    wait_for_dispatch,
    write_config,
)
from _bench.timing import checked_repeat, interrupt_on_sigterm, scratch_directory
from dispatcher.demo import PEOPLE_PER_UNIT

PARTS = ("replies", "polls")
WARM_UP_REPLIES = 1_000
WARM_UP_POLL_SECONDS = 2.0
TWIML = Checks(frozenset({200}), "application/xml", "<?xml")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="scripts/bench_replies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--people", type=int, default=20_000, help="roster for a (20000)")
    parser.add_argument(
        "--replies", type=int, default=40_000, help="at most this many per run (40000)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="sending, per run (10)")
    parser.add_argument("--connections", type=int, default=64, help="for a (64)")
    parser.add_argument("--units", type=int, default=200, help="units for b (200)")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="per poll run (10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, interleaved (3)")
    parser.add_argument("--part", action="append", choices=PARTS, help="only this part")
    parser.add_argument(
        "--poller",
        choices=("wrk", "python"),
        default="wrk" if wrk_available() else "python",
        help="what polls in b: wrk if installed, else the Python load generator",
    )
    parser.add_argument(
        "--record", action="store_true", help="write the results into docs/benchmarks.md"
    )
    args = parser.parse_args()
    if not (1 <= args.people <= 200_000 and 1 <= args.replies <= 500_000):
        parser.error("--people must be 1–200000 and --replies 1–500000")
    if not (1 <= args.connections <= 1024 and 12 <= args.units <= 4000):
        parser.error("--connections must be 1–1024 and --units 12–4000")
    if not (1 <= args.poll_seconds <= 120 and 1 <= args.seconds <= 120):
        parser.error("--seconds and --poll-seconds must be 1–120")
    if args.poller == "wrk" and not wrk_available():
        parser.error("--poller wrk: wrk is not installed (apt-get install wrk)")
    repeat = checked_repeat(args.repeat)
    parts = args.part or list(PARTS)
    if args.record and set(parts) != set(PARTS):
        parser.error("--record needs both parts (leave out --part)")
    interrupt_on_sigterm()
    machine = Machine.now()
    sections = []
    try:
        with (
            scratch_directory("bench-replies-") as scratch,
            running_fake(scratch / "fake-twilio.log") as fake,
        ):
            if "replies" in parts:
                sections.append(_replies(fake, scratch, args, repeat))
                fake.reset()  # the next part's messages only
            if "polls" in parts:
                sections.append(_polls(fake, scratch, args, repeat))
    except KeyboardInterrupt:
        sys.exit("interrupted; child processes stopped, temporary files removed")
    body = "\n\n".join([*sections, machine.describe()])
    print(body)
    if args.record:
        record_section("bench_replies", body)


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _set_up(fake: FakeTwilio, directory: Path, people: int) -> tuple[ServiceSetup, str, int]:
    """Config, roster, declared crisis; the activation id and the number of people."""
    started = time.perf_counter()
    deliver_automatically(fake)  # after any reset: sent, then delivered, as Twilio reports
    setup = write_config(directory, fake)
    files = write_roster(directory / "roster", people)
    import_roster(setup, files)
    activation_id = declare_crisis(setup)
    _progress(
        f"   {files.people:,} people imported, crisis {activation_id} declared in "
        f"{time.perf_counter() - started:.1f} s (not timed)"
    )
    return setup, activation_id, files.people


def _dispatched(setup: ServiceSetup, service: Server) -> int:
    """Wait (bounded) for the dispatch; the messages still unsettled when the wait ended."""
    messages = _count(setup.database, "SELECT COUNT(*) FROM messages")
    _progress(f"   dispatching {messages:,} call-ups to the fake Twilio (not timed) …")
    waited, unsettled = wait_for_dispatch(setup.database, service, 120 + messages / 100)
    if unsettled:
        _progress(f"   {unsettled:,} still not handed over or delivered after {waited:.0f} s")
    else:
        _progress(f"   all handed over and reported delivered after {waited:.0f} s")
    return unsettled


def _count(database: Path, sql: str, *parameters: str) -> int:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return int(connection.execute(sql, parameters).fetchone()[0])


def _minimal(kind: str, scratch: Path, *options: str) -> AbstractContextManager[Server]:
    command = [sys.executable, "-m", "_bench.minimal", kind, *options]
    env = clean_environment() | {"PYTHONPATH": str(ROOT / "scripts")}
    return running_server(
        f"minimal {kind} handler", command, scratch / f"minimal-{kind}.log", cwd=ROOT, env=env
    )


# -- a. replies ---------------------------------------------------------------------------


def _replies(fake: FakeTwilio, scratch: Path, args: argparse.Namespace, repeat: int) -> str:
    _progress("a. replies: setting up …")
    setup, activation_id, people = _set_up(fake, scratch / "replies", args.people)
    database = scratch / "minimal-replies.sqlite3"
    options = ("--database", str(database), "--auth-token", AUTH_TOKEN)
    runs = RepliesRun(people=people, seconds=args.seconds, connections=args.connections)
    with running_service(setup) as service:
        runs.unsettled = _dispatched(setup, service)
        maker = ReplyMaker(senders(setup.database, activation_id), setup.public_url)
        runs.callups = _count(
            setup.database, "SELECT COUNT(*) FROM callups WHERE activation_id = ?", activation_id
        )
        runs.senders = len(maker.numbers)
        with _minimal("replies", scratch, *options, "--public-url", setup.public_url) as minimal:
            _progress("a. warming up both (not timed) …")
            warm_up = write_spec(scratch / "warm-up.json", maker.requests(WARM_UP_REPLIES))
            _post(warm_up, minimal, args).require_clean("warm-up")
            runs.note_answers(_post(warm_up, service, args), warm_up=True)
            for number in range(1, repeat + 1):
                spec = write_spec(scratch / f"replies-{number}.json", maker.requests(args.replies))
                for label, server in (("minimal handler", minimal), ("dispatcher", service)):
                    _progress(f"a. run {number}/{repeat}, {args.seconds:g} s: {label} …")
                    result = _post(spec, server, args)
                    _progress(f"   {result.rate:,.0f} replies per second")
                    if server is service:
                        runs.service.append(runs.note_answers(result))
                    else:
                        result.require_clean(label)
                        runs.minimal.append(result)
        # Killed, not stopped: nothing it holds in memory can reach the file on the way out.
        stop(service.process, kill=True)
    runs.logged_errors = logged_errors(setup)
    runs.stored = check_stored(setup.database, runs.answered)
    if runs.stored.missing:
        _progress(f"a. NOT STORED although answered: {runs.stored.missing[:5]} …")
    return replies_report(runs)


def _post(spec: Path, server: Server, args: argparse.Namespace) -> LoadResult:
    """Send the requests in `spec` for `--seconds`; wait at most a minute more for answers."""
    return run_load(
        spec,
        server.url,
        connections=args.connections,
        seconds=args.seconds,
        max_seconds=args.seconds + 60,
        checks=TWIML,
        server_pid=server.pid,
    )


# -- b. status polls ------------------------------------------------------------------------


def _polls(fake: FakeTwilio, scratch: Path, args: argparse.Namespace, repeat: int) -> str:
    _progress("b. status polls: setting up …")
    setup, activation_id, _ = _set_up(fake, scratch / "polls", args.units * PEOPLE_PER_UNIT)
    token = create_token(setup, "viewer")
    units = _count(
        setup.database,
        "SELECT COUNT(*) FROM activation_units WHERE activation_id = ?",
        activation_id,
    )
    results: dict[tuple[str, int], list[PollResult]] = {}
    with running_service(setup) as service:
        unsettled = _dispatched(setup, service)
        snapshot = fetch_status(setup.public_url, activation_id, token)
        body_file = scratch / "status-body.json"
        body_file.write_bytes(snapshot.body)

        def measure(server: Server, expect: int, seconds: float) -> PollResult:
            headers = {"Authorization": f"Bearer {token}"}
            if expect == 304:
                headers["If-None-Match"] = snapshot.etag
            return poll(
                server.url,
                activation_id,
                headers,
                expect=expect,
                body_size=len(snapshot.body),
                seconds=seconds,
                server_pid=server.pid,
                scratch=scratch,
                use_wrk=args.poller == "wrk",
            )

        options = ("--body-file", str(body_file), "--etag", snapshot.etag)
        with _minimal("status", scratch, *options) as minimal:
            servers = (("minimal handler", minimal), ("dispatcher", service))
            _progress("b. warming up (not timed) …")
            for expect in (200, 304):
                for _, server in servers:
                    measure(server, expect, WARM_UP_POLL_SECONDS)
            for number in range(1, repeat + 1):
                for expect in (200, 304):
                    for label, server in servers:
                        _progress(f"b. run {number}/{repeat}: {expect}s from the {label} …")
                        result = measure(server, expect, args.poll_seconds)
                        _progress(f"   {result.rate:,.0f} requests per second")
                        results.setdefault((label, expect), []).append(result)
    return polls_report(results, units, len(snapshot.body), args.poller, unsettled)


if __name__ == "__main__":
    main()
