"""Declaring an activation: validate, plan, persist every call-up and message at once.

The web API and the command line both call `Activations`; the pure parts (planning,
rendering, length checks) live in `dispatcher.domain`, the SQL in `dispatcher.store`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiosqlite

from dispatcher import audit
from dispatcher.activation_options import ActivationOptions, OptionsError
from dispatcher.activation_views import PROTECTED_NAME
from dispatcher.audit import Actor, as_actor
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.domain.escalation import EscalationRules, Step
from dispatcher.domain.messages import (
    ActivationText,
    callup_sms_segments,
    check_callup_length,
)
from dispatcher.domain.planning import (
    REPLY_CODE_COUNT,
    ActivationPlan,
    PlannedCallUp,
    Scope,
    estimate_send_seconds,
    plan_callups,
    reply_code_for,
    validate_scope,
)
from dispatcher.domain.roster import Roster
from dispatcher.gc_pause import cyclic_gc_paused
from dispatcher.settings import Settings
from dispatcher.store import activations, answers
from dispatcher.store.activations import ActivationRecord, ActivationUnit, NewCallUp
from dispatcher.store.database import Database
from dispatcher.store.outbox import NewMessage
from dispatcher.store.training import load_roster_with_training, training_revision

KINDS = ("crisis", "drill")
MAX_TITLE = 60
MAX_MESSAGE = 300
MAX_IDEMPOTENCY_KEY = 200
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


class DeclarationError(ValueError):
    """Bad input for a declaration; `field` names what is wrong (for a 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Declaration:
    kind: str
    title: str
    scope: Scope
    message: str = ""
    idempotency_key: str | None = None
    options: ActivationOptions = field(default_factory=ActivationOptions)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Declaration:
        """Validate an API body; raises DeclarationError naming the field."""
        kind = body.get("kind")
        if kind not in KINDS:
            raise DeclarationError("kind", f"must be 'crisis' or 'drill', got {kind!r}")
        title = _text(body, "title", MAX_TITLE, required=True)
        message = _text(body, "message", MAX_MESSAGE, required=False)
        key = body.get("idempotency_key")
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 200):
            raise DeclarationError("idempotency_key", "must be a string of 1–200 characters")
        scope_body = body.get("scope", {})
        if scope_body is None:
            scope_body = {}
        if not isinstance(scope_body, Mapping):
            raise DeclarationError("scope", "must be an object with areas, units and services")
        unknown = set(scope_body) - {"areas", "units", "services"}
        if unknown:
            raise DeclarationError(f"scope.{sorted(unknown)[0]}", "unknown scope field")
        lists = {name: _string_list(scope_body, name) for name in ("areas", "units", "services")}
        try:
            options = ActivationOptions.from_json(body.get("options"))
        except OptionsError as error:
            raise DeclarationError(error.field, error.message) from None
        return cls(kind, title, Scope.of(**lists), message, key, options)


def _text(body: Mapping[str, Any], name: str, limit: int, *, required: bool) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise DeclarationError(
            name, "must be a non-empty string" if required else "must be a string"
        )
    value = " ".join(value.split())
    if len(value) > limit:
        raise DeclarationError(name, f"must be at most {limit} characters, got {len(value)}")
    return value


def _string_list(scope: Mapping[str, Any], name: str) -> list[str]:
    value = scope.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DeclarationError(f"scope.{name}", "must be a list of non-empty strings")
    return value


@dataclass(frozen=True, slots=True)
class Preview:
    """What a declaration would do, with nothing stored or sent."""

    plan: ActivationPlan
    sms_segments: int
    longest_sms_segments: int
    send_seconds: float

    def as_json(self) -> dict[str, Any]:
        plan = self.plan
        per_unit = plan.people_per_unit
        return {
            "scope": plan.scope.as_json(),
            "people": len(plan.callups),
            "units": [
                {"unit_id": u.unit_id, "name": u.name, "people": per_unit[u.unit_id]}
                for u in plan.units
            ],
            "unreachable": [
                {
                    "person_id": None if c.protected else c.person_id,
                    "name": PROTECTED_NAME if c.protected else c.person_name,
                    "unit_id": c.unit_id,
                }
                for c in plan.unreachable
            ],
            "sms": {
                "count": plan.sms_count,
                "segments": self.sms_segments,
                "longest_segments": self.longest_sms_segments,
            },
            "emails": plan.email_count,
            "send_seconds": round(self.send_seconds, 1),
        }


