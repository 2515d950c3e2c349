"""`dispatcher training add|remove|list|needs`: training weeks and who still needs one.

Weeks added here are kept apart from the imported training.csv, so the next roster import
does not erase them (see `dispatcher.store.training`); `remove` takes back only those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import to_millis
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.domain.readiness import PROTECTED_LABEL
from dispatcher.domain.roster import Person, Roster, TrainingWeek
from dispatcher.domain.terms import Term, parse_term
from dispatcher.domain.training_plan import (
    HostUnitPlan,
    NeedKind,
    TrainingPlan,
    plan_training,
    training_plan_to_dict,
    training_week,
)
from dispatcher.settings import Settings
from dispatcher.store.training import (
    RecordOutcome,
    RemoveOutcome,
    TrainingRecords,
    load_roster_with_training,
    load_training_records,
    record_training_week,
    remove_training_week,
)

TRAINING_ADDED = "training.added"
TRAINING_REMOVED = "training.removed"
_NONE = "—"
_PLANNED_AHEAD = timedelta(days=366)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("training", help="training weeks and who needs one")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add",
        help="record a training week (kept across roster imports)",
        description="Record that PERSON trained at UNIT in the week of --week. Any date in "
        "the week will do: the week is stored by its Monday, and its term (VT January–June, "
        "HT July–December) is the Monday's. Recording a week twice changes nothing.",
    )
    _week_arguments(add)
    add.set_defaults(handler=add_week)

    remove = actions.add_parser(
        "remove",
        help="take back a week recorded with `training add`",
        description="Remove a week recorded with `training add`. A week from the imported "
        "training.csv is corrected in that file and re-imported instead.",
    )
    _week_arguments(remove)
    remove.set_defaults(handler=remove_week)

    listing = actions.add_parser("list", help="list training weeks, imported and added")
    listing.add_argument("--person", metavar="PERSON_ID", help="only this person's weeks")
    listing.add_argument("--unit", metavar="UNIT_ID", help="only weeks at this unit")
    listing.add_argument("--term", type=_term, metavar="TERM", help="only this term, e.g. VT2026")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=list_weeks)

    needs = actions.add_parser(
        "needs",
        help="who still needs a training week this term, per host unit",
        description="People who need a training week at their placement this term: not "
        "trained now (lapsed), or trained only by a week that stops counting when the term "
        "ends (due). Grouped by host unit, with its capacity per week and the weeks it takes.",
    )
    needs.add_argument("--unit", metavar="UNIT_ID", help="only this host unit")
    needs.add_argument(
        "--today", type=_date, metavar="YYYY-MM-DD", help="plan as on this date (default: today)"
    )
    needs.add_argument("--json", action="store_true", help="print the plan as JSON")
    needs.set_defaults(handler=show_needs)


def _week_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("person_id", metavar="PERSON", help="the person's person_id")
    parser.add_argument("unit_id", metavar="UNIT", help="the host unit's unit_id")
    parser.add_argument(
        "--week", type=_date, required=True, metavar="YYYY-MM-DD", help="a date in the week"
    )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r}; write it like 2026-03-02"
        ) from None


def _term(text: str) -> Term:
    try:
        return parse_term(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def _describe(week: TrainingWeek, given: date) -> str:
    moved = "" if given == week.week_start else f" ({given.isoformat()} is in that week)"
    return (
        f"{week.person_id} at {week.unit_id}, week of Monday "
        f"{week.week_start.isoformat()}{moved}, {week.term}"
    )


def add_week(args: argparse.Namespace, settings: Settings) -> int:
    week = training_week(args.person_id, args.unit_id, args.week)
    outcome = asyncio.run(_add(settings, week))
    described = _describe(week, args.week)
    if outcome is RecordOutcome.UNKNOWN_PERSON:
        raise UserError(f"no person {week.person_id!r} in the roster (see staff.csv)")
    if outcome is RecordOutcome.UNKNOWN_UNIT:
        raise UserError(f"no unit {week.unit_id!r} in the roster (see units.csv)")
    if outcome is RecordOutcome.IN_IMPORT:
        print(f"Already in the imported training.csv, nothing changed: {described}")
    elif outcome is RecordOutcome.ALREADY_RECORDED:
        print(f"Already recorded, nothing changed: {described}")
    else:
        print(f"Recorded: {described}")
        if week.week_start > date.today() + _PLANNED_AHEAD:
            print("warning: the week is more than a year ahead", file=sys.stderr)
    return 0


def remove_week(args: argparse.Namespace, settings: Settings) -> int:
    week = training_week(args.person_id, args.unit_id, args.week)
    outcome = asyncio.run(_remove(settings, week))
    described = _describe(week, args.week)
    fix = "correct that file and import it again"
    if outcome is RemoveOutcome.IN_IMPORT:
        raise UserError(f"the week is in the imported training.csv ({described}); {fix}")
    if outcome is RemoveOutcome.NOT_FOUND:
        raise UserError(f"no week recorded with `training add` for {described}")
    print(f"Removed: {described}")
    if outcome is RemoveOutcome.REMOVED_STILL_IMPORTED:
        print(
            f"warning: the imported training.csv has the week too, so it still counts; {fix}",
            file=sys.stderr,
        )
    return 0


def list_weeks(args: argparse.Namespace, settings: Settings) -> int:
    records = asyncio.run(_records(settings))
    people = {p.person_id: p for p in records.roster.people}
    rows = [
        _listed(records.roster, people[week.person_id], week, source)
        for week, source in records.labelled()
        if (args.person is None or week.person_id == args.person)
        and (args.unit is None or week.unit_id == args.unit)
        and (args.term is None or week.term == args.term)
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print("No training weeks match." if records.roster.training else "No training weeks.")
    else:
        header = ("PERSON", "NAME", "UNIT", "UNIT NAME", "TERM", "WEEK", "SOURCE")
        keys = ("person_id", "name", "unit_id", "unit_name", "term", "week_start", "source")
        print(format_table(header, [[str(row[k] or _NONE) for k in keys] for row in rows]))
    return 0


def _listed(roster: Roster, person: Person, week: TrainingWeek, source: str) -> dict[str, Any]:
    """One week as `list` shows it; a protected person is neither named nor identified."""
    unit = roster.unit(week.unit_id)
    return {
        "person_id": None if person.protected else person.person_id,
        "name": PROTECTED_LABEL if person.protected else person.name,
        "protected": person.protected,
        "unit_id": week.unit_id,
        "unit_name": unit.name if unit is not None else None,
        "term": str(week.term),
        "week_start": week.week_start.isoformat(),
        "source": source,
    }


def show_needs(args: argparse.Namespace, settings: Settings) -> int:
    roster = asyncio.run(_roster(settings))
    today: date = args.today or date.today()
    if args.unit is not None and roster.unit(args.unit) is None:
        raise UserError(f"no unit {args.unit!r} in the roster (see units.csv)")
    plan = plan_training(roster, today, settings.training.valid_terms)
    if args.unit is not None:
        plan = _only_unit(plan, args.unit)
    if args.json:
        print(json.dumps(training_plan_to_dict(plan), ensure_ascii=False, indent=2))
    else:
        print(render_plan(plan, roster_empty=not roster.people))
    return 0


def _only_unit(plan: TrainingPlan, unit_id: str) -> TrainingPlan:
    return TrainingPlan(
        today=plan.today,
        term=plan.term,
        valid_terms=plan.valid_terms,
        weeks_left=plan.weeks_left,
        units=tuple(u for u in plan.units if u.unit_id == unit_id),
    )


def render_plan(plan: TrainingPlan, *, roster_empty: bool = False) -> str:
    """The plan as text: a summary, then each host unit and its trainees."""
    if roster_empty:
        return "No roster is imported yet, so nobody needs training."
    weeks = "1 week" if plan.weeks_left == 1 else f"{plan.weeks_left} weeks"
    lines = [
        f"Training needs in {plan.term} on {plan.today.isoformat()}: {plan.people} people at "
        f"{len(plan.units)} units ({plan.count(NeedKind.LAPSED)} lapsed, "
        f"{plan.count(NeedKind.DUE)} due); {weeks} left to start a training week this term.",
        "lapsed = not trained at the placement now; due = trained now, but not once this term ends",
    ]
    for unit in plan.units:
        lines += ["", _unit_line(plan, unit)]
        rows = [
            [
                t.person.person_id or _NONE,
                t.person.name,
                t.need.value,
                str(t.last_trained or "never"),
                t.person.phone or _NONE,
                t.person.email or _NONE,
            ]
            for t in unit.trainees
        ]
        table = format_table(("ID", "NAME", "NEED", "LAST TRAINED", "PHONE", "E-MAIL"), rows)
        lines += ["  " + line for line in table.splitlines()]
    return "\n".join(lines)


def _unit_line(plan: TrainingPlan, unit: HostUnitPlan) -> str:
    people = "1 person" if unit.people == 1 else f"{unit.people} people"
    if unit.weeks_needed is None:
        takes = "hosts no trainees (training_capacity 0)"
    else:
        weeks = "1 week" if unit.weeks_needed == 1 else f"{unit.weeks_needed} weeks"
        takes = f"{unit.capacity} per week, so {weeks}"
        if not plan.fits(unit):
            takes += f": more than the {plan.weeks_left} left this term"
    return f"{unit.unit_id} {unit.name} ({unit.area}, {unit.service}): {people}; {takes}"


async def _add(settings: Settings, week: TrainingWeek) -> RecordOutcome:
    actor = Actor.command_line()
    now_ms = to_millis(datetime.now(UTC))
    async with open_database(settings) as db:
        outcome = await record_training_week(
            db, week, recorded_by=actor.name, recorded_at_ms=now_ms
        )
        if outcome is RecordOutcome.ADDED:
            await audit.record(db, actor, TRAINING_ADDED, at_ms=now_ms, detail=_detail(week))
        return outcome


async def _remove(settings: Settings, week: TrainingWeek) -> RemoveOutcome:
    actor = Actor.command_line()
    now_ms = to_millis(datetime.now(UTC))
    async with open_database(settings) as db:
        outcome = await remove_training_week(
            db,
            week.person_id,
            week.unit_id,
            week.week_start,
            removed_by=actor.name,
            removed_at_ms=now_ms,
        )
        if outcome in (RemoveOutcome.REMOVED, RemoveOutcome.REMOVED_STILL_IMPORTED):
            await audit.record(db, actor, TRAINING_REMOVED, at_ms=now_ms, detail=_detail(week))
        return outcome


def _detail(week: TrainingWeek) -> dict[str, str]:
    # The audit log never names people: the unit and the week, not who trained.
    return {"unit_id": week.unit_id, "term": str(week.term), "week": week.week_start.isoformat()}


async def _records(settings: Settings) -> TrainingRecords:
    async with open_database(settings) as db:
        return await load_training_records(db)


async def _roster(settings: Settings) -> Roster:
    async with open_database(settings) as db:
        return await load_roster_with_training(db)
