"""The `dispatcher` console command (also `python -m dispatcher`).

Exit status: 0 on success, 1 on a user error (one line on standard error naming what is
wrong), 2 on a usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dispatcher import __version__
from dispatcher.commands import (
    Handler,
    UserError,
    activations,
    audit,
    demo,
    report,
    roster,
    sandbox,
    schedules,
    serve,
    tokens,
    training,
)
from dispatcher.logs import configure_logging
from dispatcher.settings import SettingsError, load_settings
from dispatcher.store.database import StoreError
from dispatcher.templates import TemplateError

_COMMAND_MODULES = (
    serve,
    roster,
    training,
    tokens,
    activations,
    schedules,
    report,
    audit,
    sandbox,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatcher",
        description="krisdispatch: call staff to their crisis placements.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file (default: $DISPATCHER_CONFIG, else config/dispatcher.toml)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="log level (default: info)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    handler: Handler = args.handler
    try:
        settings = load_settings(args.config, os.environ)
        return handler(args, settings)
    except (UserError, SettingsError, StoreError, TemplateError) as error:
        print(f"dispatcher: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `dispatcher roster check | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
