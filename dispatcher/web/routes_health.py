"""`GET /healthz`: is the service up and can it reach its database? No token needed."""

from __future__ import annotations

import structlog
from aiohttp import web

from dispatcher.web import DATABASE
from dispatcher.web.auth import public

log = structlog.get_logger(__name__)


@public
async def healthz(request: web.Request) -> web.Response:
    """200 with the schema version when the database answers; 503 when it does not."""
    db = request.app[DATABASE]
    try:
        await db.ping()
        version = await db.schema_version()
    # Whatever stops the database from answering makes the service unavailable; the
    # details go to the log, not to an unauthenticated caller.
    except Exception as error:
        log.warning("health check failed", error=repr(error))
        return web.json_response({"status": "unavailable", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "schema_version": version})


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/healthz", healthz)])
