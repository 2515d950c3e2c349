"""`dispatcher activate`, `status` and `stand-down`: declare, read the state, close.

A declaration from the command line writes the activation, its call-ups and its messages
to the database; a running `dispatcher serve` picks the messages up within a second (the
database is the truth). Without a running service they wait in the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from dispatcher.activation_options import OptionsError, parse_report_to
from dispatcher.activation_views import activation_json, status_json
from dispatcher.audit import Actor
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import SystemClock
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.declarations import Activations, Declaration, DeclarationError
from dispatcher.domain.answer_links import AnswerLinks
from dispatcher.domain.coverage import compute_coverage
from dispatcher.settings import Settings
from dispatcher.stand_down import NotOpen, StandDowns, UnknownActivation
from dispatcher.store import activations, status
from dispatcher.store.answer_links import answer_link_key
from dispatcher.templates import load_templates


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    activate = subparsers.add_parser(
        "activate", help="declare a crisis or a drill: call everyone placed in scope"
    )
    activate.add_argument("--kind", required=True, choices=("crisis", "drill"))
    activate.add_argument("--title", required=True, help="what happened, e.g. 'Storm'")
    activate.add_argument("--area", action="append", default=[], help="an area in scope")
    activate.add_argument("--unit", action="append", default=[], help="a unit id in scope")
    activate.add_argument("--service", action="append", default=[], help="a service in scope")
    activate.add_argument("--message", default=None, help="an extra line for the call-up")
    activate.add_argument("--idempotency-key", default=None, help="declare at most once per key")
    activate.add_argument(
        "--reserves",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="call reserves into gaps (default: yes for a crisis, no for a drill)",
    )
    activate.add_argument(
        "--gap-reports",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="send gap reports (default: a crisis to the crisis team; a drill to --report-to)",
    )
    activate.add_argument(
        "--report-to",
        action="append",
        default=[],
        metavar="NAME:PHONE_OR_EMAIL",
        help="an exercise leader who gets the gap reports (repeatable)",
    )
    activate.add_argument(
        "--dry-run", action="store_true", help="show what would be sent; store and send nothing"
    )
    activate.add_argument("--json", action="store_true", help="print JSON")
    activate.set_defaults(handler=run_activate)

    show = subparsers.add_parser("status", help="list activations, or show one's coverage")
    show.add_argument("activation_id", nargs="?", metavar="ACTIVATION_ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=run_status)

    down = subparsers.add_parser(
        "stand-down",
        help="close an activation: cancel what has not been sent, tell everyone called",
    )
    down.add_argument("activation_id", metavar="ACTIVATION_ID")
    down.add_argument("--json", action="store_true", help="print the activation as JSON")
    down.set_defaults(handler=run_stand_down)


def _declaration(args: argparse.Namespace) -> Declaration:
    body: dict[str, Any] = {
        "kind": args.kind,
        "title": args.title,
        "message": args.message,
        "idempotency_key": args.idempotency_key,
        "scope": {"areas": args.area, "units": args.unit, "services": args.service},
    }
    try:
        body["options"] = {
            "reserves": args.reserves,
            "gap_reports": args.gap_reports,
            "report_to": [parse_report_to(text) for text in args.report_to],
        }
        return Declaration.from_json(body)
    except OptionsError as error:
        raise UserError(f"--{_flag(error.field)}: {error.message}") from None
    except DeclarationError as error:
        raise UserError(f"--{_flag(error.field)}: {str(error).partition(': ')[2]}") from None


def _flag(field: str) -> str:
    """The option a declaration field comes from: `scope.areas` → `area`,
    `options.report_to[0].phone` → `report-to`."""
    if field.startswith("options."):
        return field.removeprefix("options.").partition("[")[0].partition(".")[0].replace("_", "-")
    name = field.removeprefix("scope.")
    if field.startswith("scope."):
        name = name.removesuffix("s")
    return name.replace("_", "-")


def run_activate(args: argparse.Namespace, settings: Settings) -> int:
    declaration = _declaration(args)
    return asyncio.run(_activate(settings, declaration, dry_run=args.dry_run, as_json=args.json))


async def _activate(
    settings: Settings, declaration: Declaration, *, dry_run: bool, as_json: bool
) -> int:
    templates = load_templates(settings.service.language)
    async with open_database(settings) as db:
        links = None  # a dry run renders no e-mail, and must not store a new key
        if not dry_run:
            key = await answer_link_key(db, settings.service.secret_key)
            links = AnswerLinks(settings.service.public_url, key)
        messages = CallUpMessages(templates, settings.service.municipality, answer_links=links)
        service = Activations(db, settings, SystemClock(), messages)
        try:
            if dry_run:
                preview = await service.preview(declaration)
                print(json.dumps(preview.as_json(), ensure_ascii=False, indent=2))
                return 0
            record, created = await service.declare(declaration, Actor.command_line())
        except DeclarationError as error:
            raise UserError(str(error)) from None
    if as_json:
        print(json.dumps(activation_json(record), ensure_ascii=False, indent=2))
    elif not created:
        print(f"Already declared with this key: {record.id} ({record.state}).")
    else:
        print(f"Declared {record.kind} {record.id}: {record.title} ({record.state}).")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_status(settings, args.activation_id, as_json=args.json))


async def _status(settings: Settings, activation_id: str | None, *, as_json: bool) -> int:
    async with open_database(settings) as db:
        if activation_id is None:
            records = await activations.list_activations(db)
            if as_json:
                print(json.dumps([activation_json(r) for r in records], ensure_ascii=False))
            elif not records:
                print("No activations yet.")
            else:
                print(
                    format_table(
                        ("ID", "KIND", "STATE", "TITLE"),
                        [(r.id, r.kind, r.state, r.title) for r in records],
                    )
                )
            return 0
        record = await activations.get_activation(db, activation_id)
        if record is None:
            raise UserError(f"no activation {activation_id!r} (see: dispatcher status)")
        body = status_json(record, compute_coverage(await status.unit_tallies(db, record.id)))
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 0
    totals = body["totals"]
    print(f"{record.id}  {record.kind}  {record.state}  {record.title}")
    print(
        "  ".join(
            f"{name}: {totals[name]}"
            for name in ("called", "confirmed", "declined", "awaiting", "no_answer", "failed")
        )
    )
    print(
        format_table(
            ("UNIT", "NEEDED", "CONFIRMED", "AWAITING", "DECLINED", "GAP"),
            [
                (
                    u["name"],
                    str(u["needed"]),
                    str(u["confirmed"]),
                    str(u["awaiting"]),
                    str(u["declined"]),
                    str(u["gap"]),
                )
                for u in body["units"]
            ],
        )
    )
    return 0


def run_stand_down(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_stand_down(settings, args.activation_id, as_json=args.json))


async def _stand_down(settings: Settings, activation_id: str, *, as_json: bool) -> int:
    """Stand down from the command line; a running `dispatcher serve` sends the notices."""
    messages = CallUpMessages(
        load_templates(settings.service.language), settings.service.municipality
    )
    async with open_database(settings) as db:
        service = StandDowns(db, SystemClock(), messages)
        try:
            result = await service.stand_down(activation_id, Actor.command_line())
        except UnknownActivation:
            raise UserError(f"no activation {activation_id!r} (see: dispatcher status)") from None
        except NotOpen as error:
            raise UserError(str(error)) from None
    record = result.activation
    if as_json:
        print(json.dumps(activation_json(record), ensure_ascii=False, indent=2))
    elif not result.stood_down_now:
        print(f"Already stood down: {record.id} ({record.title}), by {record.stood_down_by}.")
    else:
        print(
            f"Stood down {record.kind} {record.id}: {record.title}. "
            f"{result.cancelled} unsent message(s) cancelled; "
            f"{result.notified} stand-down notice(s) queued."
        )
    return 0
