"""`dispatcher sandbox messages`: what the sandbox channels would have sent."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from dispatcher.channels.sandbox import SandboxMessage, list_sandbox_messages
from dispatcher.commands import open_database
from dispatcher.settings import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("sandbox", help="look at what the sandbox channels 'sent'")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    messages = actions.add_parser("messages", help="list sandbox SMS and e-mails, newest first")
    messages.add_argument("--to", default=None, help="only to this number or address")
    messages.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    messages.add_argument("--json", action="store_true", help="print JSON")
    messages.set_defaults(handler=run_messages)


def run_messages(args: argparse.Namespace, settings: Settings) -> int:
    found = asyncio.run(_messages(settings, args.to, max(1, args.limit)))
    if args.json:
        print(json.dumps([_as_json(m) for m in found], ensure_ascii=False, indent=2))
        return 0
    if not found:
        print("The sandbox has sent nothing yet.")
    for message in found:
        when = message.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
        print(f"--- {when}  {message.channel} to {message.recipient}  ({message.provider_id})")
        if message.subject:
            print(f"Subject: {message.subject}")
        print(message.body)
    return 0


async def _messages(settings: Settings, to: str | None, limit: int) -> list[SandboxMessage]:
    async with open_database(settings) as db:
        return await list_sandbox_messages(db, to, limit)


def _as_json(message: SandboxMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "channel": message.channel,
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "provider_id": message.provider_id,
        "created_at": message.created_at.isoformat(),
    }
