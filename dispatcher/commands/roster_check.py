"""`dispatcher roster check`: the readiness and data-quality report, as a table or JSON.

It is a report, so it exits 0 whatever it finds; an empty roster says how to import one.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from dispatcher.domain.readiness import RefusedContact, assess_readiness
from dispatcher.domain.roster import Roster
from dispatcher.domain.terms import Term, parse_term
from dispatcher.domain.training_plan import day_in_term
from dispatcher.readiness_view import render_readiness, render_readiness_json
from dispatcher.settings import Settings
from dispatcher.store.callups import refused_contacts
from dispatcher.store.database import Database
from dispatcher.store.training import load_roster_with_training


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="readiness and data-quality report",
        description=(
            "Per unit: needed, placed, reachable, trained and reserves, and the gap if a "
            "crisis came now; then people who cannot be reached, whose training has lapsed, "
            "or who have no placement, and units nobody is placed at."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--today",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="assess as on this date (default: today)",
    )
    when.add_argument(
        "--term",
        type=_term,
        default=None,
        metavar="TERM",
        help="assess a term, e.g. HT2026: as on today if it is the current term, else on "
        "its last day",
    )
    parser.set_defaults(handler=run)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r}; write it like 2026-01-12"
        ) from None


def _term(text: str) -> Term:
    try:
        return parse_term(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    roster, refused = asyncio.run(_read(settings.service.database))
    today: date = args.today or date.today()
    if args.term is not None:
        today = day_in_term(args.term, today)
    report = assess_readiness(
        roster, today=today, valid_terms=settings.training.valid_terms, refused=refused
    )
    print(render_readiness_json(report) if args.json else render_readiness(report))
    return 0


async def _read(path: Path) -> tuple[Roster, list[RefusedContact]]:
    db = await Database.open(path)
    try:
        return await load_roster_with_training(db), await refused_contacts(db)
    finally:
        await db.close()
