"""`dispatcher drills schedule | list | cancel`: scheduled drills from the command line.

The schedule is written to the database; a running `dispatcher serve` picks it up within
a minute (its runner re-reads the schedules) and runs it at its time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import timedelta
from typing import Any

from dispatcher.audit import Actor
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import SystemClock, from_millis
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.declarations import Activations
from dispatcher.domain.drill_schedule import stockholm_text
from dispatcher.drill_schedule_input import ScheduleInputError
from dispatcher.scheduled_drills import NotScheduled, ScheduledDrills, UnknownSchedule
from dispatcher.settings import Settings
from dispatcher.store import drill_schedules
from dispatcher.store.database import Database
from dispatcher.templates import load_templates
from dispatcher.web.routes_schedules import schedule_json


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    drills = subparsers.add_parser("drills", help="scheduled drills: schedule, list, cancel")
    commands = drills.add_subparsers(dest="drills_command", required=True, metavar="COMMAND")

    schedule = commands.add_parser(
        "schedule", help="schedule a drill at a Stockholm time or on a cron expression"
    )
    schedule.add_argument("--title", required=True, help="the drill's title")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", help="ISO date and time, Stockholm time: 2026-03-02T09:00")
    when.add_argument("--cron", help="5-field cron, Stockholm time: '0 9 * * 1'")
    schedule.add_argument("--area", action="append", default=[], help="an area in scope")
    schedule.add_argument("--unit", action="append", default=[], help="a unit id in scope")
    schedule.add_argument("--service", action="append", default=[], help="a service in scope")
    schedule.add_argument("--message", default=None, help="an extra line for the call-up")
    schedule.add_argument("--announced", action="store_true", help="an announced drill")
    schedule.add_argument("--json", action="store_true", help="print JSON")
    schedule.set_defaults(handler=run_schedule)

    listing = commands.add_parser("list", help="list drill schedules")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    cancel = commands.add_parser("cancel", help="cancel a scheduled drill")
    cancel.add_argument("schedule_id", type=int, metavar="ID")
    cancel.set_defaults(handler=run_cancel)


def _service(db: Database, settings: Settings) -> ScheduledDrills:
    messages = CallUpMessages(
        load_templates(settings.service.language), settings.service.municipality
    )
    clock = SystemClock()
    return ScheduledDrills(
        db,
        clock,
        Activations(db, settings, clock, messages),
        grace=timedelta(minutes=settings.drills.missed_grace_minutes),
        schedule=False,
    )


def _flag(field: str) -> str:
    """The option a field comes from: `scope.areas` → `area`."""
    if field.startswith("scope."):
        return field.removeprefix("scope.").removesuffix("s")
    return field.replace("_", "-")


def run_schedule(args: argparse.Namespace, settings: Settings) -> int:
    body: dict[str, Any] = {
        "title": args.title,
        "message": args.message,
        "announced": args.announced,
        "scope": {"areas": args.area, "units": args.unit, "services": args.service},
    }
    body.update({"at": args.at} if args.at is not None else {"cron": args.cron})
    return asyncio.run(_schedule(settings, body, as_json=args.json))


async def _schedule(settings: Settings, body: dict[str, Any], *, as_json: bool) -> int:
    async with open_database(settings) as db:
        try:
            schedule = await _service(db, settings).create(body, Actor.command_line())
        except ScheduleInputError as error:
            raise UserError(f"--{_flag(error.field)}: {str(error).partition(': ')[2]}") from None
    if as_json:
        print(json.dumps(schedule_json(schedule), ensure_ascii=False, indent=2))
    else:
        assert schedule.next_run_at is not None
        print(
            f"Scheduled drill {schedule.id}: {schedule.title}, next "
            f"{stockholm_text(from_millis(schedule.next_run_at))} (Stockholm)."
        )
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_list(settings, as_json=args.json))


async def _list(settings: Settings, *, as_json: bool) -> int:
    async with open_database(settings) as db:
        schedules = await drill_schedules.list_all(db)
    if as_json:
        print(json.dumps([schedule_json(s) for s in schedules], ensure_ascii=False))
    elif not schedules:
        print("No drill schedules yet.")
    else:
        print(
            format_table(
                ("ID", "STATE", "NEXT (STOCKHOLM)", "WHEN", "ANNOUNCED", "TITLE"),
                [
                    (
                        str(s.id),
                        s.state,
                        "" if s.next_run_at is None else stockholm_text(from_millis(s.next_run_at)),
                        s.cron if s.cron is not None else "once",
                        "yes" if s.announced else "no",
                        s.title,
                    )
                    for s in schedules
                ],
            )
        )
    return 0


def run_cancel(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_cancel(settings, args.schedule_id))


async def _cancel(settings: Settings, schedule_id: int) -> int:
    async with open_database(settings) as db:
        try:
            schedule = await _service(db, settings).cancel(schedule_id, Actor.command_line())
        except UnknownSchedule:
            raise UserError(
                f"no drill schedule {schedule_id} (see: dispatcher drills list)"
            ) from None
        except NotScheduled as error:
            raise UserError(str(error)) from None
    print(f"Cancelled drill schedule {schedule.id}: {schedule.title}.")
    return 0
