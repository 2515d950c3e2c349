"""The crisis room's dashboard: sign-in and sign-out, the pages, and their static files.

Pages need a viewer (the session cookie from `/dashboard/login`, or a bearer token); the
leaders' controls are shown to leaders only, and the API refuses them to anyone else
anyway. Sign-in and sign-out are public forms, refused when the browser says they come
from another site. Static files are public: they hold no data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

import structlog
from aiohttp import web
from multidict import MultiDictProxy

from dispatcher.domain.access import AccessRole
from dispatcher.domain.readiness import readiness_to_dict
from dispatcher.store import activations, drill_schedules
from dispatcher.web import ACCESS_TOKENS, CLOCK, DATABASE, SETTINGS, STATUS_CACHE
from dispatcher.web.auth import caller, public, requires
from dispatcher.web.dashboard_forms import declare_page, readiness_page
from dispatcher.web.dashboard_layout import (
    STOCKHOLM,
    login_page,
    message_page,
)
from dispatcher.web.dashboard_pages import activation_page, activations_page
from dispatcher.web.routes_activations import in_precedence
from dispatcher.web.routes_roster import audited_readiness
from dispatcher.web.schedule_pages import DRILLS_PATH, schedules_page
from dispatcher.web.session import (
    DASHBOARD_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    STATIC_PREFIX,
    end_session,
    from_this_site,
    safe_next,
    session_caller,
    start_session,
)

log = structlog.get_logger(__name__)

STATIC_TYPES: Final = {
    "dashboard.css": "text/css",
    "call-list.css": "text/css",
    "dashboard.js": "text/javascript",
    "activation.js": "text/javascript",
    "chart.js": "text/javascript",
    "activations.js": "text/javascript",
    "declare.js": "text/javascript",
    "schedules.js": "text/javascript",
    "schedules.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
"""The files under `dispatcher/web/static/` that are served, with their content types."""

UNKNOWN_KEY_TEXT = "Nyckeln känns inte igen, eller är återkallad. Kontrollera den och försök igen."
OTHER_SITE = "Inloggningen kom från en annan webbplats och togs inte emot."


def _municipality(request: web.Request) -> str:
    return request.app[SETTINGS].service.municipality


def _redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


# --- sign-in and sign-out ----------------------------------------------------------------


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    """The sign-in form; straight on to the dashboard for someone already signed in."""
    next_path = safe_next(request.query.get("next"))
    if await session_caller(request) is not None:
        raise _redirect(next_path)
    return login_page(municipality=_municipality(request), next_path=next_path)


@public
async def login(request: web.Request) -> web.StreamResponse:
    """Check the token from the form; on success set the session cookie and go on (303)."""
    form: MultiDictProxy[Any] = await request.post()
    next_path = safe_next(str(form.get("next", "")))
    municipality = _municipality(request)
    if not from_this_site(request):
        return login_page(
            municipality=municipality, next_path=next_path, error=OTHER_SITE, status=403
        )
    secret = str(form.get("token", "")).strip()
    token = await request.app[ACCESS_TOKENS].authenticate(secret) if secret else None
    if token is None:
        log.info("dashboard sign-in refused")
        return login_page(
            municipality=municipality, next_path=next_path, error=UNKNOWN_KEY_TEXT, status=401
        )
    log.info("dashboard sign-in", token_id=token.id, role=token.role.value)
    response = _redirect(next_path)
    start_session(response, request.app[SETTINGS], secret)
    raise response


@public
async def logout(request: web.Request) -> web.StreamResponse:
    """Forget the session cookie and show the sign-in form (303)."""
    if not from_this_site(request):
        return message_page(
            "Inte utloggad",
            "Utloggningen kom från en annan webbplats och togs inte emot.",
            who=None,
            municipality=_municipality(request),
            status=403,
        )
    response = _redirect(LOGIN_PATH)
    end_session(response, request.app[SETTINGS])
    raise response


# --- pages -------------------------------------------------------------------------------


@requires(AccessRole.VIEWER)
async def activations_list(request: web.Request) -> web.StreamResponse:
    """Every activation, open ones first (a crisis before a drill), with confirmed of needed."""
    records = in_precedence(await activations.list_activations(request.app[DATABASE]))
    cache_ = request.app[STATUS_CACHE]
    rows = []
    for record in records:
        current = await cache_.get(record.id)
        totals = json.loads(current.body)["totals"] if current is not None else {}
        rows.append((record, totals))
    return activations_page(rows, who=caller(request), municipality=_municipality(request))


@requires(AccessRole.VIEWER)
async def activation(request: web.Request) -> web.StreamResponse:
    """One activation for the wall screen."""
    activation_id = request.match_info["id"]
    record = await activations.get_activation(request.app[DATABASE], activation_id)
    current = await request.app[STATUS_CACHE].get(activation_id)
    who = caller(request)
    if record is None or current is None:
        return message_page(
            "Hittades inte",
            "Det finns ingen sådan utlarmning.",
            who=who,
            municipality=_municipality(request),
            status=404,
        )
    now = request.app[CLOCK].now().astimezone(STOCKHOLM)
    return activation_page(
        record,
        json.loads(current.body),
        who=who,
        municipality=_municipality(request),
        can_act=who.role.allows(AccessRole.LEADER),
        updated_at=now.strftime("%H:%M:%S"),
        etag=current.etag,
    )


@requires(AccessRole.VIEWER)
async def readiness(request: web.Request) -> web.StreamResponse:
    """Readiness before any crisis, units at risk first: the report `GET
    /api/roster/readiness` serves, read the same way and audited the same way."""
    report = await audited_readiness(request)
    return readiness_page(
        readiness_to_dict(report), who=caller(request), municipality=_municipality(request)
    )


@requires(AccessRole.VIEWER)
async def declare(request: web.Request) -> web.StreamResponse:
    """The declaration form, for leaders (a viewer is told it is not theirs to use)."""
    who = caller(request)
    municipality = _municipality(request)
    if not who.role.allows(AccessRole.LEADER):
        return message_page(
            "Endast för ledare",
            "Att larma ut kräver rollen ledare. Din nyckel har rollen läsare.",
            who=who,
            municipality=municipality,
            status=403,
        )
    units = await _scope_choices(request)
    return declare_page(
        units,
        who=who,
        municipality=municipality,
        two_person_approval=request.app[SETTINGS].escalation.two_person_approval,
    )


@requires(AccessRole.VIEWER)
async def drills(request: web.Request) -> web.StreamResponse:
    """Scheduled drills; leaders also get the form to plan one and the cancel buttons."""
    who = caller(request)
    return schedules_page(
        await drill_schedules.list_all(request.app[DATABASE]),
        await _scope_choices(request),
        who=who,
        municipality=_municipality(request),
        can_schedule=who.role.allows(AccessRole.LEADER),
    )


async def _scope_choices(request: web.Request) -> list[dict[str, str]]:
    """The roster's units, for the declaration form (without loading every person)."""
    rows = await request.app[DATABASE].fetch_all(
        "SELECT unit_id, name, service, area FROM units ORDER BY area, name, unit_id"
    )
    return [{key: str(row[key]) for key in ("unit_id", "name", "service", "area")} for row in rows]


# --- static files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


@cache
def static_file(name: str) -> StaticFile | None:
    """A dashboard asset from the package (read once), or None if it is not one."""
    content_type = STATIC_TYPES.get(name)
    if content_type is None:
        return None
    body = resources.files("dispatcher.web").joinpath("static", name).read_bytes()
    return StaticFile(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


@public
async def static(request: web.Request) -> web.StreamResponse:
    """A script or style sheet; revalidated on every load (304 when unchanged)."""
    found = static_file(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    headers = {
        "ETag": found.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if found.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=found.body, content_type=found.content_type, charset="utf-8", headers=headers
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(LOGIN_PATH, login_form)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post(LOGOUT_PATH, logout)
    app.router.add_get(DASHBOARD_PATH, activations_list)
    app.router.add_get(f"{DASHBOARD_PATH}/activations/{{id}}", activation)
    app.router.add_get(f"{DASHBOARD_PATH}/readiness", readiness)
    app.router.add_get(f"{DASHBOARD_PATH}/declare", declare)
    app.router.add_get(DRILLS_PATH, drills)
    app.router.add_get(STATIC_PREFIX + "{name}", static)