class Activations:
    """Declares activations. One per app (or per command-line run)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        messages: CallUpMessages,
        *,
        wake: Callable[[], None] = lambda: None,
        rosters: RosterCache | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        self._messages = messages
        self._wake = wake
        self._rosters = rosters if rosters is not None else RosterCache(db)
        self._rules = EscalationRules.from_settings(settings.escalation)

    async def _roster(self) -> Roster:
        return await self._rosters.get()

    async def _plan(self, declaration: Declaration) -> tuple[Roster, ActivationPlan]:
        roster = await self._roster()
        problems = validate_scope(roster, declaration.scope)
        if problems:
            field, _, message = problems[0].partition(": ")
            raise DeclarationError(field, message)
        with cyclic_gc_paused():  # 100,000 call-ups: the collector would walk them for nothing
            plan = plan_callups(roster, declaration.scope, self._clock.now())
        text = self._messages.activation_text(
            declaration.kind, declaration.title, declaration.message
        )
        too_long = check_callup_length(self._messages.templates, text, plan.units)
        if too_long:
            raise DeclarationError("message" if declaration.message else "title", too_long)
        return roster, plan

    async def plan(self, declaration: Declaration) -> ActivationPlan:
        """Who `declaration` calls from the current roster; DeclarationError if it cannot."""
        _, plan = await self._plan(declaration)
        return plan

    async def first_callups(
        self, record: ActivationRecord, plan: ActivationPlan
    ) -> tuple[list[NewCallUp], list[NewMessage]]:
        """The call-ups of `plan` for `record` and their first messages (declare, approve).

        The code goes to everyone with a call-up in another active activation (as the answer
        desk sees it), and opted-out numbers start on e-mail.
        """
        in_open = await activations.people_in_open_activations(self._db.reader)
        opted_out = await answers.opted_out_numbers(self._db.reader)
        with cyclic_gc_paused():
            return prepare_callups(
                self._messages,
                record.id,
                self._messages.activation_text(record.kind, record.title, record.message),
                record.reply_code,
                plan.callups,
                with_code=in_open,
                no_sms=opted_out,
            )

    async def preview(self, declaration: Declaration) -> Preview:
        _, plan = await self._plan(declaration)
        text = self._messages.activation_text(
            declaration.kind, declaration.title, declaration.message
        )
        per_unit = callup_sms_segments(self._messages.templates, text, plan.units)
        segments = [per_unit[c.unit_id] for c in plan.callups if c.sms_number is not None]
        seconds = estimate_send_seconds(
            sum(segments),
            plan.email_count,
            self._settings.sms.rate_per_second,
            self._settings.email.rate_per_second,
        )
        return Preview(plan, sum(segments), max(segments, default=0), seconds)

    async def declare(
        self, declaration: Declaration, declared_by: Actor | str
    ) -> tuple[ActivationRecord, bool]:
        """Store the activation, its call-ups and first messages; (activation, created).

        Everything is planned and rendered before the write transaction, which then only
        inserts: the one writer is held for the inserts alone. The audit entry commits
        with the activation. A crisis that needs a second leader's approval is stored
        with no call-ups (`dispatcher.approvals` makes them).
        """
        actor = as_actor(declared_by)
        if declaration.idempotency_key:
            existing = await activations.find_by_idempotency_key(
                self._db, declaration.idempotency_key
            )
            if existing is not None:
                return existing, False
        _, plan = await self._plan(declaration)
        needs_approval = (
            declaration.kind == "crisis" and self._settings.escalation.two_person_approval
        )
        units = activation_units(plan)
        while True:
            now_ms = to_millis(self._clock.now())
            record = ActivationRecord(
                id=_new_id(now_ms),
                kind=declaration.kind,
                title=declaration.title,
                message=declaration.message,
                scope=declaration.scope.as_json(),
                options=declaration.options.resolved(declaration.kind),
                state="awaiting_approval" if needs_approval else "active",
                idempotency_key=declaration.idempotency_key,
                reply_code=await _free_reply_code(self._db.reader),
                declared_by=actor.name,
                declared_at=now_ms,
                declared_by_token=actor.token_id,
            )
            callups: list[NewCallUp] = []
            messages: list[NewMessage] = []
            if not needs_approval:
                callups, messages = await self.first_callups(record, plan)
            async with self._db.transaction() as conn:
                twin = await _twin(conn, declaration.idempotency_key)
                if twin is not None:  # a concurrent declaration with the same key won
                    found = await activations.get_activation(self._db, twin)
                    assert found is not None
                    return found, False
                if record.reply_code in await activations.open_reply_codes(conn):
                    continue  # another activation took the code meanwhile: prepare again
                await activations.insert_activation(conn, record)
                await activations.insert_units(conn, record.id, units)
                await activations.insert_callups(
                    conn,
                    record.id,
                    callups,
                    messages,
                    now_ms,
                    next_step_at=first_step_at(now_ms, self._rules),
                )
                await audit.record(
                    conn,
                    actor,
                    audit.ACTIVATION_DECLARED,
                    at_ms=now_ms,
                    subject=record.id,
                    detail={
                        "kind": record.kind,
                        "title": record.title,
                        "scope": record.scope,
                        "state": record.state,
                        "callups": len(callups),
                    },
                )
            self._wake()
            return record, True


RosterVersion = tuple[int | None, tuple[int, int]]


class RosterCache:
    """The current roster, read again only after an import (a large one takes a second).

    Shared by declarations and the reserve caller: the roster changes rarely.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cached: tuple[RosterVersion, Roster] | None = None

    async def version(self) -> RosterVersion:
        """Changes with every import and every training week recorded or removed by hand
        (also by a command-line run in another process)."""
        row = await self._db.fetch_one("SELECT MAX(id) FROM roster_imports")
        imported = None if row is None or row[0] is None else int(row[0])
        return (imported, await training_revision(self._db))

    async def get(self) -> Roster:
        version = await self.version()
        if self._cached is None or self._cached[0] != version:
            self._cached = (version, await load_roster_with_training(self._db))
        return self._cached[1]


