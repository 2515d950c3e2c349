"""Scheduled drills over HTTP: schedule, list, change, cancel (leaders change, viewers read)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dispatcher.clock import from_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.drill_schedule import stockholm_text
from dispatcher.drill_schedule_input import ScheduleInputError
from dispatcher.scheduled_drills import NotScheduled, UnknownSchedule
from dispatcher.store import drill_schedules
from dispatcher.store.drill_schedules import DrillSchedule
from dispatcher.web import DATABASE, DRILL_SCHEDULES
from dispatcher.web.auth import requires
from dispatcher.web.middleware import bad_request, json_error, read_json
from dispatcher.web.routes_audit import audit_actor


def _time(millis: int | None) -> str | None:
    if millis is None:
        return None
    return from_millis(millis).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def schedule_json(schedule: DrillSchedule) -> dict[str, Any]:
    """A schedule as the API and `dispatcher drills list --json` show it; times UTC."""
    return {
        "id": schedule.id,
        "title": schedule.title,
        "scope": schedule.scope,
        "message": schedule.message,
        "announced": schedule.announced,
        "options": schedule.options,
        "at": _time(schedule.run_at),
        "cron": schedule.cron,
        "timezone": "Europe/Stockholm",
        "state": schedule.state,
        "next_run_at": _time(schedule.next_run_at),
        "next_run_local": (
            None
            if schedule.next_run_at is None
            else stockholm_text(from_millis(schedule.next_run_at))
        ),
        "last_run_at": _time(schedule.last_run_at),
        "last_activation_id": schedule.last_activation_id,
        "last_missed_at": _time(schedule.last_missed_at),
        "created_by": schedule.created_by,
        "created_at": _time(schedule.created_at),
    }


def _schedule_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not text.isdigit() or len(text) > 18:
        raise json_error(web.HTTPNotFound, f"no drill schedule {text!r}")
    return int(text)


@requires(AccessRole.LEADER)
async def create(request: web.Request) -> web.Response:
    body = await read_json(request)
    try:
        schedule = await request.app[DRILL_SCHEDULES].create(body, audit_actor(request))
    except ScheduleInputError as error:
        raise bad_request(error.field, str(error).partition(": ")[2]) from None
    return web.json_response(schedule_json(schedule), status=201)


@requires(AccessRole.VIEWER)
async def list_all(request: web.Request) -> web.Response:
    schedules = await drill_schedules.list_all(request.app[DATABASE])
    return web.json_response({"drill_schedules": [schedule_json(s) for s in schedules]})


@requires(AccessRole.LEADER)
async def change(request: web.Request) -> web.Response:
    schedule_id = _schedule_id(request)
    body = await read_json(request)
    try:
        schedule = await request.app[DRILL_SCHEDULES].change(
            schedule_id, body, audit_actor(request)
        )
    except UnknownSchedule:
        raise json_error(web.HTTPNotFound, f"no drill schedule {schedule_id}") from None
    except NotScheduled as error:
        raise json_error(web.HTTPConflict, str(error), state=error.state) from None
    except ScheduleInputError as error:
        raise bad_request(error.field, str(error).partition(": ")[2]) from None
    return web.json_response(schedule_json(schedule))


@requires(AccessRole.LEADER)
async def cancel(request: web.Request) -> web.Response:
    schedule_id = _schedule_id(request)
    try:
        schedule = await request.app[DRILL_SCHEDULES].cancel(schedule_id, audit_actor(request))
    except UnknownSchedule:
        raise json_error(web.HTTPNotFound, f"no drill schedule {schedule_id}") from None
    except NotScheduled as error:
        raise json_error(web.HTTPConflict, str(error), state=error.state) from None
    return web.json_response(schedule_json(schedule))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/drill-schedules", create)
    app.router.add_get("/api/drill-schedules", list_all)
    app.router.add_patch("/api/drill-schedules/{id}", change)
    app.router.add_post("/api/drill-schedules/{id}/cancel", cancel)
