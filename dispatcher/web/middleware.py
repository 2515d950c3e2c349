"""What every request goes through: a request id and log context, JSON errors, authentication.

Also the small helpers handlers use to fail in the contract's shape (`bad_request`,
`json_error`, `read_json`) and the access logger that turns each request into one
structured log event.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import structlog
from aiohttp import hdrs, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from dispatcher.web import SETTINGS
from dispatcher.web.auth import CALLER, identify, required_role

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)

# An incoming request id is reused (so a proxy's id follows the request) only if it is
# short and plain; anything else could forge or break log lines, so it gets a new one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_HTTPError = TypeVar("_HTTPError", bound=web.HTTPException)

log = structlog.get_logger(__name__)


# --- helpers for handlers ----------------------------------------------------------------


def json_error(
    error_class: type[_HTTPError],
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **details: Any,
) -> _HTTPError:
    """An HTTP error whose body is `{"error": message, **details}`; raise it."""
    return error_class(
        text=json.dumps({"error": message, **details}),
        content_type="application/json",
        headers=headers,
    )


def bad_request(field: str, message: str) -> web.HTTPBadRequest:
    """A 400 naming the field that is wrong: `raise bad_request("role", "must be …")`."""
    return json_error(web.HTTPBadRequest, f"{field}: {message}", field=field)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; 400 if it is not one, 413 if it is too large."""
    raw = await request.read()
    if not raw.strip():
        raise bad_request("body", "expected a JSON object, got nothing")
    try:
        value = json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        raise bad_request("body", "not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request("body", "must be a JSON object")
    return value


# --- middlewares, outermost first --------------------------------------------------------


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, and bind it to every log event made while handling it."""
    structlog.contextvars.clear_contextvars()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return await handler(request)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: every response, errors and streams included, carries the id."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON `{"error": …}` with its status; a crash as a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:  # redirects and 304 Not Modified are not errors
            raise
        return _as_json(request, error)
    # The one place a catch-all belongs: the outermost guard logs what went wrong and
    # tells the client nothing about it.
    except Exception:
        log.exception("unhandled error", method=request.method, path=request.path)
        return web.json_response({"error": "internal error"}, status=500)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let the request through only with a credential whose role the handler allows."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        raise match_info.http_exception  # 404 or 405: nothing to authorise
    required = required_role(match_info.handler)
    if required is None:
        return await handler(request)
    who = await identify(request)
    if who is None:
        raise json_error(
            web.HTTPUnauthorized,
            "missing, unknown or revoked access token",
            headers={hdrs.WWW_AUTHENTICATE: "Bearer"},
        )
    if not who.role.allows(required):
        raise json_error(
            web.HTTPForbidden, f"needs the {required.value} role; this token is {who.role.value}"
        )
    request[CALLER] = who
    structlog.contextvars.bind_contextvars(token_id=who.token_id)
    return await handler(request)


MIDDLEWARES = (request_context, json_errors, authenticate)


def _as_json(request: web.Request, error: web.HTTPException) -> web.Response:
    if error.content_type == "application/json" and error.text:
        body = error.text  # made by json_error: already in shape
    else:
        body = json.dumps({"error": _message(request, error)})
    response = web.Response(status=error.status, text=body, content_type="application/json")
    for name, value in error.headers.items():  # Allow, WWW-Authenticate, Retry-After, …
        if name.lower() not in ("content-type", "content-length"):
            response.headers.add(name, value)
    return response


def _message(request: web.Request, error: web.HTTPException) -> str:
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].service.max_request_kb
        return f"request body too large (limit {limit} KB)"
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return f"method {error.method} not allowed here (allowed: {allowed})"
    return error.reason.lower()


# --- access log --------------------------------------------------------------------------


# Paths whose last part is a capability (an e-mail answer link's token): never logged.
_SECRET_PATH_PREFIXES = ("/answer/",)


def _loggable_path(path: str) -> str:
    for prefix in _SECRET_PATH_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "…"
    return path


class StructuredAccessLogger(AbstractAccessLogger):
    """aiohttp's access log as one structured event per request (rendered by structlog's
    handler on the root logger): method, path without the query string, status,
    duration_ms and request_id."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields: dict[str, Any] = {
            "method": request.method,
            "path": _loggable_path(request.path),
            "status": response.status,
            "duration_ms": round(time * 1000, 1),
        }
        request_id = request.get(REQUEST_ID)
        if request_id is not None:
            fields["request_id"] = request_id
        self.logger.info("request", extra=fields)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
