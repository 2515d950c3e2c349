"""The roster over HTTP: the readiness and data-quality report."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.readiness import ReadinessReport, assess_readiness, readiness_to_dict
from dispatcher.store.callups import refused_contacts
from dispatcher.store.training import load_roster_with_training
from dispatcher.web import CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import requires
from dispatcher.web.routes_audit import audit_actor

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@requires(AccessRole.VIEWER)
async def readiness(request: web.Request) -> web.Response:
    """Per unit needed, placed, reachable, trained, reserves and gap; people needing attention."""
    return web.json_response(readiness_to_dict(await audited_readiness(request)))


async def audited_readiness(request: web.Request) -> ReadinessReport:
    """Today's readiness report (Stockholm date). It lists people, so the read is audited.
    The API and the dashboard's readiness page both read it here."""
    db = request.app[DATABASE]
    now = request.app[CLOCK].now()
    report = assess_readiness(
        await load_roster_with_training(db),
        today=now.astimezone(STOCKHOLM).date(),
        valid_terms=request.app[SETTINGS].training.valid_terms,
        refused=await refused_contacts(db),
    )
    await audit.record(
        db,
        audit_actor(request),
        audit.READINESS_READ,
        at_ms=to_millis(now),
        detail={"people": report.totals.people},
    )
    return report


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/roster/readiness", readiness)
