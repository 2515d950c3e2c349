"""The dispatcher worker against hand-written recording channels (the seam, not our code).

End-to-end runs through the real twilio library and a real SMTP server live in
test_dispatch_e2e.py; these cover the worker's own rules quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.channels.base import OutgoingEmail, OutgoingSms, SendResult
from dispatcher.clock import ManualClock, to_millis
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.delivery import RetryPolicy
from dispatcher.store import activations, outbox
from dispatcher.store.activations import ActivationRecord, NewCallUp
from dispatcher.store.callups import CallUpSnapshot
from dispatcher.store.database import Database
from dispatcher.store.message_status import Change, StatusReport, record_status_report
from dispatcher.store.outbox import NewMessage

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@dataclass
class RecordingSms:
    """An SMS provider stand-in: records hand-offs, answers what a test scripts."""

    answers: dict[str, list[SendResult]] = field(default_factory=dict)
    sent: list[OutgoingSms] = field(default_factory=list)
    provider_has: dict[str, list[str]] = field(default_factory=dict)
    got_one: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.sent.append(sms)
        self.got_one.set()
        scripted = self.answers.get(sms.to)
        if scripted:
            return scripted.pop(0)
        return SendResult.sent(f"SM{len(self.sent):032d}", "queued")

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        return self.provider_has.get(to, [])

    async def close(self) -> None:
        return None


@dataclass
class RecordingEmail:
    refuse: set[str] = field(default_factory=set)
    sent: list[OutgoingEmail] = field(default_factory=list)

    async def send(self, email: OutgoingEmail) -> SendResult:
        self.sent.append(email)
        if email.to in self.refuse:
            return SendResult.permanent("550 no such mailbox", error_code="550")
        return SendResult.sent(f"<{email.message_id}@test>")

    async def close(self) -> None:
        return None


class EmailComposer:
    def compose(self, callup: CallUpSnapshot, channel: str) -> NewMessage | None:
        address = callup.sms_number if channel == "sms" else callup.email
        if address is None:
            return None
        return NewMessage(
            callup.activation_id,
            callup.id,
            channel,
            "callup",
            address,
            f"Kallelse {callup.unit_name}",
            subject="Kallelse",
        )


@dataclass
class World:
    db: Database
    clock: ManualClock
    sms: RecordingSms
    email: RecordingEmail
    make: Callable[..., Dispatcher]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = ManualClock(START)
    sms, email = RecordingSms(), RecordingEmail()
    started: list[Dispatcher] = []

    def make(**kwargs: object) -> Dispatcher:
        dispatcher = Dispatcher(
            db,
            sms,
            email,
            clock,
            sms_rate=1000,
            email_rate=1000,
            composer=EmailComposer(),
            **kwargs,  # type: ignore[arg-type]
        )
        started.append(dispatcher)
        return dispatcher

    yield World(db, clock, sms, email, make)
    for dispatcher in started:
        await dispatcher.stop()
    await db.close()


async def declare(world: World, people: list[tuple[str, str | None, str | None]]) -> None:
    """An activation whose call-ups go out by SMS when there is a number, else by e-mail."""
    now_ms = to_millis(world.clock.now())
    record = ActivationRecord(
        id="A1",
        kind="crisis",
        title="Storm",
        message="",
        scope={},
        options={},
        state="active",
        idempotency_key=None,
        reply_code="K",
        declared_by="test",
        declared_at=now_ms,
    )
    new = [
        NewCallUp(pid, pid, "Ekonomi", False, sms, mail, "U1", "Solgården", "Väg 1", "crisis", "K")
        for pid, sms, mail in people
    ]

    first = [
        NewMessage("A1", index, "sms", "callup", c.sms_number, "Kallelse", segments=1)
        if c.sms_number
        else NewMessage("A1", index, "email", "callup", c.email, "Kallelse", subject="Kallelse")
        for index, c in enumerate(new)
        if c.sms_number or c.email
    ]
    new = [c if c.sms_number or c.email else dataclasses.replace(c, state="failed") for c in new]
    async with world.db.transaction() as conn:
        await activations.insert_activation(conn, record)
        await activations.insert_callups(conn, "A1", new, first, now_ms)


async def states(world: World) -> dict[str, str]:
    rows = await world.db.fetch_all("SELECT recipient, channel, state FROM messages ORDER BY id")
    return {f"{r['channel']}:{r['recipient']}": r["state"] for r in rows}


async def callup_states(world: World) -> dict[str, str]:
    rows = await world.db.fetch_all("SELECT person_id, state FROM callups")
    return {r["person_id"]: r["state"] for r in rows}


async def test_every_message_is_handed_off_once(world: World) -> None:
    people = [(f"P{i}", f"+4670{i:07d}", None) for i in range(300)]
    await declare(world, people)
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert sorted(s.to for s in world.sms.sent) == sorted(p[1] for p in people)
    assert set((await states(world)).values()) == {"sent"}
    rows = await world.db.fetch_all("SELECT provider_id FROM messages")
    assert len({r[0] for r in rows}) == 300


async def test_temporary_failure_is_retried_after_backoff(world: World) -> None:
    await declare(world, [("P1", "+46701111111", None)])
    world.sms.answers["+46701111111"] = [SendResult.temporary("busy", retry_after=30)]
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert await states(world) == {"sms:+46701111111": "failed_temporary"}
    world.clock.advance(timedelta(seconds=29))
    await dispatcher.wait_idle()
    assert len(world.sms.sent) == 1  # Retry-After is honoured
    world.clock.advance(timedelta(minutes=5))
    await dispatcher.wait_idle()
    assert len(world.sms.sent) == 2
    assert await states(world) == {"sms:+46701111111": "sent"}


async def test_permanent_sms_failure_moves_to_email_and_lists_the_contact(world: World) -> None:
    await declare(world, [("P1", "+46701111111", "p1@example.se"), ("P2", "+46702222222", None)])
    for number in ("+46701111111", "+46702222222"):
        world.sms.answers[number] = [SendResult.permanent("invalid To", error_code="21211")]
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert [e.to for e in world.email.sent] == ["p1@example.se"]
    assert await states(world) == {
        "sms:+46701111111": "failed_permanent",
        "sms:+46702222222": "failed_permanent",
        "email:p1@example.se": "sent",
    }
    assert await callup_states(world) == {"P1": "awaiting", "P2": "failed"}
    problems = await world.db.fetch_all(
        "SELECT person_id, channel, address, error_code FROM contact_problems ORDER BY person_id"
    )
    assert [tuple(r) for r in problems] == [
        ("P1", "sms", "+46701111111", "21211"),
        ("P2", "sms", "+46702222222", "21211"),
    ]


async def test_no_channel_left_fails_the_callup(world: World) -> None:
    await declare(world, [("P1", None, "gone@example.se"), ("P2", None, None)])
    world.email.refuse.add("gone@example.se")
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert await callup_states(world) == {"P1": "failed", "P2": "failed"}


async def test_giving_up_on_temporary_failures_switches_channel(world: World) -> None:
    await declare(world, [("P1", "+46701111111", "p1@example.se")])
    world.sms.answers["+46701111111"] = [SendResult.temporary("queue full")] * 2
    dispatcher = world.make(retry=RetryPolicy(max_attempts=2))
    await dispatcher.start()
    await dispatcher.wait_idle()
    world.clock.advance(timedelta(minutes=10))
    await dispatcher.wait_idle()
    assert len(world.sms.sent) == 2
    assert [e.to for e in world.email.sent] == ["p1@example.se"]
    # An outage is no wrong number: nothing goes on the roster administrators' list.
    assert await world.db.fetch_all("SELECT * FROM contact_problems") == []


async def test_a_status_report_that_beats_the_result_is_applied_later(world: World) -> None:
    await declare(world, [("P1", "+46701111111", "p1@example.se")])
    first_sid = f"SM{1:032d}"  # what RecordingSms answers for its first hand-off
    early = await record_status_report(
        world.db,
        StatusReport(first_sid, "undelivered", "21211"),
        now_ms=to_millis(world.clock.now()),
        composer=EmailComposer(),
    )
    assert early.change is Change.UNKNOWN_MESSAGE
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert await states(world) == {
        "sms:+46701111111": "failed_permanent",
        "email:p1@example.se": "sent",
    }
    assert await world.db.fetch_all("SELECT * FROM early_status_reports") == []


async def test_lost_answer_is_looked_up_before_resending(world: World) -> None:
    await declare(world, [("P1", "+46701111111", None)])
    world.sms.answers["+46701111111"] = [SendResult.temporary("timeout", may_have_sent=True)]
    world.sms.provider_has["+46701111111"] = ["SM-created-before-timeout"]
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    row = await world.db.fetch_one("SELECT state, provider_id FROM messages")
    assert row is not None
    assert tuple(row) == ("sent", "SM-created-before-timeout")
    assert len(world.sms.sent) == 1


async def test_recovery_resends_only_what_the_provider_never_got(world: World) -> None:
    await declare(world, [("P1", "+46701111111", None), ("P2", "+46702222222", "p2@example.se")])
    # A dead process claimed both SMS and an e-mail, and recorded nothing.
    now_ms = to_millis(world.clock.now())
    async with world.db.transaction() as conn:
        await outbox.enqueue(
            conn, [NewMessage("A1", 2, "email", "reminder", "p2@example.se", "Påminnelse")], now_ms
        )
        await conn.execute("UPDATE messages SET state = 'sending', claimed_at = ?", (now_ms,))
    world.sms.provider_has["+46701111111"] = ["SM-already-there"]
    dispatcher = world.make()
    await dispatcher.start()
    await dispatcher.wait_idle()
    assert [s.to for s in world.sms.sent] == ["+46702222222"]
    assert [e.to for e in world.email.sent] == ["p2@example.se"]
    row = await world.db.fetch_one(
        "SELECT provider_id FROM messages WHERE recipient = '+46701111111'"
    )
    assert row is not None
    assert row[0] == "SM-already-there"
    assert set((await states(world)).values()) == {"sent"}


async def test_stop_returns_claimed_but_unsent_messages(world: World) -> None:
    await declare(world, [(f"P{i}", f"+4670{i:07d}", None) for i in range(50)])
    dispatcher = Dispatcher(
        world.db,
        world.sms,
        world.email,
        world.clock,
        sms_rate=5,
        email_rate=5,
        composer=EmailComposer(),
    )
    await dispatcher.start()
    await world.sms.got_one.wait()  # the first hand-off happens at once (a burst of one)
    await dispatcher.stop()
    rows = await world.db.fetch_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
    counts = {r[0]: r[1] for r in rows}
    assert counts.get("sending", 0) == 0
    assert counts["sent"] == len(world.sms.sent)
    assert counts["sent"] + counts["queued"] == 50


@pytest.mark.parametrize("steps", range(12))
async def test_a_claim_cancelled_at_any_point_leaves_the_writer_usable(
    world: World, steps: int
) -> None:
    """Shutdown cancels the claim loops wherever they are; the next commit must still work."""
    await declare(world, [(f"P{i}", f"+4670{i:07d}", None) for i in range(20)])
    claim = asyncio.create_task(
        outbox.claim_due(world.db, channel="sms", now_ms=to_millis(world.clock.now()), limit=10)
    )
    for _ in range(steps):  # let the claim run to a different await each time
        await asyncio.sleep(0)
    claim.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await claim
    async with world.db.transaction() as conn:
        await conn.execute("INSERT INTO service_meta VALUES ('after', 'cancel')")
    assert await world.db.fetch_one("SELECT value FROM service_meta WHERE key = 'after'")


async def test_claimed_callups_are_withdrawn_when_the_activation_is_stood_down(
    world: World,
) -> None:
    await declare(world, [(f"P{i}", f"+4670{i:07d}", None) for i in range(10)])
    dispatcher = Dispatcher(
        world.db,
        world.sms,
        world.email,
        world.clock,
        sms_rate=2,
        email_rate=2,
        composer=EmailComposer(),
    )
    await dispatcher.start()
    await world.sms.got_one.wait()  # the first went at once; the rest are claimed and paced
    async with world.db.transaction() as conn:  # what a stand-down does in its transaction
        await conn.execute("UPDATE activations SET state = 'stood_down' WHERE id = 'A1'")
        await outbox.cancel_queued(conn, "A1", to_millis(world.clock.now()))
    sent = len(world.sms.sent)
    await dispatcher.wait_idle()
    await dispatcher.stop()
    assert len(world.sms.sent) == sent  # the call-up claimed and waiting for its slot: withdrawn
    counts = dict(
        tuple(r)
        for r in await world.db.fetch_all("SELECT state, COUNT(*) FROM messages GROUP BY state")
    )
    assert counts == {"sent": sent, "cancelled": 10 - sent}


async def test_stopping_twice_changes_nothing_and_a_restart_works(world: World) -> None:
    await declare(world, [(f"P{i}", f"+4670{i:07d}", None) for i in range(5)])
    first = Dispatcher(
        world.db,
        world.sms,
        world.email,
        world.clock,
        sms_rate=1,
        email_rate=1,
        composer=EmailComposer(),
    )
    await first.start()
    await world.sms.got_one.wait()  # one sent at once, one claimed and waiting for its slot
    await first.stop()
    await first.stop()  # the app's cleanup may stop it again: nothing is requeued twice
    second = world.make()
    await second.start()
    await second.wait_idle()  # returns: the idle count was not skewed by the double stop
    assert sorted(s.to for s in world.sms.sent) == sorted(f"+4670{i:07d}" for i in range(5))
    assert set((await states(world)).values()) == {"sent"}
