"""`create_app(settings)`: the one application factory, used by `dispatcher serve` and by tests.

Resources (the database now; channels, the dispatcher worker and the scheduler later) are
opened and closed in `app.cleanup_ctx`, in `RESOURCES` order and closed in reverse; each is
an async generator that opens, stores itself under its `AppKey`, yields, and closes. Route
modules each have `add_routes(app)`, listed in `ROUTES`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

from aiohttp import web

from dispatcher.answer_desk import AnswerDesk
from dispatcher.approvals import Approvals
from dispatcher.callup_messages import CallUpMessages
from dispatcher.channels import open_channels
from dispatcher.clock import Clock, SystemClock
from dispatcher.declarations import Activations, RosterCache
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.answer_links import AnswerLinks
from dispatcher.domain.escalation import EscalationRules
from dispatcher.escalator import Escalator
from dispatcher.gap_reports import GapReporter
from dispatcher.metrics import Metrics
from dispatcher.reserves import ReserveCaller
from dispatcher.scheduled_drills import ScheduledDrills
from dispatcher.settings import Settings
from dispatcher.stand_down import StandDowns
from dispatcher.status_cache import StatusCache
from dispatcher.store.access_tokens import AccessTokens
from dispatcher.store.answer_links import answer_link_key
from dispatcher.store.database import Database
from dispatcher.templates import load_templates
from dispatcher.web import (
    ACCESS_TOKENS,
    ACTIVATIONS,
    ANSWER_DESK,
    ANSWER_LINKS,
    APPROVALS,
    CALLUP_MESSAGES,
    CLOCK,
    DATABASE,
    DISPATCHER,
    DRILL_SCHEDULES,
    ESCALATOR,
    GAP_REPORTER,
    METRICS,
    SETTINGS,
    STAND_DOWNS,
    STATUS_CACHE,
    routes_activations,
    routes_answer_page,
    routes_audit,
    routes_dashboard,
    routes_exports,
    routes_health,
    routes_metrics,
    routes_openapi,
    routes_report,
    routes_roster,
    routes_sandbox,
    routes_schedules,
    routes_tokens,
    routes_training,
    routes_webhooks,
)
from dispatcher.web.auth import AUTHENTICATORS, Authenticator, bearer_token
from dispatcher.web.middleware import MIDDLEWARES, StructuredAccessLogger, echo_request_id
from dispatcher.web.session import add_session_authentication

Resource = Callable[[web.Application], AsyncIterator[None]]


async def database(app: web.Application) -> AsyncIterator[None]:
    db = await Database.open(app[SETTINGS].service.database)
    app[DATABASE] = db
    app[STATUS_CACHE] = StatusCache(db)
    try:
        yield
    finally:
        await db.close()


async def access_tokens(app: web.Application) -> AsyncIterator[None]:
    tokens = AccessTokens(app[DATABASE], app[CLOCK])
    app[ACCESS_TOKENS] = tokens
    yield
    await tokens.close()


async def dispatch(app: web.Application) -> AsyncIterator[None]:
    """The channels, the dispatcher worker that feeds them, and the declaration service."""
    settings, db, clock = app[SETTINGS], app[DATABASE], app[CLOCK]
    key = await answer_link_key(db, settings.service.secret_key)
    links = AnswerLinks(settings.service.public_url, key)
    app[ANSWER_LINKS] = links
    messages = CallUpMessages(
        load_templates(settings.service.language),
        settings.service.municipality,
        answer_links=links,
    )
    sms, email = await open_channels(settings, db, clock=clock)
    dispatcher = Dispatcher(
        db,
        sms,
        email,
        clock,
        sms_rate=settings.sms.rate_per_second,
        email_rate=settings.email.rate_per_second,
        composer=messages,
        metrics=app[METRICS],
    )
    app[DISPATCHER] = dispatcher
    app[CALLUP_MESSAGES] = messages
    rosters = RosterCache(db)
    app[ACTIVATIONS] = Activations(
        db, settings, clock, messages, wake=dispatcher.wake, rosters=rosters
    )
    rules = EscalationRules.from_settings(settings.escalation)
    escalator = Escalator(
        db,
        clock,
        messages,
        rules,
        wake_dispatcher=dispatcher.wake,
        reserves=ReserveCaller(
            db, messages, rosters, rules, valid_training_terms=settings.training.valid_terms
        ),
    )
    app[ESCALATOR] = escalator
    desk = AnswerDesk(
        db,
        clock,
        messages,
        release_surplus=settings.escalation.surplus == "release",
        on_answer=escalator.wake,
        metrics=app[METRICS],
    )
    app[ANSWER_DESK] = desk
    try:
        await dispatcher.start()
        await desk.start()
        await escalator.start()
        yield
    finally:
        await escalator.stop()
        await desk.stop()
        await dispatcher.stop()
        await sms.close()
        await email.close()


async def stand_downs(app: web.Application) -> AsyncIterator[None]:
    """Standing activations down (needs the dispatcher, to wake it for the notices)."""
    app[STAND_DOWNS] = StandDowns(
        app[DATABASE], app[CLOCK], app[CALLUP_MESSAGES], wake=app[DISPATCHER].wake
    )
    yield


async def approvals(app: web.Application) -> AsyncIterator[None]:
    """Approving crises under the two-person rule (plans with the declaration service)."""
    app[APPROVALS] = Approvals(
        app[DATABASE], app[SETTINGS], app[CLOCK], app[ACTIVATIONS], wake=app[DISPATCHER].wake
    )
    yield


async def gap_reports(app: web.Application) -> AsyncIterator[None]:
    """Gap reports to the crisis team: what is due at start-up, then on their own timer.

    The timer is an APScheduler interval job (`GapReporter.tick`); when the escalation
    worker's scheduler exists, the job can move there and this resource keep only the
    catch-up at start.
    """
    settings = app[SETTINGS]
    reporter = GapReporter(
        app[DATABASE],
        app[CLOCK],
        app[CALLUP_MESSAGES],
        settings.crisis_team,
        every=timedelta(minutes=settings.escalation.gap_report_every_minutes),
        wake=app[DISPATCHER].wake,
    )
    app[GAP_REPORTER] = reporter
    await reporter.start()
    try:
        yield
    finally:
        await reporter.stop()


async def drill_schedules(app: web.Application) -> AsyncIterator[None]:
    """Scheduled drills: what fell due while down runs (or is missed) at start, then on time."""
    drills = ScheduledDrills(
        app[DATABASE],
        app[CLOCK],
        app[ACTIVATIONS],
        grace=timedelta(minutes=app[SETTINGS].drills.missed_grace_minutes),
    )
    app[DRILL_SCHEDULES] = drills
    await drills.start()
    try:
        yield
    finally:
        await drills.stop()


RESOURCES: Sequence[Resource] = (
    database,
    access_tokens,
    dispatch,
    stand_downs,
    approvals,
    gap_reports,
    drill_schedules,
)

ROUTES: Sequence[Callable[[web.Application], None]] = (
    routes_health.add_routes,
    routes_tokens.add_routes,
    routes_activations.add_routes,
    routes_roster.add_routes,
    routes_training.add_routes,
    routes_webhooks.add_routes,
    routes_answer_page.add_routes,
    routes_audit.add_routes,
    routes_metrics.add_routes,
    routes_sandbox.add_routes,
    routes_openapi.add_routes,
    routes_report.add_routes,
    routes_exports.add_routes,
    routes_schedules.add_routes,
    routes_dashboard.add_routes,
)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """The web app, not yet started: its resources open when it starts (runner or test client)."""
    app = web.Application(
        middlewares=MIDDLEWARES,
        client_max_size=settings.service.max_request_kb * 1024,
        # The app's own access logger, whoever runs it (`run_app`, a runner, the test client).
        handler_args={"access_log_class": StructuredAccessLogger},
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock if clock is not None else SystemClock()
    app[METRICS] = Metrics()
    authenticators: list[Authenticator] = [bearer_token]
    app[AUTHENTICATORS] = authenticators
    add_session_authentication(app)  # the dashboard's cookie, after the bearer token
    app.on_response_prepare.append(echo_request_id)
    app.cleanup_ctx.extend(RESOURCES)
    for add_routes in ROUTES:
        add_routes(app)
    return app
