"""`dispatcher audit`: read the audit log, newest first. Nothing can change it."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from dispatcher import audit
from dispatcher.clock import from_millis
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.settings import Settings
from dispatcher.store import audit as store
from dispatcher.store.audit import AuditEntry


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="the audit log: who declared, approved, stood down, imported, read lists of people",
    )
    parser.add_argument("--action", default=None, help="only this action, e.g. callups.read")
    parser.add_argument(
        "--since",
        default=None,
        metavar="ISO",
        help="only from this date or time (UTC if no offset)",
    )
    parser.add_argument(
        "--limit",
        default=str(audit.DEFAULT_LIMIT),
        metavar="N",
        help=f"at most N entries (1–{audit.MAX_LIMIT}, default {audit.DEFAULT_LIMIT})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_audit)


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = None if args.since is None else audit.parse_since(args.since)
    except ValueError as error:
        raise UserError(f"--since: {error}") from None
    try:
        limit = audit.parse_limit(args.limit)
    except ValueError as error:
        raise UserError(f"--limit: {error}") from None
    found = asyncio.run(_entries(settings, args.action or None, since, limit))
    if args.json:
        print(json.dumps([audit.entry_json(e) for e in found], ensure_ascii=False, indent=2))
    elif not found:
        print("No audit entries.")
    else:
        print(_table(found))
    return 0


async def _entries(
    settings: Settings, action: str | None, since: int | None, limit: int
) -> list[AuditEntry]:
    async with open_database(settings) as db:
        return await store.entries(db, action=action, since=since, limit=limit)


def _table(entries: list[AuditEntry]) -> str:
    return format_table(
        ("AT (UTC)", "ACTOR", "ACTION", "SUBJECT", "SOURCE", "DETAIL"),
        [
            (
                from_millis(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor if e.actor_token_id is None else f"{e.actor} (token {e.actor_token_id})",
                e.action,
                e.subject or "-",
                e.source,
                json.dumps(e.detail, ensure_ascii=False, separators=(",", ":")),
            )
            for e in entries
        ],
    )
