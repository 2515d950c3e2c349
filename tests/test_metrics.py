"""`GET /metrics`: Prometheus text that says what happened, per app, without a token.

Driven through the real app with the sandbox channels: a roster, a declaration through the
API, answers through the answer desk, then the scraped text parsed back with
prometheus_client's own parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import InboundSms
from dispatcher.clock import ManualClock, to_millis
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.metrics import LATENCY_BUCKETS, Metrics, stalled_seconds
from dispatcher.settings import settings_from_mapping
from dispatcher.store import outbox
from dispatcher.store.outbox import NewMessage
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ANSWER_DESK, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.conftest import START

Client = TestClient[web.Request, web.Application]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

ANNA, BO, CIA = "+46701000001", "+46701000002", "+46701000003"
UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Björkängen", "förskola", "Söder", "Björkvägen 2, Lerum", 1),
)
PEOPLE = tuple(
    Person(
        pid,
        f"Namn {pid}",
        phone,
        PhoneKind.MOBILE,
        f"{pid.lower()}@example.se",
        Role.ADMIN,
        100,
        "Ekonomi",
        unit,
        None,
    )
    for pid, phone, unit in (("P1", ANNA, "U1"), ("P2", BO, "U1"), ("P3", CIA, "U2"))
)
_sids = count(1)


async def put_roster(app: web.Application) -> None:
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )


async def declare(client: Client, app: web.Application, leader: str) -> None:
    response = await client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers={"Authorization": f"Bearer {leader}"},
    )
    assert response.status == 201, await response.text()
    await app[DISPATCHER].wait_idle()


async def answer(app: web.Application, sender: str, body: str) -> None:
    await app[ANSWER_DESK].handle_sms(InboundSms(f"SM{next(_sids):032d}", sender, body))


async def scrape(client: Client) -> str:
    """`GET /metrics` without a token, checked for status and content type."""
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await response.text()


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`; each metric
    asked for must be there."""
    matching = [v for (n, ls), v in samples.items() if n == name and labels.items() <= ls]
    assert matching, f"no sample {name} {labels}"
    return sum(matching)


def by_label(samples: Samples, name: str, label: str, **labels: str) -> Mapping[str, float]:
    """Non-zero sample values of `name` by one label's value."""
    found: dict[str, float] = {}
    for (n, ls), v in samples.items():
        if n == name and labels.items() <= ls and v:
            key = dict(ls)[label]
            found[key] = found.get(key, 0) + v
    return found


async def test_metrics_follow_a_dispatch_and_its_answers(
    client: Client, app: web.Application, tokens: dict[str, str]
) -> None:
    await put_roster(app)
    before = parse(await scrape(client))
    assert value(before, "krisdispatch_messages_handed_off_total") == 0
    assert value(before, "krisdispatch_activations") == 0

    await declare(client, app, tokens["leader"])
    declared = parse(await scrape(client))
    assert by_label(declared, "krisdispatch_callups", "state", kind="crisis") == {"awaiting": 3}

    await answer(app, ANNA, "JA 20")
    await answer(app, BO, "nej sjuk")
    await answer(app, CIA, "vad gäller det?")
    await answer(app, "+46709999999", "JA")  # a stranger
    await app[DISPATCHER].wait_idle()
    text = await scrape(client)
    samples = parse(text)

    handed_off = "krisdispatch_messages_handed_off_total"
    assert value(samples, handed_off, channel="sms", outcome="sent") == 3
    assert value(samples, handed_off, channel="sms", outcome="temporary") == 0
    assert value(samples, handed_off, channel="sms", outcome="permanent") == 0
    assert value(samples, handed_off, channel="email") == 0
    latency = "krisdispatch_provider_latency_seconds"
    assert value(samples, f"{latency}_count", channel="sms") == 3
    assert value(samples, f"{latency}_bucket", channel="sms", le="10.0") == 3
    buckets = {dict(ls)["le"] for (n, ls) in samples if n == f"{latency}_bucket"}
    assert buckets == {str(b) for b in LATENCY_BUCKETS} | {"+Inf"}

    replies = "krisdispatch_inbound_replies_total"
    assert by_label(samples, replies, "meaning") == {"yes": 2, "no": 1, "unknown": 1}
    assert by_label(samples, replies, "outcome") == {
        "applied": 2,
        "help": 1,
        "unknown_sender": 1,
    }
    assert value(samples, replies, meaning="yes", outcome="applied", channel="sms") == 1

    assert by_label(samples, "krisdispatch_callups", "state", kind="crisis") == {
        "confirmed": 1,
        "declined": 1,
        "awaiting": 1,
    }
    assert value(samples, "krisdispatch_callups", kind="drill") == 0
    assert by_label(samples, "krisdispatch_activations", "state", kind="crisis") == {"active": 1}
    assert value(samples, "krisdispatch_outbox_messages") == 0
    assert value(samples, "krisdispatch_dispatcher_stalled_seconds") == 0

    # Counts only: nothing about the people called or what they wrote.
    for person in PEOPLE:
        assert person.name not in text and person.phone is not None
        assert person.phone not in text and person.phone.lstrip("+") not in text
    assert "sjuk" not in text and "Storm" not in text


