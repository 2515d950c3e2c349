"""Activations over HTTP: declare, preview, approve, list, read, call-ups, status, stand-down."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from aiohttp import web

from dispatcher import audit
from dispatcher.activation_views import activation_json, callup_json
from dispatcher.approvals import NotAwaitingApproval, ScopeNoLongerFits, SecondLeaderNeeded
from dispatcher.clock import to_millis
from dispatcher.declarations import Declaration, DeclarationError
from dispatcher.domain.access import AccessRole
from dispatcher.domain.answering import precedence
from dispatcher.stand_down import NotOpen, UnknownActivation
from dispatcher.store import activations, status
from dispatcher.store.activations import ActivationRecord
from dispatcher.web import ACTIVATIONS, APPROVALS, CLOCK, DATABASE, STAND_DOWNS, STATUS_CACHE
from dispatcher.web.auth import requires
from dispatcher.web.middleware import bad_request, json_error, read_json
from dispatcher.web.routes_audit import audit_actor

log = structlog.get_logger(__name__)


def _declaration(body: dict[str, Any]) -> Declaration:
    try:
        return Declaration.from_json(body)
    except DeclarationError as error:
        raise bad_request(error.field, str(error).partition(": ")[2]) from None


@requires(AccessRole.LEADER)
async def declare(request: web.Request) -> web.Response:
    """Declare a crisis or drill: 201 with the activation; 200 with the first for a repeated key."""
    declaration = _declaration(await read_json(request))
    who = audit_actor(request)
    try:
        record, created = await request.app[ACTIVATIONS].declare(declaration, who)
    except DeclarationError as error:
        raise bad_request(error.field, str(error).partition(": ")[2]) from None
    if created:
        structlog.contextvars.bind_contextvars(activation_id=record.id)
        log.info("activation declared", kind=record.kind, state=record.state, by=who.name)
    return web.json_response(activation_json(record), status=201 if created else 200)


@requires(AccessRole.LEADER)
async def preview(request: web.Request) -> web.Response:
    """What a declaration would do: people per unit, unreachable, SMS and time; nothing stored."""
    declaration = _declaration(await read_json(request))
    try:
        result = await request.app[ACTIVATIONS].preview(declaration)
    except DeclarationError as error:
        raise bad_request(error.field, str(error).partition(": ")[2]) from None
    return web.json_response(result.as_json())


async def _activation(request: web.Request) -> ActivationRecord:
    record = await activations.get_activation(request.app[DATABASE], request.match_info["id"])
    if record is None:
        raise json_error(web.HTTPNotFound, f"no activation {request.match_info['id']!r}")
    return record


OPEN_STATES = frozenset({"awaiting_approval", "active"})


def in_precedence(records: Iterable[ActivationRecord]) -> list[ActivationRecord]:
    """Open activations first, and among them a real crisis before any drill; otherwise in
    the order given (the newest first). The API list and the dashboard show this order."""
    return sorted(
        records,
        key=lambda r: (
            r.state not in OPEN_STATES,
            precedence(r.kind) if r.state in OPEN_STATES else 0,
        ),
    )


@requires(AccessRole.VIEWER)
async def list_all(request: web.Request) -> web.Response:
    """Every activation: open ones first, crises before drills (`in_precedence`)."""
    records = in_precedence(await activations.list_activations(request.app[DATABASE]))
    return web.json_response({"activations": [activation_json(r) for r in records]})


@requires(AccessRole.VIEWER)
async def get_one(request: web.Request) -> web.Response:
    return web.json_response(activation_json(await _activation(request)))


@requires(AccessRole.VIEWER)
async def callups(request: web.Request) -> web.Response:
    """Everyone called, by unit and shown name (a protected person sorts as "skyddad
    person", so their place in the list says nothing about their name); audited."""
    record = await _activation(request)
    db = request.app[DATABASE]
    listed = [callup_json(r) for r in await status.callup_rows(db, record.id)]
    listed.sort(key=lambda c: (c["unit_name"], c["name"], c["id"]))
    await audit.record(
        db,
        audit_actor(request),
        audit.CALLUPS_READ,
        at_ms=to_millis(request.app[CLOCK].now()),
        subject=record.id,
        detail={"people": len(listed)},
    )
    return web.json_response({"activation_id": record.id, "callups": listed})


@requires(AccessRole.VIEWER)
async def status_of(request: web.Request) -> web.Response:
    """Coverage per unit and totals, with an ETag; 304 when the client's copy is current.

    Counted again only when the activation's revision moved; otherwise from the cache."""
    current = await request.app[STATUS_CACHE].get(request.match_info["id"])
    if current is None:
        raise json_error(web.HTTPNotFound, f"no activation {request.match_info['id']!r}")
    headers = {"ETag": current.etag, "Cache-Control": "no-cache"}
    if current.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=current.body, content_type="application/json", headers=headers)


@requires(AccessRole.LEADER)
async def stand_down(request: web.Request) -> web.Response:
    """Close an open activation and tell everyone called: 200 with it (also when it already was);
    404 unknown; 409 when it is neither open nor stood down."""
    activation_id = request.match_info["id"]
    try:
        result = await request.app[STAND_DOWNS].stand_down(activation_id, audit_actor(request))
    except UnknownActivation:
        raise json_error(web.HTTPNotFound, f"no activation {activation_id!r}") from None
    except NotOpen as error:
        raise json_error(web.HTTPConflict, str(error), state=error.state) from None
    return web.json_response(activation_json(result.activation))


@requires(AccessRole.LEADER)
async def approve(request: web.Request) -> web.Response:
    """A second leader approves a crisis awaiting approval: 200 with it, now active and
    calling; 404 unknown; 409 not awaiting approval, the declarer's own token, or a scope
    the roster no longer has."""
    activation_id = request.match_info["id"]
    try:
        record = await request.app[APPROVALS].approve(activation_id, audit_actor(request))
    except UnknownActivation:
        raise json_error(web.HTTPNotFound, f"no activation {activation_id!r}") from None
    except NotAwaitingApproval as error:
        raise json_error(web.HTTPConflict, str(error), state=error.state) from None
    except (SecondLeaderNeeded, ScopeNoLongerFits) as error:
        raise json_error(web.HTTPConflict, str(error)) from None
    structlog.contextvars.bind_contextvars(activation_id=record.id)
    return web.json_response(activation_json(record))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/activations", declare)
    app.router.add_post("/api/activations/preview", preview)
    app.router.add_get("/api/activations", list_all)
    app.router.add_get("/api/activations/{id}", get_one)
    app.router.add_get("/api/activations/{id}/callups", callups)
    app.router.add_get("/api/activations/{id}/status", status_of)
    app.router.add_post("/api/activations/{id}/approve", approve)
    app.router.add_post("/api/activations/{id}/stand-down", stand_down)
