"""The dashboard's sign-in cookie: set it, clear it, and authenticate requests by it.

Signing in (`routes_dashboard`) checks an access token and puts it in a cookie that is
`HttpOnly` (page scripts cannot read it), `SameSite=Strict` (the browser sends it only on
requests that start on this site), `Path=/` and, when `service.public_url` is https,
`Secure` with the `__Host-` name prefix (no other host or path can set or shadow it). The
cookie holds the token itself, so revoking the token ends every session at once; it lives
`SESSION_MAX_AGE` (a wall screen must not sign itself out in the middle of a crisis).

`session_cookie` is an authenticator (`dispatcher.web.auth.add_authenticator`): it serves
the dashboard's pages and the `/api/*` calls its scripts make with `fetch`. Cross-site
request forgery: besides SameSite=Strict, a request with an unsafe method (POST, …) that
is authenticated by the cookie must prove it comes from our own pages, by either
- the header `X-Requested-With: krisdispatch` (the dashboard's scripts send it): a
  cross-site form cannot send a custom header, and a cross-site `fetch` that sets one needs
  a CORS preflight that this service never grants; or
- `Sec-Fetch-Site: same-origin`, which browsers set themselves and no page can forge (so a
  plain HTML form of our own, like the sandbox phones' answer form, works in browsers that
  send it; an older browser that does not must use a script with the header).
Anything else is refused with 403. API clients with a bearer token are unaffected.

A dashboard page asked for without a usable cookie is redirected (303) to the sign-in form
rather than answered with the API's JSON 401: people, not scripts, open those pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from dispatcher.domain.access import Caller
from dispatcher.settings import Settings
from dispatcher.web import ACCESS_TOKENS, SETTINGS
from dispatcher.web.auth import add_authenticator
from dispatcher.web.middleware import json_error

DASHBOARD_PATH: Final = "/dashboard"
LOGIN_PATH: Final = "/dashboard/login"
LOGOUT_PATH: Final = "/dashboard/logout"
STATIC_PREFIX: Final = "/dashboard/static/"

CSRF_HEADER: Final = "X-Requested-With"
CSRF_VALUE: Final = "krisdispatch"

SESSION_MAX_AGE: Final = timedelta(days=7)

_PLAIN_NAME: Final = "krisdispatch_session"
_SECURE_NAME: Final = "__Host-krisdispatch_session"  # needs Secure, Path=/ and no Domain

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

# Where a sign-in may send the browser afterwards: a dashboard page of this site, nothing else.
# Pages people open in a browser: the dashboard and the sandbox phones.
_DASHBOARD_PAGE = re.compile(r"/(?:dashboard|sandbox)(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?")


def is_secure(settings: Settings) -> bool:
    """Whether people reach the service over https (then the cookie is `Secure`)."""
    return urlsplit(settings.service.public_url).scheme == "https"


def cookie_name(settings: Settings) -> str:
    return _SECURE_NAME if is_secure(settings) else _PLAIN_NAME


def start_session(response: web.StreamResponse, settings: Settings, secret: str) -> None:
    """Put a checked token into the session cookie."""
    response.set_cookie(
        cookie_name(settings),
        secret,
        max_age=int(SESSION_MAX_AGE.total_seconds()),
        path="/",
        secure=is_secure(settings),
        httponly=True,
        samesite="Strict",
    )


def end_session(response: web.StreamResponse, settings: Settings) -> None:
    """Tell the browser to forget the session cookie."""
    response.del_cookie(
        cookie_name(settings),
        path="/",
        secure=is_secure(settings),
        httponly=True,
        samesite="Strict",
    )


def safe_next(path: str | None) -> str:
    """Where to go after signing in: `path` if it is a dashboard or sandbox page, else the
    dashboard."""
    if path and _DASHBOARD_PAGE.fullmatch(path) and not path.startswith(STATIC_PREFIX):
        return path
    return DASHBOARD_PATH


def is_dashboard_page(request: web.Request) -> bool:
    """A page people open in the browser (not a script's API call, not a static file)."""
    path = request.path
    return (
        request.method in ("GET", "HEAD")
        and _DASHBOARD_PAGE.fullmatch(path) is not None
        and not path.startswith(STATIC_PREFIX)
    )


async def session_caller(request: web.Request) -> Caller | None:
    """The caller named by a live token in the session cookie, or None (no check of methods)."""
    secret = request.cookies.get(cookie_name(request.app[SETTINGS]), "")
    if not secret:
        return None
    token = await request.app[ACCESS_TOKENS].authenticate(secret)
    if token is None:
        return None
    return Caller(token_id=token.id, name=token.name, role=token.role)


async def session_cookie(request: web.Request) -> Caller | None:
    """Authenticator: the session cookie, with the cross-site rule for unsafe methods.

    Raises a redirect to the sign-in form for a dashboard page without a usable cookie,
    and 403 for an unsafe request authenticated by the cookie that shows no sign of coming
    from our own pages (see the module docstring)."""
    settings = request.app[SETTINGS]
    found = await session_caller(request)
    if found is None:
        if is_dashboard_page(request):
            redirect = web.HTTPSeeOther(URL(LOGIN_PATH).with_query(next=request.path))
            if cookie_name(settings) in request.cookies:  # revoked or garbage: drop it
                end_session(redirect, settings)
            raise redirect
        return None
    if request.method not in _SAFE_METHODS and not _from_our_pages(request):
        raise json_error(
            web.HTTPForbidden,
            f"a request signed in by the dashboard cookie that changes something must send"
            f" the header {CSRF_HEADER}: {CSRF_VALUE} (or come from this site's own pages)",
        )
    return found


def _from_our_pages(request: web.Request) -> bool:
    """An unsafe request carrying the cookie: did one of our own pages make it?"""
    return (
        request.headers.get(CSRF_HEADER) == CSRF_VALUE
        or request.headers.get("Sec-Fetch-Site") == "same-origin"
    )


def from_this_site(request: web.Request) -> bool:
    """False when the browser says the request started on another site (`Sec-Fetch-Site`).

    For the public sign-in and sign-out forms, which no cookie guards: nobody may sign a
    wall screen in as someone else, or out, from another site."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def add_session_authentication(app: web.Application) -> None:
    """Accept the dashboard's session cookie (after the bearer token)."""
    add_authenticator(app, session_cookie)
