"""The JSON shapes of activations, call-ups and status that the API and the CLI print."""

from __future__ import annotations

import sqlite3
from typing import Any

from dispatcher.clock import from_millis
from dispatcher.domain.coverage import Coverage
from dispatcher.store.activations import ActivationRecord

PROTECTED_NAME = "skyddad person"


def _time(millis: int | None) -> str | None:
    if millis is None:
        return None
    return from_millis(millis).isoformat().replace("+00:00", "Z")


def activation_json(record: ActivationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "title": record.title,
        "message": record.message,
        "scope": record.scope,
        "state": record.state,
        "reply_code": record.reply_code,
        "idempotency_key": record.idempotency_key,
        "declared_by": record.declared_by,
        "declared_at": _time(record.declared_at),
        "approved_by": record.approved_by,
        "approved_at": _time(record.approved_at),
        "stood_down_by": record.stood_down_by,
        "stood_down_at": _time(record.stood_down_at),
        "options": _options(record),
    }


def _options(record: ActivationRecord) -> dict[str, Any]:
    """What the activation does beyond calling people; report recipients by name only.
    (Activations stored before options existed have none: a crisis then did both.)"""
    options = record.options
    crisis = record.kind == "crisis"
    return {
        "reserves": bool(options.get("reserves", crisis)),
        "gap_reports": bool(options.get("gap_reports", crisis)),
        "report_to": [str(r.get("name", "")) for r in options.get("report_to", [])],
    }


def callup_json(row: sqlite3.Row) -> dict[str, Any]:
    protected = bool(row["protected"])
    return {
        "id": row["id"],
        "person_id": None if protected else row["person_id"],
        "name": PROTECTED_NAME if protected else row["person_name"],
        "department": None if protected else row["department"],
        "unit_id": row["unit_id"],
        "unit_name": row["unit_name"],
        "placement_kind": row["placement_kind"],
        "state": row["state"],
        "eta_minutes": row["eta_minutes"],
        "reason": None if protected else row["reason"],
        "answered_at": _time(row["answered_at"]),
        "channel": row["channel"],
        "message_state": row["message_state"],
        "error_code": row["error_code"],
    }


def status_json(record: ActivationRecord, coverage: Coverage) -> dict[str, Any]:
    """The contract's status body: activation, totals, and one row per unit."""
    return {
        "activation": {
            "id": record.id,
            "kind": record.kind,
            "title": record.title,
            "state": record.state,
        },
        "totals": {
            "called": coverage.called,
            "needed": coverage.needed,
            "confirmed": coverage.total("confirmed"),
            "declined": coverage.total("declined"),
            "awaiting": coverage.total("awaiting"),
            "no_answer": coverage.total("no_answer"),
            "failed": coverage.total("failed"),
            "gap": coverage.gap,
        },
        "units": [
            {
                "unit_id": u.unit_id,
                "name": u.name,
                "needed": u.needed,
                "called": u.called,
                "confirmed": u.confirmed,
                "awaiting": u.awaiting,
                "declined": u.declined,
                "no_answer": u.no_answer,
                "failed": u.failed,
                "gap": u.gap,
            }
            for u in coverage.units
        ],
    }
