"""The HTTP side: the app factory (`dispatcher.web.app.create_app`), middlewares and routes.

The application's typed state keys live here, not in `app.py`, so that every route module
can import them without importing the factory that imports the route modules.
"""

from __future__ import annotations

from aiohttp import web

from dispatcher.answer_desk import AnswerDesk
from dispatcher.approvals import Approvals
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock
from dispatcher.declarations import Activations
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.answer_links import AnswerLinks
from dispatcher.escalator import Escalator
from dispatcher.gap_reports import GapReporter
from dispatcher.metrics import Metrics
from dispatcher.scheduled_drills import ScheduledDrills
from dispatcher.settings import Settings
from dispatcher.stand_down import StandDowns
from dispatcher.status_cache import StatusCache
from dispatcher.store.access_tokens import AccessTokens
from dispatcher.store.database import Database

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
DATABASE = web.AppKey("database", Database)
"""Set while the app runs (opened in `cleanup_ctx`); not there before start-up."""
ACCESS_TOKENS = web.AppKey("access_tokens", AccessTokens)
"""Set while the app runs, like DATABASE."""

DISPATCHER = web.AppKey("dispatcher", Dispatcher)
"""The background worker that sends outbox messages; set while the app runs."""
STATUS_CACHE = web.AppKey("status_cache", StatusCache)
"""Status bodies counted once per change; set while the app runs."""
ANSWER_DESK = web.AppKey("answer_desk", AnswerDesk)
"""Stores, applies and answers inbound SMS and e-mail answers; set while the app runs."""
ACTIVATIONS = web.AppKey("activations", Activations)
"""Declares activations; set while the app runs."""
CALLUP_MESSAGES = web.AppKey("callup_messages", CallUpMessages)
"""Renders call-up messages (the e-mail that replaces a refused SMS); set while the app runs."""
ANSWER_LINKS = web.AppKey("answer_links", AnswerLinks)
"""Signs and reads the answer links in call-up e-mails; set while the app runs."""
STAND_DOWNS = web.AppKey("stand_downs", StandDowns)
"""Stands activations down; set while the app runs."""
ESCALATOR = web.AppKey("escalator", Escalator)
"""Chases silence and calls reserves (`tick()`, `wake()`); set while the app runs."""
GAP_REPORTER = web.AppKey("gap_reporter", GapReporter)
"""Sends gap reports to the crisis team on its own timer; set while the app runs."""
APPROVALS = web.AppKey("approvals", Approvals)
"""Approves crises under the two-person rule; set while the app runs."""
METRICS = web.AppKey("metrics", Metrics)
"""The app's own Prometheus registry and counters; set by `create_app`."""
DRILL_SCHEDULES = web.AppKey("drill_schedules", ScheduledDrills)
"""Schedules and runs drills at their time; set while the app runs."""

__all__ = [
    "ACCESS_TOKENS",
    "ACTIVATIONS",
    "ANSWER_DESK",
    "ANSWER_LINKS",
    "APPROVALS",
    "CALLUP_MESSAGES",
    "CLOCK",
    "DATABASE",
    "DISPATCHER",
    "DRILL_SCHEDULES",
    "ESCALATOR",
    "GAP_REPORTER",
    "METRICS",
    "SETTINGS",
    "STAND_DOWNS",
    "STATUS_CACHE",
]
