"""The rows a drill report is made from (`dispatcher.domain.drill_report`), read in a few
queries per activation, and the earlier activations of the same kind and scope."""

from __future__ import annotations

import json

from dispatcher.channels.twilio_errors import is_permanent_delivery_error
from dispatcher.domain.drill_report import (
    ActivationFacts,
    AnswerRow,
    CallUpRow,
    DrillReport,
    MessageRow,
    Reason,
    UnitRow,
    build_report,
    same_scope,
)
from dispatcher.store.database import Database

_TWILIO_OPTED_OUT = "21610"  # the recipient sent STOP
_TRENDING_STATES = ("active", "stood_down")  # activations that called anyone

_ACTIVATION = (
    "SELECT id, kind, title, state, scope_json, declared_at, stood_down_at"
    " FROM activations WHERE id = ?"
)
_UNITS = "SELECT unit_id, name, needed FROM activation_units WHERE activation_id = ?"
# `opted_out`: the number was on the opt-out list by the time the activation ended.
_CALLUPS = (
    "SELECT c.id, c.person_id, c.person_name, c.department, c.protected, c.unit_id,"
    " c.unit_name, c.state, c.created_at, c.first_answer_at, c.answered_at,"
    " c.sms_number IS NOT NULL, c.email IS NOT NULL,"
    " EXISTS (SELECT 1 FROM opt_outs o WHERE o.phone = c.sms_number"
    "  AND o.opted_out_at <= COALESCE(a.stood_down_at, o.opted_out_at))"
    " FROM callups c JOIN activations a ON a.id = c.activation_id"
    " WHERE c.activation_id = ? ORDER BY c.id"
)
_ANSWERS = (
    "SELECT n.callup_id, n.answer, n.answered_at FROM answers n"
    " JOIN callups c ON c.id = n.callup_id WHERE c.activation_id = ? ORDER BY n.answered_at, n.id"
)
_MESSAGES = (
    "SELECT m.callup_id, m.channel, m.state, m.error_code FROM messages m"
    " JOIN callups c ON c.id = m.callup_id"
    " WHERE c.activation_id = ? AND m.purpose = 'callup' ORDER BY m.id"
)


def refusal(channel: str, state: str, error_code: str | None) -> Reason | None:
    """What a call-up message's permanent failure says of the address, if anything: the
    provider refused the number or the address itself (not an outage, not giving up)."""
    if state != "failed_permanent" or not error_code:
        return None
    if channel == "sms":
        if error_code == _TWILIO_OPTED_OUT:
            return Reason.OPTED_OUT
        return Reason.INVALID_NUMBER if is_permanent_delivery_error(error_code) else None
    # The SMTP channel stores the server's reply code; 5xx refuses the address for good.
    if channel == "email" and error_code.isdigit() and error_code.startswith("5"):
        return Reason.BOUNCED_EMAIL
    return None


async def activation_facts(db: Database, activation_id: str) -> ActivationFacts | None:
    """An activation with its units, call-ups, answers and call-up messages; None if unknown."""
    row = await db.fetch_one(_ACTIVATION, (activation_id,))
    if row is None:
        return None
    units = await db.fetch_all(_UNITS, (activation_id,))
    callups = await db.fetch_all(_CALLUPS, (activation_id,))
    answers = await db.fetch_all(_ANSWERS, (activation_id,))
    messages = await db.fetch_all(_MESSAGES, (activation_id,))
    return ActivationFacts(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        state=row["state"],
        scope=json.loads(row["scope_json"]),
        declared_at=int(row["declared_at"]),
        stood_down_at=row["stood_down_at"],
        units=tuple(UnitRow(str(u[0]), str(u[1]), int(u[2])) for u in units),
        callups=tuple(
            CallUpRow(
                id=int(c[0]),
                person_id=c[1],
                person_name=c[2],
                department=c[3],
                protected=bool(c[4]),
                unit_id=c[5],
                unit_name=c[6],
                state=c[7],
                created_at=int(c[8]),
                first_answer_at=c[9],
                answered_at=c[10],
                has_sms=bool(c[11]),
                has_email=bool(c[12]),
                opted_out=bool(c[13]),
            )
            for c in callups
        ),
        answers=tuple(AnswerRow(int(a[0]), str(a[1]), int(a[2])) for a in answers),
        messages=tuple(
            MessageRow(int(m[0]), m[1], m[2], refusal(m[1], m[2], m[3])) for m in messages
        ),
    )


async def earlier_of_same_scope(
    db: Database, facts: ActivationFacts, *, limit: int = 10
) -> list[ActivationFacts]:
    """Up to `limit` activations of the same kind and scope declared before this one, that
    called anyone (active or stood down), oldest first."""
    rows = await db.fetch_all(
        "SELECT id, scope_json FROM activations"
        " WHERE kind = ? AND (declared_at < ? OR (declared_at = ? AND id < ?))"
        " AND state IN (?, ?) ORDER BY declared_at DESC, id DESC",
        (facts.kind, facts.declared_at, facts.declared_at, facts.id, *_TRENDING_STATES),
    )
    earlier: list[ActivationFacts] = []
    for row in rows:
        if len(earlier) >= limit:
            break
        if not same_scope(json.loads(row["scope_json"]), facts.scope):
            continue
        found = await activation_facts(db, row["id"])
        if found is not None:
            earlier.append(found)
    return earlier[::-1]


async def load_report(db: Database, activation_id: str, *, now: int) -> DrillReport | None:
    """The report of an activation beside the earlier ones of its kind and scope; None if
    there is no such activation."""
    facts = await activation_facts(db, activation_id)
    if facts is None:
        return None
    return build_report(facts, await earlier_of_same_scope(db, facts), now=now)
