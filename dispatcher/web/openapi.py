"""The OpenAPI 3.1 document of the machine interface: `/api/*`, Twilio's webhooks, `/healthz`
and `/metrics`, made by `openapi_document(app)` (served at `/api/openapi.json`).

Built from two sources. `OPERATIONS` (`dispatcher.web.openapi_operations`) says what each
operation takes and answers; the app's router says which routes exist and, through
`required_role(handler)`, who may call each, so an operation's security, `x-required-role`,
401 and 403 cannot disagree with its handler. `documentation_gaps(app)` names every route
without an entry and every entry without a route; tests/test_openapi.py fails on any, so
no route ships undocumented.

Browser pages (`BROWSER_PAGES`: the dashboard, the sandbox phones, the e-mail answer page)
are left out on purpose: they are HTML for people, their forms are no interface to build
on, and the answer page's path holds a capability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aiohttp import hdrs, web

from dispatcher import __version__
from dispatcher.domain.access import AccessRole
from dispatcher.web.auth import required_role
from dispatcher.web.openapi_operations import OPERATIONS as _OPERATIONS
from dispatcher.web.openapi_operations import Operation
from dispatcher.web.openapi_reports import REPORT_SCHEMAS
from dispatcher.web.openapi_schedules import SCHEDULE_OPERATIONS, SCHEDULE_SCHEMAS
from dispatcher.web.openapi_schemas import SCHEMAS, SECURITY_SCHEMES, STRING, Json, error

OPENAPI_VERSION: Final = "3.1.0"
BROWSER_PAGES: Final = ("/dashboard", "/sandbox", "/answer/")
"""Path prefixes of HTML pages for people: not in the document."""
OPERATIONS: Final = (*_OPERATIONS, *SCHEDULE_OPERATIONS)
"""Every documented operation: the catalogue and the scheduled drills'."""

__all__ = [
    "BROWSER_PAGES",
    "OPERATIONS",
    "documentation_gaps",
    "is_browser_page",
    "openapi_document",
    "routed_handlers",
]


def routed_handlers(app: web.Application) -> dict[str, Callable[..., Any]]:
    """Every route of the app as "METHOD /path" → handler; HEAD is left out (it is GET's)."""
    handlers: dict[str, Callable[..., Any]] = {}
    for route in app.router.routes():
        if route.method != hdrs.METH_HEAD and route.resource is not None:
            handlers[f"{route.method} {route.resource.canonical}"] = route.handler
    return handlers


def is_browser_page(path: str) -> bool:
    return path.startswith(BROWSER_PAGES)


def documentation_gaps(app: web.Application) -> list[str]:
    """Routes that need an entry in `OPERATIONS` and have none, and entries with no route."""
    routed = routed_handlers(app)
    documented = {op.route for op in OPERATIONS}
    return [
        f"{route}: routed, not documented in dispatcher.web.openapi_operations"
        for route in sorted(routed)
        if route not in documented and not is_browser_page(route.partition(" ")[2])
    ] + [f"{route}: documented, not routed" for route in sorted(documented - set(routed))]


def openapi_document(app: web.Application) -> Json:
    """The document of the routes `app` has (call it once every route is added)."""
    routed = routed_handlers(app)
    paths: dict[str, Json] = {}
    for op in OPERATIONS:
        if op.route in routed:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, routed[op.route])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "krisdispatch",
            "version": __version__,
            "description": "Calls a municipality's staff to their crisis placements. Send "
            "`Authorization: Bearer TOKEN`: a viewer reads, a leader also declares, approves "
            "and stands down, an admin also manages the roster and tokens "
            '(`x-required-role` on each operation). Errors are JSON `{"error": "…"}`, '
            "with `field` naming a bad input.",
        },
        "tags": [
            {"name": t} for t in dict.fromkeys(o.tag for o in OPERATIONS if o.route in routed)
        ],
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **REPORT_SCHEMAS, **SCHEDULE_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _operation(op: Operation, handler: Callable[..., Any]) -> Json:
    role = required_role(handler)
    responses = dict(op.responses)
    if op.body is not None:
        responses.setdefault(400, error("bad input; `field` names what is wrong"))
        responses.setdefault(413, error("the body is larger than `service.max_request_kb`"))
    document: Json = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{scheme: []} for scheme in op.security],
    }
    if role is not None:
        document["security"] = [{"bearer": []}]
        document["x-required-role"] = role.value
        responses[401] = {
            **error("no token, or an unknown or revoked one"),
            "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": STRING}},
        }
        if role > min(AccessRole):
            responses[403] = error(f"the token's role is below {role.value}")
    if op.parameters:
        document["parameters"] = list(op.parameters)
    if op.body is not None:
        document["requestBody"] = op.body
    document["responses"] = {str(code): responses[code] for code in sorted(responses)}
    return document
