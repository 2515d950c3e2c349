"""Standing an activation down: close it, stop every message not yet sent, tell the people.

One transaction does it all: the activation becomes `stood_down`; every message of it not
yet handed to a provider (queued, or waiting to retry) is cancelled; escalation stops; and
everyone who was called and may act on it (confirmed, still awaiting, or no answer; not
those who declined or could not be reached) gets a stand-down notice. A call-up already
handed to a provider cannot be recalled; someone whose call-up never left is not told
either, as they were never called. Later answers get "no longer active" (the answer desk).
Used by `POST /api/activations/{id}/stand-down` and `dispatcher stand-down ID`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite
import structlog

from dispatcher import audit
from dispatcher.audit import Actor, as_actor
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock, to_millis
from dispatcher.domain.messages import (
    ActivationText,
    CallUpText,
    RenderedSms,
    render_stand_down_email,
    render_stand_down_sms,
)
from dispatcher.store import activations, answers, outbox
from dispatcher.store.activations import ActivationRecord
from dispatcher.store.database import Database
from dispatcher.store.outbox import NewMessage

log = structlog.get_logger(__name__)

PURPOSE = "stand_down"
OPEN_STATES = ("active", "awaiting_approval")


class UnknownActivation(LookupError):
    """No activation has this id (404)."""


class NotOpen(ValueError):
    """The activation is neither open nor stood down (409); `state` says what it is."""

    def __init__(self, activation_id: str, state: str) -> None:
        super().__init__(f"activation {activation_id} is {state}: only an open one can stand down")
        self.state = state


@dataclass(frozen=True, slots=True)
class StandDownResult:
    activation: ActivationRecord
    stood_down_now: bool  # False: it had been stood down before, nothing was done
    cancelled: int = 0  # messages that had not left yet
    notified: int = 0  # stand-down notices queued


@dataclass(frozen=True, slots=True)
class _Called:
    """A call-up to tell, with what decides the channel its notice goes out on."""

    id: int
    person_name: str
    sms_number: str | None
    email: str | None
    unit_name: str
    unit_address: str
    reached_by_sms: bool
    reached_by_email: bool


def notice_channel(
    *,
    sms_number: str | None,
    email: str | None,
    opted_out: bool,
    reached_by_sms: bool,
    reached_by_email: bool,
) -> str | None:
    """Where a stand-down notice goes: the channel the call-up reached the person on.

    SMS when an SMS reached them (or nothing did) and the number has not opted out; else
    e-mail if they have an address; else SMS if allowed; None when nothing is left.
    """
    sms_allowed = bool(sms_number) and not opted_out
    if sms_allowed and (reached_by_sms or not reached_by_email):
        return "sms"
    if email:
        return "email"
    return "sms" if sms_allowed else None


# A call-up reached its person when one of its messages was handed to a provider (or may
# have been: an attempt whose answer was lost). Confirmed people are told whatever the
# record says: they are on their way.
_REACHED = "(m.state IN ('sending', 'sent', 'delivered') OR m.unsure_since IS NOT NULL)"
_CALLED_SQL = (
    "SELECT c.id, c.person_name, c.sms_number, c.email, c.unit_name, c.unit_address,"
    f" COALESCE(MAX(m.channel = 'sms' AND {_REACHED}), 0),"
    f" COALESCE(MAX(m.channel = 'email' AND {_REACHED}), 0)"
    " FROM callups c LEFT JOIN messages m ON m.callup_id = c.id"
    " WHERE c.activation_id = ? AND c.state IN ('confirmed', 'awaiting', 'no_answer')"
    f" GROUP BY c.id HAVING c.state = 'confirmed' OR MAX({_REACHED}) ORDER BY c.id"
)


async def _called(conn: aiosqlite.Connection, activation_id: str) -> list[_Called]:
    async with conn.execute(_CALLED_SQL, (activation_id,)) as cursor:
        rows = await cursor.fetchall()
    return [
        _Called(int(r[0]), str(r[1]), r[2], r[3], str(r[4]), str(r[5]), bool(r[6]), bool(r[7]))
        for r in rows
    ]


async def _activation(
    conn: aiosqlite.Connection, activation_id: str
) -> tuple[str, str, str] | None:
    """The activation's (state, kind, title), read inside the transaction."""
    async with conn.execute(
        "SELECT state, kind, title FROM activations WHERE id = ?", (activation_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


class StandDowns:
    """Stands activations down. One per app (or per command-line run)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: CallUpMessages,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._wake = wake
        # The SMS names no person: render it once per unit, not once per person.
        self._sms = functools.lru_cache(maxsize=4096)(self._render_sms)

    def _render_sms(self, text: CallUpText) -> RenderedSms:
        return render_stand_down_sms(self._messages.templates, text)

    async def stand_down(self, activation_id: str, by: Actor | str) -> StandDownResult:
        """Stand the activation down (idempotent). Raises UnknownActivation or NotOpen."""
        actor = as_actor(by)
        now_ms = to_millis(self._clock.now())
        cancelled = 0
        notices: list[NewMessage] = []
        async with self._db.transaction() as conn:
            found = await _activation(conn, activation_id)
            if found is None:
                raise UnknownActivation(activation_id)
            state, kind, title = found
            stood_down_now = state != "stood_down"
            if stood_down_now and state not in OPEN_STATES:
                raise NotOpen(activation_id, state)
            if stood_down_now:
                notices = self._notices(
                    activation_id,
                    self._messages.activation_text(kind, title, ""),
                    await _called(conn, activation_id),
                    await answers.opted_out_numbers(conn),
                )
                await activations.set_state(
                    conn,
                    activation_id,
                    "stood_down",
                    stood_down_by=actor.name,
                    stood_down_at=now_ms,
                )
                cancelled = await outbox.cancel_queued(conn, activation_id, now_ms)
                await conn.execute(
                    "UPDATE callups SET next_step_at = NULL, updated_at = ?"
                    " WHERE activation_id = ? AND next_step_at IS NOT NULL",
                    (now_ms, activation_id),
                )
                await outbox.enqueue(conn, notices, now_ms)
                await audit.record(
                    conn,
                    actor,
                    audit.ACTIVATION_STOOD_DOWN,
                    at_ms=now_ms,
                    subject=activation_id,
                    detail={"was": state, "cancelled": cancelled, "notices": len(notices)},
                )
        record = await activations.get_activation(self._db, activation_id)
        assert record is not None
        if not stood_down_now:
            return StandDownResult(record, stood_down_now=False)
        self._wake()
        log.info(
            "activation stood down",
            activation_id=activation_id,
            by=actor.name,
            cancelled=cancelled,
            notified=len(notices),
        )
        return StandDownResult(record, True, cancelled=cancelled, notified=len(notices))

    def _notices(
        self,
        activation_id: str,
        activation: ActivationText,
        called: list[_Called],
        opted_out: frozenset[str],
    ) -> list[NewMessage]:
        notices: list[NewMessage] = []
        for c in called:
            channel = notice_channel(
                sms_number=c.sms_number,
                email=c.email,
                opted_out=c.sms_number in opted_out,
                reached_by_sms=c.reached_by_sms,
                reached_by_email=c.reached_by_email,
            )
            text = CallUpText(activation, c.person_name, c.unit_name, c.unit_address)
            if channel == "sms" and c.sms_number:
                sms = self._sms(dataclasses.replace(text, person_name=""))
                notices.append(
                    NewMessage(
                        activation_id,
                        c.id,
                        "sms",
                        PURPOSE,
                        c.sms_number,
                        sms.text,
                        segments=sms.segments,
                    )
                )
            elif channel == "email" and c.email:
                email = render_stand_down_email(self._messages.templates, text)
                notices.append(
                    NewMessage(
                        activation_id,
                        c.id,
                        "email",
                        PURPOSE,
                        c.email,
                        email.text,
                        subject=email.subject,
                    )
                )
        return notices
