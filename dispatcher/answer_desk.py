"""The answer desk: every inbound SMS and e-mail answer is stored, applied and answered here.

Inbound messages queue up and are handled in batches, one transaction per batch with a
savepoint per message (one bad message cannot take the others down). Each caller gets its
answer only after the transaction holding its message has committed: nothing is said to
anyone before it is in the database, and thousands of replies a second cost a handful of
commits, not thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiosqlite
import structlog

from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock, to_millis
from dispatcher.domain import answering
from dispatcher.domain.answering import Decision, Outcome, precedence
from dispatcher.domain.messages import (
    CallUpText,
    render_code_needed_sms,
    render_confirmation_sms,
    render_decline_sms,
    render_help_sms,
    render_not_active_sms,
    render_released_sms,
    render_unknown_sender_sms,
)
from dispatcher.domain.replies import Reply, ReplyMeaning, parse_reply
from dispatcher.store import answers
from dispatcher.store.answers import CallUpForAnswer
from dispatcher.store.database import Database

log = structlog.get_logger(__name__)

_BATCH = 200


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider_id: str  # Twilio's MessageSid
    sender: str  # E.164
    body: str
    provider_opt: str | None = None  # Twilio's OptOutType: STOP, START, HELP


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    """A yes or no given on the e-mail answer page."""

    callup_id: int
    yes: bool
    eta_minutes: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: Outcome
    callup_id: int | None
    reply: str | None  # the text to send back (TwiML for SMS; shown on the page for links)


class AnswerMetrics(Protocol):
    """What the desk reports per handled answer (`dispatcher.metrics.Metrics` is one)."""

    def answered(self, channel: str, meaning: str, outcome: str) -> None: ...


_Item = tuple[InboundSms | LinkAnswer, Reply, "asyncio.Future[Handled]"]


class AnswerDesk:
    """Start with `start()` inside the loop; `stop()` finishes what is queued."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: CallUpMessages,
        *,
        release_surplus: bool = False,
        on_answer: Callable[[], None] = lambda: None,
        metrics: AnswerMetrics | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._release = release_surplus
        self._on_answer = on_answer
        self._metrics = metrics
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():  # answer what is left in one last batch
            await self._handle_batch(self._drain())

    async def handle_sms(self, sms: InboundSms) -> Handled:
        """Store, apply and decide the answer to one inbound SMS; returns after the commit."""
        return await self._submit(sms, parse_reply(sms.body))

    async def handle_link(self, answer: LinkAnswer) -> Handled:
        meaning = ReplyMeaning.YES if answer.yes else ReplyMeaning.NO
        reply = Reply(
            meaning, answer.eta_minutes, answer.reason, None, "JA" if answer.yes else "NEJ"
        )
        return await self._submit(answer, reply)

    async def _submit(self, item: InboundSms | LinkAnswer, reply: Reply) -> Handled:
        future: asyncio.Future[Handled] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, reply, future))
        return await future

    def _drain(self) -> list[_Item]:
        batch: list[_Item] = []
        while not self._queue.empty() and len(batch) < _BATCH:
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            await self._handle_batch([first, *self._drain()])

    async def _handle_batch(self, batch: list[_Item]) -> None:
        results: list[Handled | BaseException] = []
        try:
            async with self._db.transaction() as conn:
                for item, reply, _ in batch:
                    results.append(await self._handle_one(conn, item, reply))
        except Exception as error:  # the commit failed: nobody gets an answer we did not keep
            log.exception("answer batch failed")
            results = [error] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if any(isinstance(r, Handled) and r.outcome is Outcome.APPLIED for r in results):
            self._on_answer()
        if self._metrics is not None:  # counted once committed (or failed)
            for (item, reply, _), result in zip(batch, results, strict=True):
                self._metrics.answered(
                    "sms" if isinstance(item, InboundSms) else "email_link",
                    reply.meaning,
                    result.outcome if isinstance(result, Handled) else "error",
                )

    async def _handle_one(
        self, conn: aiosqlite.Connection, item: InboundSms | LinkAnswer, reply: Reply
    ) -> Handled | BaseException:
        await conn.execute("SAVEPOINT answer")
        try:
            handled = await (
                self._sms(conn, item, reply)
                if isinstance(item, InboundSms)
                else self._link(conn, item, reply)
            )
        except Exception as error:
            await conn.execute("ROLLBACK TO answer")
            await conn.execute("RELEASE answer")
            log.exception("answer failed", item=repr(item))
            return error
        await conn.execute("RELEASE answer")
        log.info(
            "answer",
            channel="sms" if isinstance(item, InboundSms) else "email_link",
            outcome=handled.outcome.value,
            callup_id=handled.callup_id,
            meaning=reply.meaning.value,
        )
        return handled

    async def _sms(self, conn: aiosqlite.Connection, sms: InboundSms, reply: Reply) -> Handled:
        now_ms = to_millis(self._clock.now())
        stored = await answers.insert_inbound(
            conn,
            provider_id=sms.provider_id,
            channel="sms",
            sender=sms.sender,
            body=sms.body,
            meaning=reply.meaning.value,
            received_at=now_ms,
        )
        if stored is None:  # Twilio sent it again: the same answer, nothing changes
            earlier = await answers.stored_inbound(conn, sms.provider_id)
            return Handled(Outcome.DUPLICATE, None, earlier.reply if earlier else None)
        callups = await answers.sender_callups(conn, sms.sender, now_ms)
        decision = answering.decide(reply, callups, provider_opt=sms.provider_opt)
        text = await self._apply(conn, decision, reply, via="sms", inbound_id=stored.id)
        if decision.outcome in (Outcome.OPTED_OUT, Outcome.OPTED_IN):
            await answers.set_opt_out(
                conn,
                sms.sender,
                opted_out=decision.outcome is Outcome.OPTED_OUT,
                source=sms.provider_opt or reply.text.strip()[:20],
                at=now_ms,
            )
        elif not answering.may_reply(
            await answers.automatic_replies_since_last_callup(conn, sms.sender)
        ):
            text = None  # enough automatic replies to this number since its last call-up
        await answers.settle_inbound(
            conn,
            stored.id,
            outcome=decision.outcome.value,
            callup_id=decision.callup_id,
            reply=text,
        )
        return Handled(decision.outcome, decision.callup_id, text)

    async def _link(self, conn: aiosqlite.Connection, link: LinkAnswer, reply: Reply) -> Handled:
        now_ms = to_millis(self._clock.now())
        callup = await answers.callup_for_answer(conn, link.callup_id)
        stored = await answers.insert_inbound(
            conn,
            provider_id=None,
            channel="email_link",
            sender=f"callup:{link.callup_id}",
            body=reply.text,
            meaning=reply.meaning.value,
            received_at=now_ms,
        )
        assert stored is not None  # no provider id: never a conflict
        if callup is None or callup.activation_state != "active":
            decision = Decision(Outcome.NOT_ACTIVE, closed_callup=link.callup_id)
        else:
            decision = Decision(Outcome.APPLIED, callup_id=link.callup_id)
        text = await self._apply(conn, decision, reply, via="email_link", inbound_id=stored.id)
        await answers.settle_inbound(
            conn,
            stored.id,
            outcome=decision.outcome.value,
            callup_id=decision.callup_id,
            reply=text,
        )
        return Handled(decision.outcome, decision.callup_id, text)

    async def _apply(
        self,
        conn: aiosqlite.Connection,
        decision: Decision,
        reply: Reply,
        *,
        via: str,
        inbound_id: int,
    ) -> str | None:
        """Record the answer the decision applies; return the text to send back."""
        if decision.outcome is not Outcome.APPLIED:
            return await self._reply_without_answer(conn, decision)
        callup = await answers.callup_for_answer(conn, decision.callup_id or -1)
        assert callup is not None
        change = answering.answer_change(
            reply,
            unit_confirmed=callup.unit_confirmed,
            unit_needed=callup.unit_needed,
            already_confirmed=callup.state == "confirmed",
            release=self._release,
        )
        await answers.record_answer(
            conn,
            callup.id,
            state=change.state,
            answer="yes" if reply.meaning is ReplyMeaning.YES else "no",
            eta_minutes=change.eta_minutes,
            reason=change.reason,
            via=via,
            inbound_id=inbound_id,
            answered_at=to_millis(self._clock.now()),
        )
        templates, text = self._messages.templates, self._text(callup)
        if change.released:
            return render_released_sms(templates, text).text
        if change.state == "confirmed":
            return render_confirmation_sms(templates, text, change.eta_minutes).text
        return render_decline_sms(templates, text).text

    async def _reply_without_answer(
        self, conn: aiosqlite.Connection, decision: Decision
    ) -> str | None:
        """What to say when nothing is recorded: help, a code, not active, unknown sender."""
        templates = self._messages.templates
        municipality = self._messages.municipality
        outcome = decision.outcome
        if outcome is Outcome.UNKNOWN_SENDER:
            return render_unknown_sender_sms(templates, municipality).text
        if outcome in (Outcome.OPTED_OUT, Outcome.OPTED_IN):
            return None  # Twilio confirms opt-outs itself; STOPP gets no further SMS from us
        if outcome is Outcome.NOT_ACTIVE:
            closed = await answers.callup_for_answer(conn, decision.closed_callup or -1)
            if closed is None:
                return render_unknown_sender_sms(templates, municipality).text
            return render_not_active_sms(templates, self._text(closed).activation).text
        if outcome in (Outcome.HELP, Outcome.CODE_NEEDED):
            open_ones = await answers.callups_for_answer(conn, decision.open_callups)
            # A real crisis comes first: in the list of codes and as the help text's subject.
            open_ones = sorted(open_ones, key=lambda c: precedence(c.activation_kind))
            if outcome is Outcome.HELP or len(open_ones) < 2:
                return render_help_sms(templates, self._text(open_ones[0]).activation).text
            texts = [self._text(c, code=c.activation_reply_code) for c in open_ones]
            return render_code_needed_sms(templates, municipality, texts).text
        return render_unknown_sender_sms(templates, municipality).text  # pragma: no cover

    def _text(self, callup: CallUpForAnswer, *, code: str | None = None) -> CallUpText:
        activation = self._messages.activation_text(
            callup.activation_kind, callup.activation_title, ""
        )
        return CallUpText(
            activation,
            callup.person_name,
            callup.unit_name,
            callup.unit_address,
            callup.reply_code if code is None else code,
        )
