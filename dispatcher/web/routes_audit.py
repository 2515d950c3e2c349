"""The audit log over HTTP (`GET /api/audit`, admin), and who a request is to the log.

Route modules record their actions with `audit.record(…, audit_actor(request), …)`. No
route changes or deletes an entry; the table itself refuses it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlencode

from aiohttp import web

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.domain.access import AccessRole
from dispatcher.store import audit as store
from dispatcher.web import DATABASE
from dispatcher.web.auth import caller, requires
from dispatcher.web.middleware import REQUEST_ID, bad_request

_FILTERS = ("action", "since", "limit", "before")
_MAX_ACTION = 64


def audit_actor(request: web.Request) -> Actor:
    """The caller of a handler marked with `requires`, as the audit log records them:
    the token's name and id, the remote address and the request id."""
    who = caller(request)
    return Actor(
        who.name,
        who.token_id,
        source=request.remote or "unknown",
        request_id=request.get(REQUEST_ID),
    )


def _raw_query(request: web.Request) -> dict[str, str]:
    """The query without turning `+` into a space: `since=…T08:00+01:00` keeps its offset."""
    values: dict[str, str] = {}
    for part in request.rel_url.raw_query_string.split("&"):
        name, _, value = part.partition("=")
        if name:
            values[unquote(name)] = unquote(value)
    return values


@requires(AccessRole.ADMIN)
async def list_entries(request: web.Request) -> web.Response:
    """Entries newest first: `?action=&since=ISO&limit=N&before=ID`; `next` is the next page."""
    query = _raw_query(request)
    for name in query:
        if name not in _FILTERS:
            raise bad_request(name, f"unknown filter (expected {', '.join(_FILTERS)})")
    action = query.get("action") or None
    if action is not None and len(action) > _MAX_ACTION:
        raise bad_request("action", f"must be at most {_MAX_ACTION} characters")
    since: int | None = None
    if query.get("since"):
        try:
            since = audit.parse_since(query["since"])
        except ValueError as error:
            raise bad_request("since", str(error)) from None
    try:
        limit = audit.parse_limit(query.get("limit") or audit.DEFAULT_LIMIT)
    except ValueError as error:
        raise bad_request("limit", str(error)) from None
    before: int | None = None
    if query.get("before"):
        raw = query["before"]
        if not re.fullmatch(r"[0-9]{1,18}", raw):
            raise bad_request("before", f"must be an entry id, got {raw!r}")
        before = int(raw)
    found = await store.entries(
        request.app[DATABASE], action=action, since=since, before_id=before, limit=limit
    )
    body: dict[str, Any] = {"entries": [audit.entry_json(e) for e in found], "next": None}
    if len(found) == limit:
        kept = {k: v for k, v in query.items() if k != "before" and v}
        body["next"] = f"/api/audit?{urlencode({**kept, 'before': found[-1].id})}"
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/audit", list_entries)
