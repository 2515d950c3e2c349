"""Escalation through a moved clock: reminder, other channel, deadline; restarts and two apps.

The worker is wired as the app wires it (real database, sandbox channels, dispatcher,
answer desk, reserve caller), without its scheduler or loop: a test moves the
`ManualClock`, calls `tick()`, and waits for the dispatcher to be idle. The app-level tests
at the end use `create_app` itself, scheduler and all, and assert only on what is stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import AnswerDesk, Handled, InboundSms
from dispatcher.callup_messages import CallUpMessages
from dispatcher.channels import open_channels
from dispatcher.channels.base import (
    EmailChannel,
    OutgoingEmail,
    OutgoingSms,
    SendResult,
    SmsChannel,
)
from dispatcher.channels.sandbox import SandboxMessage, list_sandbox_messages
from dispatcher.clock import ManualClock, to_millis
from dispatcher.declarations import Activations, Declaration, RosterCache
from dispatcher.dispatch.worker import Dispatcher
from dispatcher.domain.access import AccessRole
from dispatcher.domain.escalation import EscalationRules
from dispatcher.domain.planning import Scope
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import parse_term
from dispatcher.escalator import Escalator, TickResult
from dispatcher.reserves import ReserveCaller
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.database import Database
from dispatcher.store.roster_store import replace_roster
from dispatcher.templates import load_templates
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER, ESCALATOR
from dispatcher.web.app import create_app

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)

# --------------------------------------------------------------------------- the roster


def phone(n: int) -> str:
    return f"+4670100{n:04d}"


def mail(person_id: str) -> str:
    return f"{person_id.lower()}@example.se"


def person(
    person_id: str,
    n: int,
    *,
    placement: str | None = None,
    reserve: str | None = None,
    sms: bool = True,
    email: bool = True,
) -> Person:
    return Person(
        person_id=person_id,
        name=f"Person {person_id}",
        phone=phone(n) if sms else None,
        phone_kind=PhoneKind.MOBILE if sms else PhoneKind.NONE,
        email=mail(person_id) if email else None,
        role=Role.ADMIN,
        pay_pct=100.0,
        department="Ekonomi",
        placement=placement,
        reserve_placement=reserve,
    )


def unit(unit_id: str, need: int | None = None) -> Unit:
    return Unit(unit_id, f"Enhet {unit_id}", "äldreomsorg", "Norr", f"{unit_id}-vägen 1", need)


def trained(person_id: str, unit_id: str, term: str, week: date) -> TrainingWeek:
    return TrainingWeek(person_id, unit_id, parse_term(term), week)


def small_roster(
    *people: Person, units: Sequence[Unit] = (), training: Sequence[TrainingWeek] = ()
) -> Roster:
    return Roster(units=tuple(units) or (unit("U1"),), people=people, training=tuple(training))


# --------------------------------------------------------------------------- the world


def world_settings(database: Path) -> Settings:
    return settings_from_mapping(
        {
            "service": {"database": str(database)},
            "sms": {"rate_per_second": 1000},
            "email": {"rate_per_second": 1000},
        },
        {},
    )


@dataclass
class World:
    db: Database
    clock: ManualClock
    dispatcher: Dispatcher
    activations: Activations
    desk: AnswerDesk
    escalator: Escalator
    answers_sent: int = field(default=0)

    async def declare(self, kind: str = "crisis", units: Sequence[str] = ("U1",)) -> str:
        record, _ = await self.activations.declare(
            Declaration(kind, "Storm", Scope.of(units=units)), "test leader"
        )
        await self.dispatcher.wait_idle()
        return record.id

    async def tick(self) -> TickResult:
        result = await self.escalator.tick()
        await self.dispatcher.wait_idle()
        return result

    async def after(self, delta: timedelta) -> TickResult:
        self.clock.advance(delta)
        return await self.tick()

    async def answer(self, number: str, body: str) -> Handled:
        self.answers_sent += 1
        return await self.desk.handle_sms(InboundSms(f"SM{self.answers_sent:032d}", number, body))

    async def sent_to(self, recipient: str) -> list[SandboxMessage]:
        """What the sandbox "sent" to one address, oldest first."""
        return list(reversed(await list_sandbox_messages(self.db, recipient)))

    async def callup(self, person_id: str) -> sqlite3.Row:
        row = await self.db.fetch_one(
            "SELECT * FROM callups WHERE person_id = ? ORDER BY id DESC", (person_id,)
        )
        assert row is not None, f"{person_id} was never called"
        return row

    async def messages_of(self, person_id: str) -> list[tuple[str, str, str]]:
        """(purpose, channel, state) of every outbox message about the person's call-up."""
        rows = await self.db.fetch_all(
            "SELECT m.purpose, m.channel, m.state FROM messages m"
            " JOIN callups c ON c.id = m.callup_id WHERE c.person_id = ? ORDER BY m.id",
            (person_id,),
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


@asynccontextmanager
async def running_world(
    database: Path,
    clock: ManualClock,
    roster: Roster | None = None,
    *,
    sms: SmsChannel | None = None,
    email: EmailChannel | None = None,
) -> AsyncIterator[World]:
    """Everything the app's `dispatch` resource wires, on `database`; `roster` imported."""
    settings = world_settings(database)
    db = await Database.open(database)
    try:
        if roster is not None:
            await replace_roster(
                db,
                roster,
                imported_by="test",
                source="test",
                warnings=0,
                imported_at_ms=to_millis(clock.now()),
            )
        messages = CallUpMessages(load_templates("sv"), settings.service.municipality)
        sandbox_sms, sandbox_email = await open_channels(settings, db, clock=clock)
        dispatcher = Dispatcher(
            db,
            sms or sandbox_sms,
            email or sandbox_email,
            clock,
            sms_rate=1000,
            email_rate=1000,
            composer=messages,
        )
        rosters = RosterCache(db)
        rules = EscalationRules.from_settings(settings.escalation)
        escalator = Escalator(
            db,
            clock,
            messages,
            rules,
            wake_dispatcher=dispatcher.wake,
            reserves=ReserveCaller(db, messages, rosters, rules),
            schedule=False,
        )
        desk = AnswerDesk(db, clock, messages, on_answer=escalator.wake)
        activations = Activations(
            db, settings, clock, messages, wake=dispatcher.wake, rosters=rosters
        )
        await dispatcher.start()
        await desk.start()
        try:
            yield World(db, clock, dispatcher, activations, desk, escalator)
        finally:
            await desk.stop()
            await dispatcher.stop()
    finally:
        await db.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "dispatcher.sqlite3"


ANNA = person("P1", 1, placement="U1")  # SMS and e-mail
BO = person("P2", 2, placement="U1", email=False)  # SMS only


# --------------------------------------------------------------------------- the steps


async def test_due_time_is_stored_when_the_callup_is_made(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, small_roster(ANNA)) as world:
        await world.declare()
        callup = await world.callup("P1")
        assert callup["next_step_at"] == to_millis(clock.now() + 10 * MINUTE)
        assert callup["escalation_step"] == 0


async def test_reminder_at_remind_after_and_not_a_second_before(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, small_roster(ANNA)) as world:
        await world.declare()
        assert [m.body[:10] for m in await world.sent_to(phone(1))] == ["Exempelkom"]

        assert await world.after(10 * MINUTE - SECOND) == TickResult()
        assert len(await world.sent_to(phone(1))) == 1

        assert (await world.after(SECOND)).reminders == 1
        sms = await world.sent_to(phone(1))
        assert len(sms) == 2 and sms[1].body.startswith("Påminnelse från Exempelkommun")
        assert await world.sent_to(mail("P1")) == []

        assert await world.tick() == TickResult()  # the same `now` again: nothing
        assert len(await world.sent_to(phone(1))) == 2
        assert (await world.callup("P1"))["next_step_at"] == to_millis(clock.now() + 10 * MINUTE)


async def test_other_channel_sends_the_callup_by_email(database: Path, clock: ManualClock) -> None:
    async with running_world(database, clock, small_roster(ANNA, BO)) as world:
        await world.declare()
        await world.after(10 * MINUTE)
        result = await world.after(10 * MINUTE)
        assert result.other_channel == 1 and result.reminders == 0

        emails = await world.sent_to(mail("P1"))
        assert len(emails) == 1
        assert emails[0].subject is not None and "du kallas till Enhet U1" in emails[0].subject
        assert ("callup", "email", "sent") in await world.messages_of("P1")
        # Bo has no e-mail: nothing more at this step (he had his reminder at 10 minutes).
        assert len(await world.sent_to(phone(2))) == 2
        assert await world.tick() == TickResult()


async def test_deadline_makes_the_callup_no_answer(database: Path, clock: ManualClock) -> None:
    async with running_world(database, clock, small_roster(ANNA, BO)) as world:
        activation = await world.declare()
        for _ in range(5):
            await world.after(10 * MINUTE)
        before = await world.db.fetch_one(
            "SELECT revision FROM activations WHERE id = ?", (activation,)
        )
        result = await world.after(10 * MINUTE)

        assert result.no_answer == 2 and result.queued == 0
        for person_id in ("P1", "P2"):
            callup = await world.callup(person_id)
            assert (callup["state"], callup["next_step_at"]) == ("no_answer", None)
        after = await world.db.fetch_one(
            "SELECT revision FROM activations WHERE id = ?", (activation,)
        )
        assert before is not None and after is not None and after[0] > before[0]
        assert await world.after(24 * 60 * MINUTE) == TickResult()
        assert len(await world.sent_to(phone(1))) == 2  # the call-up and one reminder


async def test_an_answered_callup_gets_nothing_more(database: Path, clock: ManualClock) -> None:
    async with running_world(database, clock, small_roster(ANNA, BO)) as world:
        await world.declare()
        clock.advance(3 * MINUTE)
        assert (await world.answer(phone(1), "Ja 20")).callup_id is not None
        async with world.db.transaction() as conn:  # Bo answers from the e-mail page: state set
            await conn.execute(
                "UPDATE callups SET state = 'declined', next_step_at = NULL WHERE person_id = 'P2'"
            )
        for _ in range(8):
            result = await world.after(10 * MINUTE)
            assert result.queued == 0 and result.no_answer == 0
        assert len(await world.sent_to(phone(1))) == 1
        assert len(await world.sent_to(phone(2))) == 1
        assert await world.sent_to(mail("P1")) == []
        assert (await world.callup("P1"))["state"] == "confirmed"
        assert (await world.callup("P2"))["state"] == "declined"


async def test_an_opted_out_number_is_reminded_by_email(database: Path, clock: ManualClock) -> None:
    async with running_world(database, clock, small_roster(ANNA)) as world:
        await world.declare()
        await world.answer(phone(1), "STOP")
        assert (await world.after(10 * MINUTE)).reminders == 1
        assert len(await world.sent_to(phone(1))) == 1  # only the call-up, before STOP
        emails = await world.sent_to(mail("P1"))
        assert len(emails) == 1
        assert emails[0].subject is not None and emails[0].subject.startswith("Påminnelse")
        # E-mail is her only channel now: no "other channel" message follows.
        assert (await world.after(10 * MINUTE)).queued == 0
        assert (await world.after(40 * MINUTE)).no_answer == 1


async def test_a_stood_down_activation_escalates_no_further(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, small_roster(ANNA)) as world:
        activation = await world.declare()
        async with world.db.transaction() as conn:
            await conn.execute(
                "UPDATE activations SET state = 'stood_down' WHERE id = ?", (activation,)
            )
        result = await world.after(2 * 60 * MINUTE)
        assert result.examined == 1 and result.queued == 0 and result.no_answer == 0
        callup = await world.callup("P1")
        assert (callup["state"], callup["next_step_at"]) == ("awaiting", None)


# --------------------------------------------------------------------------- channel switching


@dataclass
class RefusingSms:
    """Twilio refusing every number (21211): the dispatcher switches such call-ups to e-mail."""

    sent: list[OutgoingSms] = field(default_factory=list)

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.sent.append(sms)
        return SendResult.permanent("invalid 'To' number", error_code="21211")

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        return []

    async def close(self) -> None:
        return None


@dataclass
class BusySms:
    """A provider that is busy the first time each number is tried, then takes the SMS."""

    tried: set[str] = field(default_factory=set)
    sent: list[OutgoingSms] = field(default_factory=list)

    async def send(self, sms: OutgoingSms) -> SendResult:
        if sms.to not in self.tried:
            self.tried.add(sms.to)
            return SendResult.temporary("503 busy")
        self.sent.append(sms)
        return SendResult.sent(f"SM{len(self.sent):032d}", "queued")

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        return []

    async def close(self) -> None:
        return None


@dataclass
class RefusingEmail:
    sent: list[OutgoingEmail] = field(default_factory=list)

    async def send(self, email: OutgoingEmail) -> SendResult:
        self.sent.append(email)
        return SendResult.permanent("550 no such mailbox", error_code="550")

    async def close(self) -> None:
        return None


async def test_after_a_refused_sms_the_reminder_goes_by_email_and_nothing_twice(
    database: Path, clock: ManualClock
) -> None:
    refusing = RefusingSms()
    async with running_world(database, clock, small_roster(ANNA), sms=refusing) as world:
        await world.declare()
        assert await world.messages_of("P1") == [
            ("callup", "sms", "failed_permanent"),
            ("callup", "email", "sent"),  # the dispatcher's switch
        ]
        assert (await world.after(10 * MINUTE)).reminders == 1
        assert (await world.after(10 * MINUTE)).queued == 0  # the e-mail call-up went already
        assert await world.messages_of("P1") == [
            ("callup", "sms", "failed_permanent"),
            ("callup", "email", "sent"),
            ("reminder", "email", "sent"),
        ]
        assert len(refusing.sent) == 1


async def test_time_counts_from_when_the_callup_reached_the_provider(
    database: Path, clock: ManualClock
) -> None:
    busy = BusySms()
    async with running_world(database, clock, small_roster(ANNA), sms=busy) as world:
        await world.declare()
        assert await world.messages_of("P1") == [("callup", "sms", "failed_temporary")]
        # Due by the queue time, but nothing has reached her yet: no reminder, look again later.
        assert (await world.after(10 * MINUTE)).reminders == 0
        assert [m.body[:10] for m in busy.sent] == ["Exempelkom"]  # the retry, at 10 minutes
        assert (await world.after(10 * MINUTE - SECOND)).reminders == 0
        assert (await world.after(SECOND)).reminders == 1
        assert [m.body[:10] for m in busy.sent] == ["Exempelkom", "Påminnelse"]


async def test_a_refused_email_after_a_sent_sms_leaves_the_callup_awaiting(
    database: Path, clock: ManualClock
) -> None:
    async with running_world(database, clock, small_roster(ANNA), email=RefusingEmail()) as world:
        await world.declare()
        await world.after(20 * MINUTE)  # the call-up by e-mail, refused for good
        assert ("callup", "email", "failed_permanent") in await world.messages_of("P1")
        assert (await world.callup("P1"))["state"] == "awaiting"


# --------------------------------------------------------------------------- restarts


async def test_a_long_pause_does_what_is_overdue_once(database: Path, clock: ManualClock) -> None:
    async with running_world(database, clock, small_roster(ANNA, BO)) as world:
        await world.declare()
        assert (await world.after(10 * MINUTE)).reminders == 2
    clock.advance(2 * 60 * MINUTE)  # the service was down for two hours
    async with running_world(database, clock) as world:
        result = await world.tick()
        assert (result.no_answer, result.queued) == (2, 0)  # no reminder spam after the deadline
        assert await world.tick() == TickResult()
        assert len(await world.sent_to(phone(1))) == 2
        assert await world.sent_to(mail("P1")) == []


async def _sms_and_email_counts(db: Database) -> tuple[int, int, int]:
    row = await db.fetch_one(
        "SELECT SUM(channel = 'sms' AND purpose = 'callup'), SUM(purpose = 'reminder'),"
        " SUM(channel = 'email') FROM messages"
    )
    assert row is not None
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


async def test_restart_of_the_app_in_the_middle(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    settings = world_settings(database)
    first = create_app(settings, clock=clock)
    client = await aiohttp_client(first)
    await replace_roster(
        first[DATABASE],
        small_roster(ANNA),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=to_millis(clock.now()),
    )
    token = await first[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
    response = await client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers={"Authorization": f"Bearer {token.secret}"},
    )
    assert response.status == 201
    await first[DISPATCHER].wait_idle()
    clock.advance(10 * MINUTE)
    await first[ESCALATOR].tick()
    await first[DISPATCHER].wait_idle()
    assert await _sms_and_email_counts(first[DATABASE]) == (1, 1, 0)
    await client.close()  # the service stops

    clock.advance(2 * 60 * MINUTE)
    second = create_app(settings, clock=clock)
    await aiohttp_client(second)  # its first tick runs at start-up; ours finds it done or does it
    await second[ESCALATOR].tick()
    await second[ESCALATOR].tick()
    await second[DISPATCHER].wait_idle()
    db = second[DATABASE]
    assert await _sms_and_email_counts(db) == (1, 1, 0)
    row = await db.fetch_one("SELECT state, escalation_step, next_step_at FROM callups")
    assert row is not None and tuple(row) == ("no_answer", 3, None)
    assert len(await list_sandbox_messages(db, phone(1))) == 2


async def test_escalation_across_two_apps_on_one_database(
    aiohttp_client: AiohttpClient, database: Path, clock: ManualClock
) -> None:
    settings = world_settings(database)
    one, two = create_app(settings, clock=clock), create_app(settings, clock=clock)
    client = await aiohttp_client(one)
    await replace_roster(
        one[DATABASE],
        small_roster(ANNA),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=to_millis(clock.now()),
    )
    token = await one[ACCESS_TOKENS].create("leader", AccessRole.LEADER)
    response = await client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers={"Authorization": f"Bearer {token.secret}"},
    )
    assert response.status == 201
    await one[DISPATCHER].wait_idle()
    await aiohttp_client(two)  # a second instance on the same file, started while one is idle

    async def step(*apps: web.Application) -> None:
        for app in apps:
            await app[ESCALATOR].tick()
        for app in (one, two):
            await app[DISPATCHER].wait_idle()

    clock.advance(10 * MINUTE)
    await step(two, one)
    assert await _sms_and_email_counts(one[DATABASE]) == (1, 1, 0)
    clock.advance(10 * MINUTE)
    await step(one, two)
    assert await _sms_and_email_counts(two[DATABASE]) == (1, 1, 1)
    clock.advance(40 * MINUTE)
    await step(two, one)
    row = await one[DATABASE].fetch_one("SELECT state, next_step_at FROM callups")
    assert row is not None and tuple(row) == ("no_answer", None)
    assert await _sms_and_email_counts(one[DATABASE]) == (1, 1, 1)
    assert len(await list_sandbox_messages(one[DATABASE], phone(1))) == 2
    assert len(await list_sandbox_messages(one[DATABASE], mail("P1"))) == 1
