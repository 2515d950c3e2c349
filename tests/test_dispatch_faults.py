"""Fault injection end to end: the fake Twilio answers 429 in bursts, 500 at random, or hangs
(creating the message first, or not at all; for less or longer than the send's timeout);
in the end every person has exactly one SMS at the fake and every outbox row is `sent`.

The retry policy is not a setting, so retries come at their real backoff on a ManualClock:
`settle` moves the clock on whenever the dispatcher is idle with retries still waiting.
The clock starts at the real time, because the lost-answer lookup compares the claim time
with the times the fake Twilio stamps on its messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from dispatcher.clock import ManualClock, to_millis
from tests.e2e_support import (
    DispatchWorld,
    StaffRow,
    UnitRow,
    e164,
    mobile,
    running_world,
    settle,
    write_roster,
)

PEOPLE = 300
UNITS = tuple(
    UnitRow(f"U{i}", f"Enhet {i}", "förskola", area, f"Gatan {i}")
    for i, area in enumerate(("Norr", "Söder", "Centrum", "Väster", "Öster", "Norr"), start=1)
)
DECLARATION = {"kind": "crisis", "title": "Strömavbrott"}
TIMEOUT = 0.5  # [sms.twilio] timeout_seconds in these tests
ESCALATION_STEPS = (
    "remind_after_minutes",
    "other_channel_after_minutes",
    "answer_deadline_minutes",
)

MakeWorld = Callable[[int], Awaitable[DispatchWorld]]


@pytest.fixture
def clock() -> ManualClock:
    # Whole seconds: a Retry-After of 30 s then lands on exactly the millisecond we move to.
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def make_world(
    tmp_path: Path,
    aiohttp_server: AiohttpServer,
    aiohttp_client: AiohttpClient,
    clock: ManualClock,
) -> AsyncIterator[MakeWorld]:
    """A world whose roster has `people` people, each with their own mobile and no e-mail."""
    async with AsyncExitStack() as stack:

        async def make(people: int) -> DispatchWorld:
            staff = [
                StaffRow(f"P{i:04d}", f"Person {i}", UNITS[i % len(UNITS)].unit_id, mobile(i))
                for i in range(people)
            ]
            roster = write_roster(tmp_path / "roster", UNITS, staff)
            settings = {
                "sms": {"twilio": {"timeout_seconds": TIMEOUT}},
                # No reminders while the clock moves: these tests count call-ups.
                "escalation": dict.fromkeys(ESCALATION_STEPS, 24 * 60),
            }
            return await stack.enter_async_context(
                running_world(
                    tmp_path, aiohttp_server, aiohttp_client, roster, clock=clock, settings=settings
                )
            )

        yield make


async def assert_everyone_got_exactly_one(world: DispatchWorld, people: int) -> None:
    assert dict(world.sms_per_number()) == {e164(i): 1 for i in range(people)}
    assert dict(await world.outbox_states()) == {"sent": people}
    rows = await world.db.fetch_all("SELECT COUNT(DISTINCT provider_id) FROM messages")
    assert rows[0][0] == people  # each row holds the id of its own message at Twilio
    failed = await world.db.fetch_all("SELECT COUNT(*) FROM callups WHERE state != 'awaiting'")
    assert failed[0][0] == 0


async def found_after_lost_answer(world: DispatchWorld) -> int:
    """Messages recorded as sent because a lookup at Twilio found them."""
    rows = await world.db.fetch_all(
        "SELECT COUNT(*) FROM messages WHERE provider_status = 'found after lost answer'"
    )
    return int(rows[0][0])


async def test_429_bursts_are_waited_out_honouring_retry_after(
    make_world: MakeWorld, clock: ManualClock
) -> None:
    world = await make_world(PEOPLE)
    world.fake.rate_limit(40, retry_after=30)
    await world.declare(DECLARATION)
    await world.dispatcher.wait_idle()

    assert len(world.fake.messages) == PEOPLE - 40
    waiting = await world.db.fetch_all(
        "SELECT error_code, next_attempt_at FROM messages WHERE state = 'failed_temporary'"
    )
    now_ms = to_millis(clock.now())
    assert len(waiting) == 40
    assert all(r[0] == "20429" and r[1] >= now_ms + 30_000 for r in waiting)

    clock.advance(timedelta(seconds=29))
    await world.dispatcher.wait_idle()
    assert len(world.fake.messages) == PEOPLE - 40  # not before Retry-After

    world.fake.rate_limit(10, retry_after=60)  # a second burst hits the retries
    clock.advance(timedelta(seconds=1))
    await world.dispatcher.wait_idle()
    assert len(world.fake.messages) == PEOPLE - 10
    clock.advance(timedelta(seconds=59))
    await world.dispatcher.wait_idle()
    assert len(world.fake.messages) == PEOPLE - 10  # Retry-After beats the shorter backoff

    clock.advance(timedelta(seconds=1))
    assert await settle(world, clock) == 0
    await assert_everyone_got_exactly_one(world, PEOPLE)


async def test_random_server_errors_are_retried_until_all_are_sent(
    make_world: MakeWorld, clock: ManualClock
) -> None:
    world = await make_world(PEOPLE)
    world.fake.fail_randomly(0.2, seed=2026)
    await world.declare(DECLARATION)

    moves = await settle(world, clock)

    await assert_everyone_got_exactly_one(world, PEOPLE)
    retried = await world.db.fetch_all("SELECT COUNT(*) FROM messages WHERE attempts > 1")
    assert 20 <= retried[0][0] <= 120  # about a fifth failed at least once
    assert moves >= 2


async def test_answers_lost_in_a_hang_are_found_not_sent_again(
    make_world: MakeWorld, clock: ManualClock
) -> None:
    """Twilio creates each message, then hangs: every send times out with its message made.
    Once the dispatcher starts asking Twilio what it got, Twilio answers again."""
    world = await make_world(PEOPLE)
    fake = world.fake
    fake.hang(after_create=True)
    await world.declare(DECLARATION)
    # Twilio answers again as soon as the dispatcher asks what it got (the first lookup).
    try:
        await fake.wait_until(lambda: world.twilio_requests["GET"] > 0, timeout=10)
    except TimeoutError:
        pytest.fail("the dispatcher never asked Twilio about the sends that timed out")
    fake.release()

    await settle(world, clock)

    await assert_everyone_got_exactly_one(world, PEOPLE)
    assert await found_after_lost_answer(world) >= 1


async def test_a_hang_before_anything_is_created_is_retried_once_twilio_answers(
    make_world: MakeWorld, clock: ManualClock
) -> None:
    """Twilio hangs for longer than the sends and the lookups wait. Nothing is created: under
    `aiohttp_server` (handler_cancellation on) the fake drops a request whose client has gone.
    Everything waits for a retry, which asks Twilio first and then sends."""
    people = 100  # each send takes two timeouts here: keep the run short
    world = await make_world(people)
    world.fake.hang()
    await world.declare(DECLARATION)
    await world.dispatcher.wait_idle()

    assert world.fake.messages == []
    assert dict(await world.outbox_states()) == {"failed_temporary": people}
    world.fake.release()
    await settle(world, clock)

    await assert_everyone_got_exactly_one(world, people)


async def test_answers_lost_in_a_long_hang_are_not_sent_twice(
    make_world: MakeWorld, clock: ManualClock
) -> None:
    """Twilio creates each message, then hangs for longer than the send and the lookup wait:
    the retry must ask Twilio first, once it answers again, and find every one."""
    people = 100
    world = await make_world(people)
    world.fake.hang(after_create=True)
    await world.declare(DECLARATION)
    await world.dispatcher.wait_idle()

    assert len(world.fake.messages) == people  # all created, none of the answers arrived
    assert dict(await world.outbox_states()) == {"failed_temporary": people}
    world.fake.release()
    await settle(world, clock)

    await assert_everyone_got_exactly_one(world, people)
    assert await found_after_lost_answer(world) == people
