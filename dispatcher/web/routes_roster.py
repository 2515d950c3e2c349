"""The roster over HTTP: the readiness and data-quality report."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from dispatcher.domain.access import AccessRole
from dispatcher.domain.readiness import assess_readiness, readiness_to_dict
from dispatcher.store.callups import refused_contacts
from dispatcher.store.roster_store import load_roster
from dispatcher.web import CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import requires

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@requires(AccessRole.VIEWER)
async def readiness(request: web.Request) -> web.Response:
    """Per unit needed, placed, reachable, trained, reserves and gap; people needing attention."""
    db = request.app[DATABASE]
    today = request.app[CLOCK].now().astimezone(STOCKHOLM).date()
    report = assess_readiness(
        await load_roster(db),
        today=today,
        valid_terms=request.app[SETTINGS].training.valid_terms,
        refused=await refused_contacts(db),
    )
    return web.json_response(readiness_to_dict(report))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/roster/readiness", readiness)
