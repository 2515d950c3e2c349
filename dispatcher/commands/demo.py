"""`dispatcher demo setup`: what `scripts/run` does before serving.

Fills an empty database with the fictional demo municipality (the same files
`scripts/make_demo_roster` writes, imported through the real importer), then prints the
dashboard address and a fresh admin token. Earlier tokens it made are revoked, so the
database never collects stale admin tokens however often the service is restarted.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime
from typing import Any

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import SystemClock, to_millis
from dispatcher.commands import UserError, open_database
from dispatcher.commands.roster_import import read_roster_files, record_import
from dispatcher.commands.tokens import record_token
from dispatcher.demo import write_demo_roster
from dispatcher.domain.access import AccessRole
from dispatcher.roster_import import parse_roster_files
from dispatcher.settings import Settings
from dispatcher.store.access_tokens import AccessTokens
from dispatcher.store.database import Database
from dispatcher.store.roster_store import replace_roster

DEMO_TOKEN_NAME = "scripts/run demo admin"  # noqa: S105 - a token's name, not a secret
DEMO_PEOPLE = 1200


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("demo", help="the demo municipality (used by scripts/run)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    setup = actions.add_parser(
        "setup", help="load the demo roster into an empty database; print a fresh admin token"
    )
    setup.add_argument("--people", type=int, default=DEMO_PEOPLE, help="roster size")
    setup.set_defaults(handler=run_setup)


def run_setup(args: argparse.Namespace, settings: Settings) -> int:
    if args.people < 1:
        raise UserError("--people: must be at least 1")
    loaded, token = asyncio.run(_setup(settings, args.people))
    base = settings.service.public_url.rstrip("/")
    if loaded:
        print(f"Loaded the demo municipality: {loaded}.")
    print(f"Dashboard: {base}/dashboard   Health: {base}/healthz")
    print(f"Sandbox mode: SMS {settings.sms.provider}, e-mail {settings.email.provider}.")
    print("Admin token (shown once; earlier demo tokens are revoked):")
    print(token)
    return 0


async def _setup(settings: Settings, people: int) -> tuple[str, str]:
    async with open_database(settings) as db:
        loaded = ""
        if await _roster_is_empty(db):
            loaded = await _load_demo(db, settings, people)
        tokens = AccessTokens(db, SystemClock())
        try:
            for token in await tokens.all():
                if token.name == DEMO_TOKEN_NAME and token.revoked_at is None:
                    revoked = await tokens.revoke(token.id)
                    if revoked is not None:
                        await record_token(db, audit.TOKEN_REVOKED, revoked)
            new = await tokens.create(DEMO_TOKEN_NAME, AccessRole.ADMIN)
            await record_token(db, audit.TOKEN_CREATED, new.token)
        finally:
            await tokens.close()
    return loaded, new.secret


async def _roster_is_empty(db: Database) -> bool:
    row = await db.fetch_one("SELECT EXISTS (SELECT 1 FROM units) AS has_units")
    return row is None or not row["has_units"]


async def _load_demo(db: Database, settings: Settings, people: int) -> str:
    directory = settings.service.database.parent / "demo"
    summary = await asyncio.to_thread(write_demo_roster, directory, people=people)
    names = ("units.csv", "staff.csv", "training.csv")
    files = read_roster_files([directory / name for name in names], settings.roster.max_file_mb)
    parsed = parse_roster_files(files[0], files[1], files[2], today=date.today())
    if parsed.roster is None:  # the generator and the importer disagree: a bug, say so plainly
        first = parsed.errors[0] if parsed.errors else "unknown problem"
        raise UserError(f"the demo roster does not import: {first}")
    source = ", ".join(str(directory / name) for name in names)
    imported_at_ms = to_millis(datetime.now(UTC))
    changes = await replace_roster(
        db,
        parsed.roster,
        imported_by="scripts/run",
        source=source,
        warnings=len(parsed.warnings),
        imported_at_ms=imported_at_ms,
    )
    await record_import(
        db, Actor.command_line(), parsed.roster, changes, source=source, at_ms=imported_at_ms
    )
    return summary.describe()
