"""`GET /api/openapi.json`: the OpenAPI document (`dispatcher.web.openapi`), no token needed.

The document is made once, when the app starts (every route is added by then), and served
as the same bytes after that.
"""

from __future__ import annotations

import json

import structlog
from aiohttp import web

from dispatcher.web.auth import public
from dispatcher.web.openapi import documentation_gaps, openapi_document

log = structlog.get_logger(__name__)

DOCUMENT = web.AppKey("openapi_document", bytes)


async def _make_document(app: web.Application) -> None:
    for gap in documentation_gaps(app):
        log.warning("openapi document incomplete", gap=gap)
    app[DOCUMENT] = json.dumps(openapi_document(app), ensure_ascii=False).encode()


@public
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[DOCUMENT],
        content_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
    app.on_startup.append(_make_document)
