"""The sandbox channels: they record to `sandbox_messages`, list them, and answer find_sent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.channels import Outcome, OutgoingEmail, OutgoingSms, open_channels
from dispatcher.channels.sandbox import (
    SandboxEmailChannel,
    SandboxSmsChannel,
    list_sandbox_messages,
)
from dispatcher.clock import ManualClock
from dispatcher.settings import Settings
from dispatcher.store.database import Database

ALICE, BOB = "+46701234567", "+46709876543"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "db.sqlite3")
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def test_open_channels_defaults_to_the_sandbox(db: Database, clock: ManualClock) -> None:
    sms, email = await open_channels(Settings(), db, clock=clock)
    assert isinstance(sms, SandboxSmsChannel)
    assert isinstance(email, SandboxEmailChannel)
    await sms.close()
    await email.close()


async def test_sms_and_email_are_recorded_and_listed_newest_first(
    db: Database, clock: ManualClock
) -> None:
    sms = SandboxSmsChannel(db, clock)
    email = SandboxEmailChannel(db, clock, "kris@exempelkommun.se")
    texted = await sms.send(OutgoingSms(1, ALICE, "ÖVNING: kom till Centrumskolan"))
    clock.advance(timedelta(seconds=1))
    mailed = await email.send(
        OutgoingEmail(2, "anna@example.se", "Inkallelse – övning", "Text", "<p>Text</p>")
    )
    assert texted.outcome is mailed.outcome is Outcome.SENT
    assert re.fullmatch(r"SB[0-9a-f]{32}", str(texted.provider_id))
    assert re.fullmatch(r"<krisdispatch\.2\.[0-9a-f]+@exempelkommun\.se>", str(mailed.provider_id))

    newest, oldest = await list_sandbox_messages(db)
    assert (newest.channel, newest.recipient, newest.subject) == (
        "email",
        "anna@example.se",
        "Inkallelse – övning",
    )
    assert (newest.body, newest.html, newest.provider_id) == (
        "Text",
        "<p>Text</p>",
        mailed.provider_id,
    )
    assert (oldest.channel, oldest.recipient, oldest.body) == (
        "sms",
        ALICE,
        "ÖVNING: kom till Centrumskolan",
    )
    assert (oldest.subject, oldest.html, oldest.provider_id) == (None, None, texted.provider_id)
    assert (oldest.created_at, newest.created_at) == (START, START + timedelta(seconds=1))


async def test_listing_by_recipient_and_limit(db: Database, clock: ManualClock) -> None:
    sms = SandboxSmsChannel(db, clock)
    for n, to in enumerate([ALICE, BOB, ALICE, ALICE]):
        await sms.send(OutgoingSms(n, to, f"meddelande {n}"))
    assert [m.body for m in await list_sandbox_messages(db, BOB)] == ["meddelande 1"]
    listed = await list_sandbox_messages(db, ALICE, limit=2)
    assert [m.body for m in listed] == ["meddelande 3", "meddelande 2"]


async def test_every_send_is_recorded_even_a_resend(db: Database, clock: ManualClock) -> None:
    email = SandboxEmailChannel(db, clock, "kris@exempelkommun.se")
    message = OutgoingEmail(5, "anna@example.se", "Ämne", "Text")
    first, again = await email.send(message), await email.send(message)
    assert first.provider_id != again.provider_id
    assert len(await list_sandbox_messages(db, "anna@example.se")) == 2


async def test_find_sent_answers_from_the_table(db: Database, clock: ManualClock) -> None:
    sms = SandboxSmsChannel(db, clock)
    before = await sms.send(OutgoingSms(1, ALICE, "före"))
    clock.advance(timedelta(minutes=1))
    claimed_at = clock.now()
    after = await sms.send(OutgoingSms(2, ALICE, "efter"))
    await sms.send(OutgoingSms(3, BOB, "annan"))
    assert await sms.find_sent(ALICE, claimed_at) == [after.provider_id]
    assert await sms.find_sent(ALICE, START) == [before.provider_id, after.provider_id]
    assert await sms.find_sent(ALICE, claimed_at + timedelta(seconds=1)) == []
