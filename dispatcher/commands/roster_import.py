"""`dispatcher roster import`: check the roster files and replace the roster, all or nothing.

Every problem goes to standard error as `file:line: column: 'value' — message`. With any
error the database is not even opened; warnings are printed and do not block.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import to_millis
from dispatcher.commands import UserError
from dispatcher.domain.roster import Roster, RosterChanges, compare_rosters
from dispatcher.gc_pause import cyclic_gc_paused
from dispatcher.roster_import import RosterFile, RosterParse, parse_roster_files
from dispatcher.settings import Settings
from dispatcher.store.database import Database
from dispatcher.store.roster_store import load_roster, replace_roster

_MB = 1024 * 1024


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import units, staff and training weeks from CSV files",
        description="Check the roster files and replace the whole roster with them. "
        "Nothing is changed if any file has an error; every problem is listed.",
    )
    parser.add_argument("--units", type=Path, required=True, metavar="CSV", help="units.csv")
    parser.add_argument("--staff", type=Path, required=True, metavar="CSV", help="staff.csv")
    parser.add_argument("--training", type=Path, metavar="CSV", help="training.csv (optional)")
    parser.add_argument(
        "--dry-run", action="store_true", help="check and show what would change; write nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    parser.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    """The handler: read, check, then replace the roster (or, with --dry-run, compare only)."""
    with cyclic_gc_paused():
        return _run_import(args, settings)


def _run_import(args: argparse.Namespace, settings: Settings) -> int:
    paths: list[Path] = [args.units, args.staff] + ([args.training] if args.training else [])
    files = read_roster_files(paths, settings.roster.max_file_mb)
    parsed = parse_roster_files(
        files[0], files[1], files[2] if len(files) > 2 else None, today=date.today()
    )
    for problem in parsed.problems:
        print(f"{problem.severity}: {problem}", file=sys.stderr)
    if parsed.roster is None:
        if args.json:
            _print_json(parsed, None, dry_run=args.dry_run)
        raise UserError(_refusal(parsed))
    database: Path = settings.service.database
    if args.dry_run and not database.exists():
        changes = compare_rosters(Roster(), parsed.roster)  # a dry run creates no database
    else:
        source = ", ".join(f.name for f in files)
        changes = asyncio.run(_apply(database, parsed, source=source, dry_run=args.dry_run))
    if args.json:
        _print_json(parsed, changes, dry_run=args.dry_run)
    else:
        _print_text(parsed.roster, changes, len(parsed.warnings), dry_run=args.dry_run)
    return 0


def read_roster_files(paths: list[Path], max_file_mb: int) -> list[RosterFile]:
    """Each file's bytes, after checking every size against the limit before reading any."""
    limit = max_file_mb * _MB
    too_big = []
    for path in paths:
        size = _size(path)
        if size > limit:
            too_big.append(_too_big(path, size, max_file_mb))
    if too_big:
        raise UserError("; ".join(too_big))
    files = []
    for path in paths:
        try:
            with path.open("rb") as stream:
                data = stream.read(limit + 1)  # the file may have grown since it was measured
        except OSError as error:
            raise UserError(f"{path}: cannot read: {error.strerror}") from None
        if len(data) > limit:
            raise UserError(_too_big(path, len(data), max_file_mb))
        files.append(RosterFile(str(path), data))
    return files


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            raise UserError(f"{path}: is a directory, not a CSV file")
        return path.stat().st_size
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read: {error.strerror}") from None


def _too_big(path: Path, size: int, max_file_mb: int) -> str:
    return (
        f"{path}: file is {size / _MB:.1f} MB; the limit is {max_file_mb} MB ([roster] max_file_mb)"
    )


def _refusal(parsed: RosterParse) -> str:
    count = len(parsed.errors)
    files = [name for name in parsed.files if any(e.file == name for e in parsed.errors)]
    problems = "1 problem" if count == 1 else f"{count} problems"
    return f"import refused: {problems} in {', '.join(files)}; nothing was changed"


async def _apply(
    database: Path, parsed: RosterParse, *, source: str, dry_run: bool
) -> RosterChanges:
    assert parsed.roster is not None
    db = await Database.open(database)
    try:
        if dry_run:
            return compare_rosters(await load_roster(db), parsed.roster)
        actor = Actor(_imported_by(), source="cli")
        imported_at_ms = to_millis(datetime.now(UTC))
        changes = await replace_roster(
            db,
            parsed.roster,
            imported_by=actor.name,
            source=source,
            warnings=len(parsed.warnings),
            imported_at_ms=imported_at_ms,
        )
        await record_import(db, actor, parsed.roster, changes, source=source, at_ms=imported_at_ms)
        return changes
    finally:
        await db.close()


def _imported_by() -> str:
    user = os.environ.get("USER", "")
    return f"cli:{user}" if user else "cli"


async def record_import(
    db: Database,
    actor: Actor,
    roster: Roster,
    changes: RosterChanges,
    *,
    source: str,
    at_ms: int,
) -> None:
    """Audit an import, right after it (the roster store commits on its own): counts and
    file names only, never who was added or removed."""
    await audit.record(
        db,
        actor,
        audit.ROSTER_IMPORTED,
        at_ms=at_ms,
        detail={
            "source": source,
            "units": len(roster.units),
            "people": len(roster.people),
            "training_weeks": len(roster.training),
            "units_added": len(changes.units_added),
            "units_updated": len(changes.units_updated),
            "units_removed": len(changes.units_removed),
            "people_added": len(changes.people_added),
            "people_updated": len(changes.people_updated),
            "people_removed": len(changes.people_removed),
        },
    )


def _print_text(roster: Roster, changes: RosterChanges, warnings: int, *, dry_run: bool) -> None:
    contents = (
        f"{len(roster.units)} units, {len(roster.people)} people, "
        f"{len(roster.training)} training weeks"
    )
    if dry_run:
        print(f"dry run, nothing was changed: the import would hold {contents}")
    else:
        print(f"roster imported: {contents}")
    print(
        f"units: {len(changes.units_added)} added, {len(changes.units_updated)} updated, "
        f"{len(changes.units_removed)} removed"
    )
    print(
        f"people: {len(changes.people_added)} added, {len(changes.people_updated)} updated, "
        f"{len(changes.people_removed)} removed"
    )
    print(f"training weeks: {changes.training_after} (before: {changes.training_before})")
    print(f"warnings: {warnings}")


def _print_json(parsed: RosterParse, changes: RosterChanges | None, *, dry_run: bool) -> None:
    outcome: dict[str, Any] = {
        "imported": changes is not None and not dry_run,
        "dry_run": dry_run,
        "files": list(parsed.files),
        "errors": [p.as_dict() for p in parsed.errors],
        "warnings": [p.as_dict() for p in parsed.warnings],
    }
    if changes is not None:
        outcome["units"] = _changed(
            changes.units_added, changes.units_updated, changes.units_removed
        )
        outcome["people"] = _changed(
            changes.people_added, changes.people_updated, changes.people_removed
        )
        outcome["training_weeks"] = {
            "before": changes.training_before,
            "after": changes.training_after,
        }
    print(json.dumps(outcome, ensure_ascii=False))


def _changed(
    added: tuple[str, ...], updated: tuple[str, ...], removed: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "added": len(added),
        "updated": len(updated),
        "removed": len(removed),
        "added_ids": list(added),
        "updated_ids": list(updated),
        "removed_ids": list(removed),
    }
