"""Approving a crisis under the two-person rule: a second leader lets the call-ups go.

With `escalation.two_person_approval`, a declared crisis waits in `awaiting_approval`
with no call-ups at all, so nothing can be sent. Approval plans the call-ups from the
roster as it is *now* (people may have come or gone since the declaration), and in one
transaction makes the activation active, puts in its units, its call-ups with their
first messages and first escalation time, and the audit entry; then wakes the
dispatcher. The declarer's own token cannot approve; a crisis declared from the command
line (no token) can be approved by any leader's token. Drills never wait for approval.
Used by `POST /api/activations/{id}/approve`; there is no command for it, as the command
line has no token to tell a second leader by.
"""

from __future__ import annotations

from collections.abc import Callable

import aiosqlite
import structlog

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import Clock, to_millis
from dispatcher.declarations import (
    Activations,
    Declaration,
    DeclarationError,
    activation_units,
    first_step_at,
)
from dispatcher.domain.escalation import EscalationRules
from dispatcher.domain.planning import Scope
from dispatcher.settings import Settings
from dispatcher.stand_down import UnknownActivation
from dispatcher.store import activations
from dispatcher.store.activations import ActivationRecord
from dispatcher.store.database import Database

log = structlog.get_logger(__name__)

AWAITING = "awaiting_approval"


class NotAwaitingApproval(ValueError):
    """The activation is not waiting for approval (409); `state` says what it is."""

    def __init__(self, activation_id: str, state: str) -> None:
        super().__init__(
            f"activation {activation_id} is {state}: only one awaiting approval can be approved"
        )
        self.state = state


class SecondLeaderNeeded(PermissionError):
    """The approver's token is the one that declared (409)."""

    def __init__(self) -> None:
        super().__init__("a second leader must approve: this token declared the activation")


class ScopeNoLongerFits(ValueError):
    """The roster changed since the declaration and the scope names what is gone (409)."""


class Approvals:
    """Approves activations. One per app."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        declarations: Activations,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._declarations = declarations
        self._rules = EscalationRules.from_settings(settings.escalation)
        self._wake = wake

    async def approve(self, activation_id: str, by: Actor) -> ActivationRecord:
        """Approve and call. Raises UnknownActivation, NotAwaitingApproval,
        SecondLeaderNeeded or ScopeNoLongerFits."""
        record = await activations.get_activation(self._db, activation_id)
        if record is None:
            raise UnknownActivation(activation_id)
        _check(record, by)
        # Planned and rendered before the write transaction, as a declaration is.
        try:
            plan = await self._declarations.plan(_declaration_of(record))
        except DeclarationError as error:
            raise ScopeNoLongerFits(
                f"the roster changed since the declaration: {error}; stand it down and declare"
                " again"
            ) from None
        callups, messages = await self._declarations.first_callups(record, plan)
        async with self._db.transaction() as conn:
            state = await _state(conn, activation_id)
            if state != AWAITING:  # approved or stood down meanwhile
                raise NotAwaitingApproval(activation_id, state or "gone")
            now_ms = to_millis(self._clock.now())
            await activations.set_state(
                conn, activation_id, "active", approved_by=by.name, approved_at=now_ms
            )
            await activations.replace_units(conn, activation_id, activation_units(plan))
            await activations.insert_callups(
                conn,
                activation_id,
                callups,
                messages,
                now_ms,
                next_step_at=first_step_at(now_ms, self._rules),
            )
            await audit.record(
                conn,
                by,
                audit.ACTIVATION_APPROVED,
                at_ms=now_ms,
                subject=activation_id,
                detail={
                    "kind": record.kind,
                    "declared_by": record.declared_by,
                    "declared_by_token": record.declared_by_token,
                    "callups": len(callups),
                },
            )
        self._wake()
        log.info(
            "activation approved",
            activation_id=activation_id,
            by=by.name,
            callups=len(callups),
        )
        approved = await activations.get_activation(self._db, activation_id)
        assert approved is not None
        return approved


def _check(record: ActivationRecord, by: Actor) -> None:
    if record.state != AWAITING:
        raise NotAwaitingApproval(record.id, record.state)
    if record.declared_by_token is not None and record.declared_by_token == by.token_id:
        raise SecondLeaderNeeded


def _declaration_of(record: ActivationRecord) -> Declaration:
    return Declaration(
        record.kind,
        record.title,
        Scope.of(**record.scope),
        record.message,
        record.idempotency_key,
    )


async def _state(conn: aiosqlite.Connection, activation_id: str) -> str | None:
    async with conn.execute(
        "SELECT state FROM activations WHERE id = ?", (activation_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])
