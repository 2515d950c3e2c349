"""Demo rosters for the benchmarks, and the import path exactly as `dispatcher roster import`
runs it: read the files (size check first), parse them, replace the roster in the store."""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from dispatcher.clock import to_millis
from dispatcher.commands.roster_import import read_roster_files
from dispatcher.demo import write_demo_roster
from dispatcher.domain.roster import Roster, RosterChanges
from dispatcher.roster_import import RosterFile, parse_roster_files
from dispatcher.settings import RosterSettings
from dispatcher.store.database import Database
from dispatcher.store.roster_store import replace_roster

SEED = 2026


@dataclass(frozen=True, slots=True)
class RosterFiles:
    directory: Path
    people: int
    placed: int
    training_weeks: int

    @property
    def paths(self) -> list[Path]:
        """In the order the command takes them: units, staff, training."""
        return [self.directory / name for name in ("units.csv", "staff.csv", "training.csv")]

    @property
    def megabytes(self) -> float:
        return sum(p.stat().st_size for p in self.paths) / 1e6


def write_roster(directory: Path, people: int) -> RosterFiles:
    summary = write_demo_roster(directory, people=people, seed=SEED)
    return RosterFiles(directory, summary.people, summary.placed, summary.training_weeks)


def write_roster_placing(directory: Path, placed: int) -> RosterFiles:
    """A demo roster with at least `placed` people placed at a unit (a declaration of the
    whole municipality calls exactly those). The demo leaves about 5 % unplaced."""
    files = write_roster(directory, placed)
    for _ in range(3):  # the share placed barely changes with size: one retry is enough
        if files.placed >= placed:
            return files
        files = write_roster(directory, math.ceil(files.people * placed / files.placed) + 10)
    raise RuntimeError(f"could not make a demo roster with {placed} people placed")


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """What `dispatcher roster import` does around an import (see `run_import`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_files(files: RosterFiles) -> list[RosterFile]:
    return read_roster_files(files.paths, RosterSettings().max_file_mb)


def parse(read: list[RosterFile]) -> Roster:
    parsed = parse_roster_files(read[0], read[1], read[2], today=date.today())
    if parsed.roster is None:
        first = "; ".join(str(p) for p in parsed.errors[:3])
        raise RuntimeError(f"the demo roster does not import: {first}")
    return parsed.roster


async def store(path: Path, roster: Roster, source: str) -> RosterChanges:
    """Open the database (migrating a new one), replace the roster, close: as the CLI does."""
    db = await Database.open(path)
    try:
        return await replace_roster(
            db,
            roster,
            imported_by=f"bench:{os.environ.get('USER', '')}",
            source=source,
            warnings=0,
            imported_at_ms=to_millis(datetime.now(UTC)),
        )
    finally:
        await db.close()