async def test_two_apps_in_one_process_keep_their_own_counts(
    aiohttp_client: AiohttpClient,
    client: Client,
    app: web.Application,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    other_settings = settings_from_mapping({"service": {"database": str(tmp_path / "b.db")}}, {})
    other_app = create_app(other_settings, clock=ManualClock(START))
    other_client = await aiohttp_client(other_app)
    await put_roster(app)
    await declare(client, app, tokens["leader"])
    await answer(app, ANNA, "ja")

    first, second = parse(await scrape(client)), parse(await scrape(other_client))
    handed_off = "krisdispatch_messages_handed_off_total"
    assert value(first, handed_off, channel="sms", outcome="sent") == 3
    assert value(second, handed_off, channel="sms", outcome="sent") == 0
    assert value(first, "krisdispatch_inbound_replies_total", meaning="yes") == 1
    assert by_label(second, "krisdispatch_inbound_replies_total", "meaning") == {}
    assert value(second, "krisdispatch_provider_latency_seconds_count") == 0


async def test_stall_counts_from_when_work_fell_due_while_nothing_moved(
    client: Client, app: web.Application, clock: ManualClock
) -> None:
    await app[DISPATCHER].stop()  # a dispatcher that moves nothing any more
    due_at = START + timedelta(seconds=30)
    async with app[DATABASE].transaction() as conn:
        await outbox.enqueue(
            conn,
            [NewMessage(None, None, "sms", "gap_report", "+46701000009", "Lägesrapport")],
            to_millis(due_at),
        )
    stalled = "krisdispatch_dispatcher_stalled_seconds"

    waiting = parse(await scrape(client))  # queued, but not due yet: nothing to alert on
    assert value(waiting, stalled) == 0
    outbox_messages = "krisdispatch_outbox_messages"
    assert by_label(waiting, outbox_messages, "state", channel="sms") == {"scheduled": 1}

    clock.set(due_at + timedelta(seconds=120))
    stuck = parse(await scrape(client))
    assert value(stuck, stalled) == 120
    assert by_label(stuck, outbox_messages, "state", channel="sms") == {"due": 1}


def test_stall_counts_from_the_later_of_progress_and_due_time() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    minutes = [now - timedelta(minutes=m) for m in range(11)]
    assert stalled_seconds(now, minutes[10], None) == 0  # idle: nothing due
    assert stalled_seconds(now, minutes[10], minutes[2]) == 120  # due after a quiet time
    assert stalled_seconds(now, minutes[1], minutes[5]) == 60  # moving, then stuck
    assert stalled_seconds(now, now, minutes[5]) == 0  # moving right now


def test_a_fresh_registry_per_metrics_object() -> None:
    first, second = Metrics(), Metrics()
    first.handed_off("sms", "permanent", 0.2)
    first.answered("sms", "stop", "opted_out")
    assert first.registry is not second.registry
    assert (
        first.registry.get_sample_value(
            "krisdispatch_messages_handed_off_total", {"channel": "sms", "outcome": "permanent"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "krisdispatch_messages_handed_off_total", {"channel": "sms", "outcome": "permanent"}
        )
        == 0
    )
    assert (
        first.registry.get_sample_value(
            "krisdispatch_provider_latency_seconds_bucket", {"channel": "sms", "le": "0.25"}
        )
        == 1
    )
