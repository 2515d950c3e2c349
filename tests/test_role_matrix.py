"""Every route the app's router has × no token, an unknown token, a revoked token, and a live
token of each role.

Public routes answer whatever is presented. Protected ones refuse a missing, unknown or
revoked token (401; a dashboard page sends the browser to its sign-in form instead), give
403 to a role below theirs, and let every role at or above it through. "Through" is judged
by a minimal valid request (the document's examples; a signed form for Twilio's webhooks;
a real token for the sign-in form), so an unknown id's 404 counts as let through, and a
5xx fails.

The routes come from the router, so a new route is in the matrix the moment it exists;
only a page whose minimal request needs a body of its own needs an entry in `PAGE_FORMS`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import hdrs, web
from pytest_aiohttp import AiohttpClient

from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE
from dispatcher.web.app import create_app
from dispatcher.web.auth import required_role
from dispatcher.web.openapi import openapi_document
from tests.api_support import E_MAIL_ONLY, api_settings, twilio_signature
from tests.conftest import START

PUBLIC_URL = "https://kris.example.se"  # what webhooks are signed against; any will do
TWILIO_NOWHERE = "http://127.0.0.1:9"  # never called: nobody in E_MAIL_ONLY has a phone
LOGIN_PATH = "/dashboard/login"
ROLES = tuple(role.value for role in AccessRole)
CREDENTIALS = ("no token", "unknown token", "revoked token", *ROLES)
VIEWER_SECRET = "{viewer}"  # replaced by the test's live viewer token

PAGE_FORMS: dict[str, dict[str, str]] = {
    "POST /dashboard/login": {"token": VIEWER_SECRET},  # signing in needs a token that works
}
"""Form bodies for browser pages (not in the OpenAPI document) that need one to do anything."""
PAGE_ROLES: dict[str, AccessRole] = {
    "/dashboard/declare": AccessRole.LEADER,  # lets a viewer in to say, in HTML, it is not theirs
}
"""Pages that ask for more than their route's mark, refusing a lower role themselves (403)."""

_LISTING_APP = create_app(api_settings(Path("unopened.sqlite3"), PUBLIC_URL, TWILIO_NOWHERE))
DOCUMENT = openapi_document(_LISTING_APP)
HANDLERS = {
    f"{route.method} {route.resource.canonical}": route.handler
    for route in _LISTING_APP.router.routes()
    if route.resource is not None
}


def _documented(method: str, path: str) -> dict[str, Any]:
    """The route's operation in the document (HEAD is GET's); empty for a browser page."""
    operation = DOCUMENT["paths"].get(path, {}).get("get" if method == "HEAD" else method.lower())
    return operation or {}


def minimal_request(route: str, viewer: str) -> tuple[str, str, dict[str, Any]]:
    """Method, URL and aiohttp request arguments of the least request that does something."""
    method, _, path = route.partition(" ")
    operation = _documented(method, path)
    examples = {p["name"]: p["example"] for p in operation.get("parameters", []) if "example" in p}
    url = re.sub(r"\{(\w+)\}", lambda m: str(examples.get(m[1], "unknown")), path)
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return method, url, {"json": content["application/json"]["example"]}
    form = content.get("application/x-www-form-urlencoded", {}).get("example")
    if form is None:
        form = PAGE_FORMS.get(route)
    if form is None:
        return method, url, {}
    form = {name: viewer if value == VIEWER_SECRET else value for name, value in form.items()}
    headers = {}
    if {"twilioSignature": []} in operation.get("security", []):
        headers["X-Twilio-Signature"] = twilio_signature(PUBLIC_URL, url, form.items())
    return method, url, {"data": form, "headers": headers}


def verdict(status: int, location: str, *, public: bool) -> str:
    if status >= 500:
        return f"server error {status}"
    if status == 403:
        return "403"
    if status == 401 or (not public and status == 303 and location.startswith(LOGIN_PATH)):
        return "401"
    return "through"


def effective_role(route: str) -> AccessRole | None:
    """The role the route's mark asks for, or more where the page asks for more itself."""
    marked = required_role(HANDLERS[route])
    page = PAGE_ROLES.get(route.partition(" ")[2])
    return marked if page is None or marked is None else max(marked, page)


def expected(required: AccessRole | None, credential: str) -> str:
    if required is None:
        return "through"
    if credential not in ROLES:
        return "401"
    return "through" if AccessRole(credential).allows(required) else "403"


def test_the_matrix_covers_the_api_webhooks_and_pages() -> None:
    paths = {route.partition(" ")[2] for route in HANDLERS}
    assert {"/api/activations", "/webhooks/twilio/sms", "/healthz"} <= paths
    assert any(path.startswith("/sandbox") for path in paths)
    assert any(route.startswith("HEAD ") for route in HANDLERS)
    assert set(PAGE_FORMS) <= set(HANDLERS)
    for path, role in PAGE_ROLES.items():  # only pages, and only ever stricter than their mark
        assert not path.startswith(("/api/", "/webhooks/"))
        marked = required_role(HANDLERS[f"GET {path}"])
        assert marked is not None and marked <= role


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    settings = api_settings(tmp_path / "matrix.sqlite3", PUBLIC_URL, TWILIO_NOWHERE)
    return create_app(settings, clock=ManualClock(START))


@pytest.mark.parametrize("route", sorted(HANDLERS))
async def test_every_route_checks_token_and_role(
    aiohttp_client: AiohttpClient, app: web.Application, route: str
) -> None:
    client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
    await replace_roster(
        app[DATABASE], E_MAIL_ONLY, imported_by="test", source="test", warnings=0, imported_at_ms=0
    )
    store = app[ACCESS_TOKENS]
    live = {role.value: (await store.create(role.value, role)).secret for role in AccessRole}
    revoked = await store.create("former admin", AccessRole.ADMIN)
    await store.revoke(revoked.token.id)
    presented = {
        "no token": None,
        "unknown token": "kd_" + "A" * 43,
        "revoked token": revoked.secret,
        **live,
    }
    assert tuple(presented) == CREDENTIALS
    required = effective_role(route)

    seen: dict[str, str] = {}
    statuses: dict[str, int] = {}
    for credential, secret in presented.items():
        method, url, arguments = minimal_request(route, live["viewer"])
        headers = arguments.pop("headers", {})
        if secret is not None:
            headers[hdrs.AUTHORIZATION] = f"Bearer {secret}"
        async with client.request(
            method, url, headers=headers, allow_redirects=False, **arguments
        ) as response:
            await response.read()
            location = response.headers.get(hdrs.LOCATION, "")
            seen[credential] = verdict(response.status, location, public=required is None)
            statuses[credential] = response.status
            if response.status == 401 and not url.startswith("/dashboard"):
                assert response.headers[hdrs.WWW_AUTHENTICATE] == "Bearer"

    wanted = {credential: expected(required, credential) for credential in presented}
    assert seen == wanted, f"needs {required}; statuses {statuses}"
