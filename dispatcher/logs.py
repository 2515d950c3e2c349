"""Logging, configured once at start-up: structlog on top of the standard library.

JSON lines when standard error is not a terminal, readable colours when it is. The
standard library's root handler renders through structlog too, so aiohttp's access log
and any library's log records come out in the same format.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_QUIET_LOGGERS = ("twilio", "twilio.http_client", "mail.log", "aiosqlite", "asyncio", "apscheduler")


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Set up structlog and the standard library's root logger. Safe to call again."""
    render_json = not sys.stderr.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if render_json
        else structlog.dev.ConsoleRenderer(colors=True)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if render_json else _keep,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _keep(_logger: Any, _method: str, event_dict: Any) -> Any:
    return event_dict
