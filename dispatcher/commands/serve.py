"""`dispatcher serve`: run the web app (and, as later work adds them, the dispatcher and
scheduler inside it) until SIGTERM or Ctrl-C; both stop it cleanly."""

from __future__ import annotations

import argparse
from typing import Any

import structlog
from aiohttp import web

from dispatcher.commands import UserError
from dispatcher.settings import Settings
from dispatcher.templates import load_templates
from dispatcher.web.app import create_app

# In-flight requests get this long to finish on shutdown before resources are closed.
SHUTDOWN_TIMEOUT_SECONDS = 5.0

log = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("serve", help="run the web app and dispatcher")
    parser.add_argument(
        "--host", default=None, help="address to listen on (default: [service] host)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: [service] port)"
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    host: str = args.host or settings.service.host
    port: int = args.port if args.port is not None else settings.service.port
    if not 0 < port < 65536:
        raise UserError(f"--port: must be 1–65535, got {port}")
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    templates = load_templates(settings.service.language)  # a bad template stops start-up here

    def announce(_banner: str) -> None:
        # run_app calls its `print` once every socket listens: the moment to say so,
        # as one structured event instead of its banner on standard output.
        log.info(
            "serving",
            url=url,
            database=str(settings.service.database),
            sms=settings.sms.provider,
            email=settings.email.provider,
            templates=templates.source,
        )

    try:
        web.run_app(
            create_app(settings),
            host=host,
            port=port,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
            print=announce,
        )
    except OSError as error:  # address in use, no permission, unwritable database folder
        raise UserError(f"cannot serve on {host}:{port}: {error}") from None
    log.info("stopped")
    return 0
