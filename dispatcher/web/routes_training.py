"""Training over HTTP: who still needs a training week this term, per host unit."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.training_plan import plan_training, training_plan_to_dict
from dispatcher.store.training import load_roster_with_training
from dispatcher.web import CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import requires
from dispatcher.web.routes_audit import audit_actor

STOCKHOLM = ZoneInfo("Europe/Stockholm")  # terms follow the Swedish calendar
TRAINING_NEEDS_READ = "training_needs.read"


@requires(AccessRole.VIEWER)
async def training_needs(request: web.Request) -> web.Response:
    """The training plan for the current term (`dispatcher.domain.training_plan`).

    Lists people, so every read is audited."""
    db = request.app[DATABASE]
    now = request.app[CLOCK].now()
    plan = plan_training(
        await load_roster_with_training(db),
        now.astimezone(STOCKHOLM).date(),
        request.app[SETTINGS].training.valid_terms,
    )
    await audit.record(
        db,
        audit_actor(request),
        TRAINING_NEEDS_READ,
        at_ms=to_millis(now),
        detail={"people": plan.people, "term": str(plan.term)},
    )
    return web.json_response(training_plan_to_dict(plan))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/roster/training-needs", training_needs)
