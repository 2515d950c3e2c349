"""A drill schedule's input: the API body (and the command line's) checked field by field,
the drill it declares, and its next run time."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dispatcher.clock import to_millis
from dispatcher.declarations import Declaration, DeclarationError
from dispatcher.domain.drill_schedule import ScheduleError, next_cron_time, parse_at, parse_cron
from dispatcher.store.drill_schedules import DrillSchedule

FIELDS = ("title", "scope", "message", "announced", "options", "at", "cron")


class ScheduleInputError(ValueError):
    """Bad input for a schedule; `field` names what is wrong (for a 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def declaration_of(schedule: DrillSchedule | Mapping[str, Any], due_ms: int | None) -> Declaration:
    """The drill a schedule declares (due at `due_ms`: its idempotency key)."""
    row = schedule if isinstance(schedule, Mapping) else dataclasses.asdict(schedule)
    body: dict[str, Any] = {
        "kind": "drill",
        "title": row["title"],
        "message": row["message"],
        "scope": row["scope"],
        "options": row["options"],
    }
    if due_ms is not None:
        body["idempotency_key"] = f"schedule:{row['id']}:{due_ms}"
    try:
        return Declaration.from_json(body)
    except DeclarationError as error:
        raise ScheduleInputError(error.field, str(error).partition(": ")[2]) from None


def validated(body: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """`base` (the stored fields, or defaults) changed by `body`; ScheduleInputError."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ScheduleInputError(unknown[0], "unknown field")
    fields = dict(base)
    for name in ("title", "message", "scope"):
        if name in body:
            fields[name] = body[name]
    if "announced" in body:
        if not isinstance(body["announced"], bool):
            raise ScheduleInputError("announced", "must be true or false")
        fields["announced"] = body["announced"]
    if "options" in body:
        fields["options"] = _options(body["options"])
    fields.update(_timing(body))
    if fields.get("run_at") is None and fields.get("cron") is None:
        raise ScheduleInputError("at", "give a time (at) or a cron expression (cron)")
    declaration = declaration_of(fields, None)  # checks title, message and scope
    fields.update(
        title=declaration.title, message=declaration.message, scope=declaration.scope.as_json()
    )
    return fields


def _timing(body: Mapping[str, Any]) -> dict[str, Any]:
    """`run_at` and `cron` from the body's `at` or `cron`; nothing if it has neither."""
    if "at" in body and "cron" in body:
        raise ScheduleInputError("cron", "give either at or cron, not both")
    try:
        if "at" in body:
            if not isinstance(body["at"], str):
                raise ScheduleInputError("at", "must be an ISO 8601 date and time")
            return {"run_at": to_millis(parse_at(body["at"])), "cron": None}
        if "cron" in body:
            if not isinstance(body["cron"], str):
                raise ScheduleInputError("cron", "must be a 5-field cron expression")
            return {"run_at": None, "cron": parse_cron(body["cron"]).expression}
    except ScheduleError as error:
        raise ScheduleInputError(error.field, str(error).partition(": ")[2]) from None
    return {}


def _options(value: Any) -> dict[str, Any]:
    """The drill's options as given; the declaration checks them (reserves, gap_reports, …)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScheduleInputError("options", "must be an object")
    return dict(value)


def next_run(run_at: int | None, cron: str | None, after: datetime) -> int | None:
    """The next run strictly after `after`: a one-off's time if later, else the cron's next."""
    if cron is not None:
        return to_millis(next_cron_time(parse_cron(cron), after))
    return run_at if run_at is not None and run_at > to_millis(after) else None
