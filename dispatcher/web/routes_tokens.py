"""The caller's own token (`/api/me`) and the token admin API (`/api/tokens`)."""

from __future__ import annotations

import structlog
from aiohttp import web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole, clean_token_name, parse_role
from dispatcher.web import ACCESS_TOKENS, CLOCK, DATABASE
from dispatcher.web.auth import caller, requires
from dispatcher.web.middleware import bad_request, json_error, read_json
from dispatcher.web.routes_audit import audit_actor

log = structlog.get_logger(__name__)

_CREATE_FIELDS = ("name", "role")


@requires(AccessRole.VIEWER)
async def me(request: web.Request) -> web.Response:
    """The token the request was made with: its name and role."""
    who = caller(request)
    return web.json_response({"id": who.token_id, "name": who.name, "role": who.role.value})


@requires(AccessRole.ADMIN)
async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[ACCESS_TOKENS].all()
    return web.json_response({"tokens": [token.as_json() for token in tokens]})


@requires(AccessRole.ADMIN)
async def create_token(request: web.Request) -> web.Response:
    """Body `{"name": str, "role": "viewer"|"leader"|"admin"}`; 201 with the token, shown once."""
    body = await read_json(request)
    for field in body:
        if field not in _CREATE_FIELDS:
            raise bad_request(field, f"unknown field (expected {', '.join(_CREATE_FIELDS)})")
    name = body.get("name")
    if not isinstance(name, str):
        raise bad_request("name", "must be a string")
    try:
        name = clean_token_name(name)
    except ValueError as error:
        raise bad_request("name", str(error)) from None
    try:
        role = parse_role(body.get("role"))
    except ValueError as error:
        raise bad_request("role", str(error)) from None
    new = await request.app[ACCESS_TOKENS].create(name, role)
    log.info(
        "access token created",
        new_token_id=new.token.id,
        role=role.value,
        by_token_id=caller(request).token_id,
    )
    await audit.record(
        request.app[DATABASE],
        audit_actor(request),
        audit.TOKEN_CREATED,
        at_ms=to_millis(request.app[CLOCK].now()),
        subject=str(new.token.id),
        detail={"name": new.token.name, "role": role.value},
    )
    return web.json_response(
        {**new.token.as_json(), "token": new.secret},
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@requires(AccessRole.ADMIN)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke at once; the token fails from its next request. Revoking twice is harmless."""
    token_id = int(request.match_info["id"])
    token = await request.app[ACCESS_TOKENS].revoke(token_id)
    if token is None:
        raise json_error(web.HTTPNotFound, f"no access token with id {token_id}")
    log.info(
        "access token revoked", revoked_token_id=token_id, by_token_id=caller(request).token_id
    )
    await audit.record(
        request.app[DATABASE],
        audit_actor(request),
        audit.TOKEN_REVOKED,
        at_ms=to_millis(request.app[CLOCK].now()),
        subject=str(token_id),
        detail={"name": token.name, "role": token.role.value},
    )
    return web.json_response(token.as_json())


def add_routes(app: web.Application) -> None:
    app.add_routes(
        [
            web.get("/api/me", me),
            web.get("/api/tokens", list_tokens),
            web.post("/api/tokens", create_token),
            web.post(r"/api/tokens/{id:\d{1,18}}/revoke", revoke_token),
        ]
    )
