"""Placeholder: filled in by the foundation work."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    subparsers.add_parser("roster_import".replace("roster_", ""), help="(not yet built)")