def first_step_at(called_at_ms: int, rules: EscalationRules) -> int:
    """When escalation first looks at a call-up made at `called_at_ms`: the reminder time."""
    return called_at_ms + int(rules.due_after(Step.REMINDED) / timedelta(milliseconds=1))


def prepare_callups(
    messages: CallUpMessages,
    activation_id: str,
    text: ActivationText,
    reply_code: str,
    planned: Sequence[PlannedCallUp],
    *,
    with_code: frozenset[str],
    no_sms: frozenset[str] = frozenset(),
) -> tuple[list[NewCallUp], list[NewMessage]]:
    """Call-up rows and their first messages (declarations and reserves alike).

    A message's callup_id is its row's index. `with_code`: people whose messages carry the
    reply code (they have another open call-up); `no_sms`: numbers that get no SMS (opted
    out), so those people start on e-mail.
    """
    callups: list[NewCallUp] = []
    new_messages: list[NewMessage] = []
    for index, c in enumerate(planned):
        # The code goes into the messages only when the person has another open call-up.
        code = reply_code if c.person_id in with_code else ""
        channel, address = _first_channel(c, no_sms)
        callups.append(
            NewCallUp(
                person_id=c.person_id,
                person_name=c.person_name,
                department=c.department,
                protected=c.protected,
                sms_number=c.sms_number,
                email=c.email,
                unit_id=c.unit_id,
                unit_name=c.unit_name,
                unit_address=c.unit_address,
                placement_kind=c.placement_kind.value,
                reply_code=code,
                state="awaiting" if address else "failed",
            )
        )
        if address:
            new_messages.append(
                messages.render(
                    text,
                    activation_id=activation_id,
                    callup_id=index,
                    person_id=c.person_id,
                    person_name=c.person_name,
                    unit_name=c.unit_name,
                    unit_address=c.unit_address,
                    reply_code=code,
                    channel=channel,
                    address=address,
                )
            )
    return callups, new_messages


def _first_channel(callup: PlannedCallUp, no_sms: frozenset[str]) -> tuple[str, str]:
    """The channel a call-up starts on and its address; ("", "") when nobody can reach them."""
    if callup.sms_number and callup.sms_number not in no_sms:
        return "sms", callup.sms_number
    if callup.email:
        return "email", callup.email
    return "", ""


def activation_units(plan: ActivationPlan) -> list[ActivationUnit]:
    """The units in scope with what each needs: crisis_need, or everyone placed there."""
    per_unit = plan.people_per_unit
    return [
        ActivationUnit(
            u.unit_id,
            u.name,
            u.service,
            u.area,
            u.address,
            per_unit[u.unit_id] if u.crisis_need is None else u.crisis_need,
        )
        for u in plan.units
    ]


async def _twin(conn: aiosqlite.Connection, key: str | None) -> str | None:
    if not key:
        return None
    async with conn.execute("SELECT id FROM activations WHERE idempotency_key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def _free_reply_code(conn: aiosqlite.Connection) -> str:
    """The next reply code in turn that no open activation uses."""
    taken = await activations.open_reply_codes(conn)
    async with conn.execute("SELECT COUNT(*) FROM activations") as cursor:
        row = await cursor.fetchone()
    number = (int(row[0]) if row is not None else 0) + 1
    for offset in range(REPLY_CODE_COUNT):
        code = reply_code_for(number + offset)
        if code not in taken:
            return code
    raise DeclarationError("kind", f"{REPLY_CODE_COUNT} activations are open; stand some down")


def _new_id(now_ms: int) -> str:
    """A short id people can read out: the date and four random characters."""
    day = from_millis(now_ms).strftime("%Y%m%d")
    return f"{day}-{''.join(secrets.choice(_ID_ALPHABET) for _ in range(4))}"
