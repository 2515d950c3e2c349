"""The scheduled-drill operations and schemas (`SCHEDULE_OPERATIONS`, `SCHEDULE_SCHEMAS`),
which `dispatcher.web.openapi` adds to the catalogue in `openapi_operations`."""

from __future__ import annotations

from typing import Final

from dispatcher.web.openapi_operations import Operation
from dispatcher.web.openapi_schemas import (
    BOOLEAN,
    INTEGER,
    STRING,
    TIME,
    Json,
    array,
    error,
    json_body,
    nullable,
    record,
    ref,
)

_STATE: Final[Json] = {"type": "string", "enum": ["scheduled", "done", "cancelled", "missed"]}
_AT: Final[Json] = {
    "type": "string",
    "description": "ISO 8601 date and time; without an offset, Stockholm wall time",
    "example": "2026-03-02T09:00",
}
_CRON: Final[Json] = {
    "type": "string",
    "description": "5 fields (minute hour day month weekday), Stockholm time: `0 9 * * 1`",
    "example": "0 9 * * 1",
}
_REQUEST_FIELDS: Final[Json] = {
    "title": {"type": "string", "pattern": r"\S", "maxLength": 60},
    "message": {"type": ["string", "null"], "maxLength": 300},
    "scope": {"anyOf": [ref("ScopeRequest"), {"type": "null"}]},
    "announced": {**BOOLEAN, "description": "an announced drill; default false (unannounced)"},
    "options": {"anyOf": [ref("ActivationOptions"), {"type": "null"}]},
    "at": _AT,
    "cron": _CRON,
}

SCHEDULE_SCHEMAS: Final[Json] = {
    "DrillScheduleRequest": {
        "type": "object",
        "required": ["title"],
        "description": "give `at` (a one-off drill) or `cron` (a repeating one), not both",
        "properties": _REQUEST_FIELDS,
        "additionalProperties": False,
        "oneOf": [{"required": ["at"]}, {"required": ["cron"]}],
    },
    "DrillScheduleChange": {
        "type": "object",
        "description": "the fields to change; `at` or `cron` (not both) changes the time",
        "properties": _REQUEST_FIELDS,
        "additionalProperties": False,
        "not": {"required": ["at", "cron"]},
    },
    "DrillSchedule": record(
        id=INTEGER,
        title=STRING,
        scope=ref("Scope"),
        message=STRING,
        announced=BOOLEAN,
        options={"type": "object"},
        at=nullable(TIME),
        cron=nullable(STRING),
        timezone={"const": "Europe/Stockholm"},
        state=_STATE,
        next_run_at=nullable(TIME),
        next_run_local=nullable(STRING),
        last_run_at=nullable(TIME),
        last_activation_id=nullable(STRING),
        last_missed_at=nullable(TIME),
        created_by=STRING,
        created_at=TIME,
    ),
    "DrillScheduleList": record(drill_schedules=array(ref("DrillSchedule"))),
}


def _ok(description: str, schema: Json) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SCHEDULE_ID: Final[Json] = {
    "name": "id",
    "in": "path",
    "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    "description": "drill schedule id",
    "required": True,
    "example": 999999,
}
_NO_SCHEDULE: Final = error("no such drill schedule")
_NOT_SCHEDULED: Final = error("done, cancelled or missed: `state` says which")

SCHEDULE_OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "POST /api/drill-schedules",
        "scheduleDrill",
        "Schedule a drill at a Stockholm time (`at`) or on a cron expression (`cron`)",
        {201: _ok("scheduled", ref("DrillSchedule"))},
        body=json_body(ref("DrillScheduleRequest"), {"title": "Övning", "cron": "0 9 * * 1"}),
    ),
    Operation(
        "GET /api/drill-schedules",
        "listDrillSchedules",
        "Every drill schedule: the scheduled ones first, soonest first",
        {200: _ok("the schedules", ref("DrillScheduleList"))},
    ),
    Operation(
        "PATCH /api/drill-schedules/{id}",
        "changeDrillSchedule",
        "Change a scheduled drill: its time or cron, title, scope, message or options",
        {
            200: _ok("the changed schedule", ref("DrillSchedule")),
            404: _NO_SCHEDULE,
            409: _NOT_SCHEDULED,
        },
        parameters=(_SCHEDULE_ID,),
        body=json_body(ref("DrillScheduleChange"), {"title": "Övning"}),
    ),
    Operation(
        "POST /api/drill-schedules/{id}/cancel",
        "cancelDrillSchedule",
        "Cancel a scheduled drill: it runs no more (again: harmless)",
        {
            200: _ok("the cancelled schedule", ref("DrillSchedule")),
            404: _NO_SCHEDULE,
            409: _NOT_SCHEDULED,
        },
        parameters=(_SCHEDULE_ID,),
    ),
)
