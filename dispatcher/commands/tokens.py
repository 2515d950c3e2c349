"""`dispatcher token create|list|revoke`: API access tokens, from the command line.

`token create` prints the new token alone on the last line of standard output, so a
script can take it with `tail -n 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import SystemClock, to_millis
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.domain.access import ROLE_NAMES, AccessRole, AccessToken, clean_token_name
from dispatcher.settings import Settings
from dispatcher.store.access_tokens import AccessTokens, NewToken
from dispatcher.store.database import Database


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("token", help="create, list and revoke API access tokens")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a token; prints it once, on the last line")
    create.add_argument("--role", required=True, choices=ROLE_NAMES, help="what it may do")
    create.add_argument("--name", required=True, help="who or what it is for (1–100 characters)")
    create.set_defaults(handler=create_token)

    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=list_tokens)

    revoke = actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id", type=int, metavar="ID", help="the id `token list` shows")
    revoke.set_defaults(handler=revoke_token)


def create_token(args: argparse.Namespace, settings: Settings) -> int:
    try:
        name = clean_token_name(args.name)
    except ValueError as error:
        raise UserError(f"--name: {error}") from None
    role = AccessRole(args.role)
    new = asyncio.run(_create(settings, name, role))
    print(f"Token for {name} ({role.value}) — shown once, store it now:")
    print(new.secret)
    return 0


def list_tokens(args: argparse.Namespace, settings: Settings) -> int:
    tokens = asyncio.run(_all(settings))
    if args.json:
        print(json.dumps([token.as_json() for token in tokens], ensure_ascii=False, indent=2))
    elif not tokens:
        print("No access tokens. Create one: dispatcher token create --role admin --name NAME")
    else:
        print(token_table(tokens))
    return 0


def revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    token = asyncio.run(_revoke(settings, args.token_id))
    if token is None:
        raise UserError(f"no access token with id {args.token_id} (see: dispatcher token list)")
    print(f"Revoked token {token.id}: {token.name} ({token.role.value}).")
    return 0


def token_table(tokens: Sequence[AccessToken]) -> str:
    """Tokens as an aligned plain-text table; times in UTC."""
    return format_table(
        ("ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"),
        [
            (
                str(token.id),
                token.name,
                token.role.value,
                _when(token.created_at),
                _when(token.last_used_at),
                _when(token.revoked_at),
            )
            for token in tokens
        ],
    )


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%MZ")


@asynccontextmanager
async def _access_tokens(settings: Settings) -> AsyncIterator[tuple[Database, AccessTokens]]:
    async with open_database(settings) as db:
        tokens = AccessTokens(db, SystemClock())
        try:
            yield db, tokens
        finally:
            await tokens.close()


async def _create(settings: Settings, name: str, role: AccessRole) -> NewToken:
    async with _access_tokens(settings) as (db, tokens):
        new = await tokens.create(name, role)
        await record_token(db, audit.TOKEN_CREATED, new.token)
        return new


async def _all(settings: Settings) -> list[AccessToken]:
    async with _access_tokens(settings) as (_, tokens):
        return await tokens.all()


async def _revoke(settings: Settings, token_id: int) -> AccessToken | None:
    async with _access_tokens(settings) as (db, tokens):
        token = await tokens.revoke(token_id)
        if token is not None:
            await record_token(db, audit.TOKEN_REVOKED, token)
        return token


async def record_token(db: Database, action: str, token: AccessToken) -> None:
    """Audit a token created or revoked from the command line (right after: the token
    store commits on its own)."""
    await audit.record(
        db,
        Actor.command_line(),
        action,
        at_ms=to_millis(SystemClock().now()),
        subject=str(token.id),
        detail={"name": token.name, "role": token.role.value},
    )
