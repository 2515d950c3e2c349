"""`scripts/bench_import`: how long `dispatcher roster import` takes for a large roster.

Times the import path as the command runs it (cyclic GC paused, files read with the size
check, parsed and checked, then the roster replaced in the store), for a first import into
a fresh database and a re-import of the same files into it; then one run of the real
command as its own process. Beside it, the bare cost of the same work without any
checking: `csv.reader` over the same files and `executemany` of the same rows into
unindexed tables. Issue 2's target: a 100,000-person import in under 10 seconds.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _bench.report import Machine, record_section, table, verdict
from _bench.rosters import RosterFiles, cyclic_gc_paused, parse, read_files, store, write_roster
from _bench.timing import (
    Phases,
    checked_repeat,
    interrupt_on_sigterm,
    run_async,
    scratch_directory,
    seconds,
)
from dispatcher.store.database import _PRAGMAS  # the baseline must use the store's pragmas

TARGET_SECONDS = 10.0
TARGET_PEOPLE = 100_000
CLI_TIMEOUT_SECONDS = 300.0
_IMPORTS = ("first import", "re-import")
_PHASES = ("read", "parse", "store")


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench_import", description=__doc__)
    parser.add_argument("--people", type=int, default=100_000, help="roster size (100000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; median and min (3)")
    parser.add_argument(
        "--record", action="store_true", help="write the results into docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.people < 1:
        parser.error("--people must be at least 1")
    repeat = checked_repeat(args.repeat)
    interrupt_on_sigterm()
    machine = Machine.now()
    try:
        with scratch_directory("bench-import-") as scratch:
            body = run(scratch, args.people, repeat, machine)
    except KeyboardInterrupt:
        sys.exit("interrupted; temporary files removed")
    print(body)
    if args.record:
        record_section("bench_import", body)


def run(scratch: Path, people: int, repeat: int, machine: Machine) -> str:
    started = time.perf_counter()
    files = write_roster(scratch / "roster", people)
    print(
        f"demo roster: {files.people} people, {files.training_weeks} training weeks, "
        f"{files.megabytes:.1f} MB, written in {time.perf_counter() - started:.1f} s (not timed)",
        file=sys.stderr,
    )
    phases = Phases()
    for number in range(1, repeat + 1):
        print(f"repeat {number}/{repeat} …", file=sys.stderr)
        database = scratch / f"import-{number}.sqlite3"
        for kind in _IMPORTS:
            _time_import(phases, kind, files, database)
        phases.add("cli", _time_cli(scratch, files, scratch / f"cli-{number}.sqlite3"))
        with cyclic_gc_paused():  # as for the import: the same conditions for both
            bare = _bare_baseline(files, scratch / f"bare-{number}.sqlite3")
        phases.add("bare: csv", bare.read)
        phases.add("bare: insert", bare.insert)
        phases.add("bare: total", bare.read + bare.insert)
    return _report(phases, files, repeat, machine, bare.rows)


def _time_import(phases: Phases, kind: str, files: RosterFiles, database: Path) -> None:
    gc.collect()  # start each import with no garbage left by the one before
    source = ", ".join(p.name for p in files.paths)
    with cyclic_gc_paused():
        started = time.perf_counter()
        with phases.timed(f"{kind}: read"):
            read = read_files(files)
        with phases.timed(f"{kind}: parse"):
            roster = parse(read)
        with phases.timed(f"{kind}: store"):
            changes = run_async(store(database, roster, source))
        phases.add(f"{kind}: total", time.perf_counter() - started)
    added = len(changes.people_added)
    changed = added + len(changes.people_updated) + len(changes.people_removed)
    expected = files.people if kind == "first import" else 0
    if (added if kind == "first import" else changed) != expected:
        raise RuntimeError(f"{kind}: expected {expected} people written, the store says {changed}")


def _time_cli(scratch: Path, files: RosterFiles, database: Path) -> float:
    """One first import through the real command in its own process, start to exit."""
    config = scratch / "dispatcher.toml"
    config.write_text("# benchmark: every setting at its default\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "TWILIO_"))}
    env |= {"DISPATCHER_CONFIG": str(config), "DISPATCHER_DATABASE": str(database)}
    units, staff, training = files.paths
    command = [sys.executable, "-m", "dispatcher", "roster", "import"]
    command += ["--units", str(units), "--staff", str(staff), "--training", str(training)]
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"dispatcher roster import failed: {done.stderr.strip()[-500:]}")
    return elapsed


@dataclass(frozen=True, slots=True)
class _Bare:
    read: float
    insert: float
    rows: int


def _bare_baseline(files: RosterFiles, database: Path) -> _Bare:
    """The same files through `csv.reader`, the same rows into unindexed tables: no checks."""
    gc.collect()
    started = time.perf_counter()
    tables = []
    for path in files.paths:
        text = path.read_bytes().decode("utf-8-sig")
        delimiter = ";" if ";" in text.partition("\n")[0] else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        tables.append((rows[0], rows[1:]))
    read = time.perf_counter() - started
    started = time.perf_counter()
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        for pragma in _PRAGMAS:
            connection.execute(pragma)
        connection.execute("BEGIN IMMEDIATE")
        for number, (header, rows) in enumerate(tables):
            columns = ", ".join(f"c{i}" for i in range(len(header)))
            connection.execute(f"CREATE TABLE t{number} ({columns})")
            marks = ", ".join("?" * len(header))
            connection.executemany(f"INSERT INTO t{number} VALUES ({marks})", rows)
        connection.execute("COMMIT")
    finally:
        connection.close()
    insert = time.perf_counter() - started
    return _Bare(read, insert, sum(len(rows) for _, rows in tables))


def _target(people: int, first: float, cli: float) -> str:
    target = f"Target (issue 2): {TARGET_PEOPLE:,} people in under {TARGET_SECONDS:g} s — "
    if people < TARGET_PEOPLE:
        return target + f"not measured at this size ({people:,} people)."
    met = first < TARGET_SECONDS and cli < TARGET_SECONDS
    return target + f"{verdict(met)} (in-process {seconds(first)}, the command {seconds(cli)})."


def _report(phases: Phases, files: RosterFiles, repeat: int, machine: Machine, rows: int) -> str:
    def cell(name: str) -> str:
        return f"{seconds(phases.median(name))} / {seconds(phases.minimum(name))}"

    import_rows = [[phase, *(cell(f"{kind}: {phase}") for kind in _IMPORTS)] for phase in _PHASES]
    import_rows.append(["**total**", *(f"**{cell(f'{kind}: total')}**" for kind in _IMPORTS)])
    import_rows.append(["`dispatcher roster import`, own process, start to exit", cell("cli"), ""])
    first = phases.median("first import: total")
    cli = phases.median("cli")
    bare = phases.median("bare: total")
    bare_rows = [
        ["`csv.reader` over the three files", cell("bare: csv")],
        [f"`executemany` of the {rows:,} rows into unindexed tables", cell("bare: insert")],
        ["**total**", f"**{cell('bare: total')}**"],
    ]
    return "\n\n".join(
        [
            f"Roster: the demo municipality with {files.people:,} people, "
            f"{files.training_weeks:,} training weeks ({files.megabytes:.1f} MB of CSV). "
            f"Median / min of {repeat} repeat{'s' if repeat > 1 else ''}; each import goes "
            "into a fresh SQLite file, and the re-import (the same files again, nothing "
            "changed) into the same file.",
            table(["phase", "first import", "re-import"], import_rows),
            _target(files.people, first, cli),
            "Baseline, same run, same files, no checking at all:",
            table(["bare baseline", "median / min"], bare_rows),
            f"The importer takes {first / bare:.1f}× the bare baseline: the difference is "
            "what checking every row (phones, e-mails, roles, ids, placements, training "
            "weeks), building the roster and the indexed, constrained tables cost.",
            machine.describe(),
        ]
    )


if __name__ == "__main__":
    main()
