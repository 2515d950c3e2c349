"""Who may call a handler, and who is calling.

Mark every handler with `@requires(AccessRole.…)` or `@public`; an unmarked handler needs
an admin, so a forgotten mark fails closed. The `authenticate` middleware
(`dispatcher.web.middleware`) asks the app's authenticators, in order, who the caller is and
stores the answer on the request under `CALLER`; handlers read it with `caller(request)`.

Authenticators are the hook for other credentials: the bearer token is the only one now;
a dashboard session cookie can be added later with `add_authenticator(app, …)` (such an
authenticator must also guard unsafe methods against cross-site requests, as a cookie is
sent by the browser on its own).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from aiohttp import hdrs, web

from dispatcher.domain.access import AccessRole, Caller
from dispatcher.web import ACCESS_TOKENS

Authenticator = Callable[[web.Request], Awaitable[Caller | None]]
"""Returns the caller its credential names, or None if the request carries none it accepts."""

AUTHENTICATORS: web.AppKey[list[Authenticator]] = web.AppKey("authenticators")
CALLER = web.RequestKey("caller", Caller)

_Handler = TypeVar("_Handler", bound=Callable[..., Any])

_MARK: Final = "__krisdispatch_access__"


@dataclass(frozen=True, slots=True)
class _AccessMark:
    role: AccessRole | None  # None: public


def requires(role: AccessRole) -> Callable[[_Handler], _Handler]:
    """Mark a handler as needing a token whose role allows `role`."""

    def mark(handler: _Handler) -> _Handler:
        return _set_mark(handler, _AccessMark(role))

    return mark


def public(handler: _Handler) -> _Handler:
    """Mark a handler as open to everyone, without a token."""
    return _set_mark(handler, _AccessMark(None))


def required_role(handler: Callable[..., Any]) -> AccessRole | None:
    """The role a handler needs; None if it is public; admin if it carries no mark."""
    mark = getattr(handler, _MARK, None)
    if isinstance(mark, _AccessMark):
        return mark.role
    return AccessRole.ADMIN


def _set_mark(handler: _Handler, mark: _AccessMark) -> _Handler:
    if hasattr(handler, _MARK):
        raise TypeError(f"{handler.__qualname__} already has an access mark")
    setattr(handler, _MARK, mark)
    return handler


def caller(request: web.Request) -> Caller:
    """The authenticated caller of a handler marked with `requires`."""
    try:
        return request[CALLER]
    except KeyError:
        raise RuntimeError(
            "caller() used in a handler that is not marked with requires()"
        ) from None


def add_authenticator(app: web.Application, authenticator: Authenticator) -> None:
    """Accept another kind of credential, tried after those already there."""
    app[AUTHENTICATORS].append(authenticator)


async def identify(request: web.Request) -> Caller | None:
    """The caller, according to the first of the app's authenticators that knows them."""
    for authenticator in request.app[AUTHENTICATORS]:
        found = await authenticator(request)
        if found is not None:
            return found
    return None


async def bearer_token(request: web.Request) -> Caller | None:
    """`Authorization: Bearer TOKEN`, checked against the live access tokens."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        return None
    token = await request.app[ACCESS_TOKENS].authenticate(secret)
    if token is None:
        return None
    return Caller(token_id=token.id, name=token.name, role=token.role)
