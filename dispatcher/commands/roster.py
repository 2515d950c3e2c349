"""`dispatcher roster …`: the roster group; each action lives in its own module."""

from __future__ import annotations

import argparse
from typing import Any

from dispatcher.commands import roster_check, roster_import


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("roster", help="import and check the staff roster")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    roster_import.register(actions)
    roster_check.register(actions)
