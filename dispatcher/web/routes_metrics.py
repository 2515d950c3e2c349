"""`GET /metrics`: Prometheus text format, no token (counts and durations only: no names,
numbers or message texts; see `dispatcher.metrics`)."""

from __future__ import annotations

from aiohttp import web

from dispatcher.metrics import CONTENT_TYPE
from dispatcher.web import CLOCK, DATABASE, DISPATCHER, METRICS, STATUS_CACHE
from dispatcher.web.auth import public


@public
async def metrics(request: web.Request) -> web.Response:
    app = request.app
    body = await app[METRICS].render(
        app[DATABASE],
        app[STATUS_CACHE],
        now=app[CLOCK].now(),
        last_progress_at=app[DISPATCHER].last_progress_at,
    )
    return web.Response(
        body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
    )


def add_routes(app: web.Application) -> None:
    app.add_routes([web.get("/metrics", metrics)])
