"""End to end through the real app: a roster imported with the CLI, a drill declared over the
API, call-ups out through the real twilio library to the fake Twilio and through aiosmtplib to
a real SMTP server; then what every phone and mailbox received, and what the API says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient, AiohttpServer

from tests.e2e_support import (
    DispatchWorld,
    StaffRow,
    UnitRow,
    e164,
    mobile,
    running_world,
    write_roster,
)

UNITS = (
    UnitRow("N1", "Norrgårdens förskola", "förskola", "Norr", "Norrvägen 1"),
    UnitRow("N2", "Äldreboendet Björkhagen", "äldreomsorg", "Norr", "Björkvägen 2", "5"),
    UnitRow("N3", "Hemtjänst Norr", "hemtjänst", "Norr", "Storgatan 3"),
    UnitRow("S1", "Söderskolan", "grundskola", "Söder", "Södergatan 4"),
    UnitRow("S2", "Köket Söder", "kök", "Söder", "Kökvägen 5"),
)
UNIT_NAMES = {u.unit_id: u.name for u in UNITS}


def _email(person_id: str) -> str:
    return f"{person_id.lower()}@exempelkommun.se"


def _staff() -> list[StaffRow]:
    """40 people placed in Norr (in scope) and 20 who must get nothing."""
    staff = []
    for i in range(1, 31):  # a mobile each, every other one an e-mail too
        pid = f"P{i:03d}"
        email = _email(pid) if i % 2 else ""
        staff.append(StaffRow(pid, f"Norr Person {i}", f"N{i % 3 + 1}", mobile(i), email))
    staff += [
        StaffRow("P031", "Ebba Utanmobil", "N1", "", _email("P031")),
        StaffRow("P032", "Erik Utanmobil", "N2", "", _email("P032")),
        StaffRow("P033", "Elsa Utanmobil", "N3", "", _email("P033")),
        StaffRow("P034", "Fredrik Fast", "N1", "08-712 34 56", _email("P034")),
        StaffRow("P035", "Frida Fast", "N2", "031-71 23 45", _email("P035")),
        StaffRow("P036", "Rolf Refuserad", "N1", mobile(36), _email("P036")),
        StaffRow("P037", "Rut Refuserad", "N2", mobile(37)),  # refused, no e-mail
        StaffRow("P038", "Nils Ingenting", "N3"),  # neither mobile nor e-mail
        StaffRow("P039", "Rebecka Reserv", "N1", mobile(39), reserve="S1"),
        StaffRow("P040", "Ragnar Reserv", "N3", mobile(40), reserve="S2"),
    ]
    for i in range(41, 56):  # placed in Söder: out of scope
        pid = f"Q{i:03d}"
        staff.append(StaffRow(pid, f"Söder Person {i}", f"S{i % 2 + 1}", mobile(i), _email(pid)))
    staff += [
        StaffRow("Q056", "Sara Söder", "S1", "", _email("Q056")),
        StaffRow("Q057", "Sven Söder", "S2", "08-712 34 57", _email("Q057")),
        # Reserve placements in Norr are not called at declaration (they fill gaps later).
        StaffRow("Q058", "Viktor Reserv", "S1", mobile(58), _email("Q058"), reserve="N1"),
        StaffRow("Q059", "Vera Reserv", "S2", mobile(59), reserve="N2"),
        StaffRow("Q060", "Olle Oplacerad", "", mobile(60), _email("Q060"), reserve="N3"),
    ]
    return staff


STAFF = _staff()
IN_SCOPE = [s for s in STAFF if s.placement.startswith("N")]
OUT_OF_SCOPE = [s for s in STAFF if not s.placement.startswith("N")]
REFUSED = {"P036": e164(36), "P037": e164(37)}  # the fake answers 21211 for these numbers
FAILED = {"P037", "P038"}  # refused with no e-mail; neither contact
DRILL = {"kind": "drill", "title": "Stormen Norr", "scope": {"areas": ["Norr"]}}


def _number(staff: StaffRow) -> str | None:
    """The E.164 mobile the importer makes of `staff.phone`, or None for none or a fixed line."""
    if not staff.phone.startswith("070-"):
        return None
    return "+4670" + staff.phone[4:].replace(" ", "")


@pytest.fixture
async def world(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> AsyncIterator[DispatchWorld]:
    roster = write_roster(tmp_path / "roster", UNITS, STAFF)
    async with running_world(tmp_path, aiohttp_server, aiohttp_client, roster) as world:
        for number in REFUSED.values():
            world.fake.refuse(number, 21211)
        yield world


async def test_every_person_in_scope_gets_exactly_one_callup(world: DispatchWorld) -> None:
    activation = await world.declare(DRILL)
    await world.dispatcher.wait_idle()

    sms, emails = world.sms_per_number(), world.emails_per_address()
    expected_sms = {_number(s): s for s in IN_SCOPE if _number(s) and s.person_id not in REFUSED}
    expected_email = {
        s.email: s for s in IN_SCOPE if s.email and (_number(s) is None or s.person_id in REFUSED)
    }
    assert dict(sms) == dict.fromkeys(expected_sms, 1)
    assert dict(emails) == dict.fromkeys(expected_email, 1)
    assert all(not emails[s.email] for s in expected_sms.values())  # SMS alone when it works
    for s in OUT_OF_SCOPE:
        assert not sms[_number(s) or ""] and not emails[s.email or "-"], s.person_id

    for message in world.fake.messages:
        person = expected_sms[message.to]
        unit = next(u for u in UNITS if u.unit_id == person.placement)
        assert message.body.startswith("ÖVNING: "), message.body
        assert unit.name in message.body and unit.address in message.body
        assert "Svara JA" in message.body and "NEJ" in message.body
        assert message.from_ == "+46766860000"
    for email in world.smtp.messages:
        person = expected_email[str(email["To"])]
        assert str(email["Subject"]).startswith("ÖVNING: ")
        body = email.get_body(preferencelist=("plain",))
        assert body is not None
        assert UNIT_NAMES[person.placement] in body.get_content()

    assert set((await world.outbox_states()).keys()) == {"sent", "failed_permanent"}
    refused_rows = await world.db.fetch_all(
        "SELECT recipient, error_code FROM messages WHERE state = 'failed_permanent'"
    )
    assert sorted(tuple(r) for r in refused_rows) == sorted(
        (number, "21211") for number in REFUSED.values()
    )
    assert activation["state"] == "active"


async def test_status_callups_and_contact_problems_add_up(world: DispatchWorld) -> None:
    activation = await world.declare(DRILL)
    await world.dispatcher.wait_idle()

    status = await world.get(f"/api/activations/{activation['id']}/status")
    totals = status["totals"]
    buckets = ("confirmed", "declined", "awaiting", "no_answer", "failed")
    assert totals["called"] == len(IN_SCOPE) == sum(totals[b] for b in buckets)
    assert (totals["failed"], totals["awaiting"]) == (len(FAILED), len(IN_SCOPE) - len(FAILED))
    units = {u["unit_id"]: u for u in status["units"]}
    assert set(units) == {"N1", "N2", "N3"}
    for unit_id, unit in units.items():
        placed = sum(1 for s in IN_SCOPE if s.placement == unit_id)
        assert unit["called"] == placed == sum(unit[b] for b in buckets)
    assert units["N2"]["needed"] == 5  # crisis_need; the others need everyone placed there

    listed = (await world.get(f"/api/activations/{activation['id']}/callups"))["callups"]
    by_person = {c["person_id"]: c for c in listed}
    assert set(by_person) == {s.person_id for s in IN_SCOPE}
    assert {p for p, c in by_person.items() if c["state"] == "failed"} == FAILED
    assert (by_person["P036"]["channel"], by_person["P036"]["message_state"]) == ("email", "sent")
    assert (by_person["P037"]["channel"], by_person["P037"]["error_code"]) == ("sms", "21211")
    assert by_person["P031"]["channel"] == "email" and by_person["P001"]["channel"] == "sms"

    problems = await world.db.fetch_all(
        "SELECT person_id, channel, address, error_code FROM contact_problems ORDER BY person_id"
    )
    assert [tuple(r) for r in problems] == [
        (person_id, "sms", number, "21211") for person_id, number in sorted(REFUSED.items())
    ]


async def test_the_same_idempotency_key_declares_once(world: DispatchWorld) -> None:
    body = {**DRILL, "idempotency_key": "stormen-norr-1"}
    first = await world.declare(body)
    await world.dispatcher.wait_idle()
    sent = (len(world.fake.messages), len(world.smtp.messages), await world.count("messages"))
    assert sent[0] > 0

    status, again = await world.post("/api/activations", body)
    await world.dispatcher.wait_idle()

    assert (status, again["id"]) == (200, first["id"])
    assert (await world.count("activations"), await world.count("callups")) == (1, len(IN_SCOPE))
    assert (
        len(world.fake.messages),
        len(world.smtp.messages),
        await world.count("messages"),
    ) == sent


async def test_preview_gives_the_figures_and_stores_nothing(world: DispatchWorld) -> None:
    status, preview = await world.post("/api/activations/preview", DRILL)
    await world.dispatcher.wait_idle()

    assert status == 200, preview
    assert preview["people"] == len(IN_SCOPE)
    assert {u["unit_id"]: u["people"] for u in preview["units"]} == {
        unit_id: sum(1 for s in IN_SCOPE if s.placement == unit_id)
        for unit_id in ("N1", "N2", "N3")
    }
    with_mobile = [s for s in IN_SCOPE if _number(s)]
    assert preview["sms"]["count"] == len(with_mobile)  # the refused numbers are not known yet
    assert preview["sms"]["segments"] >= len(with_mobile)
    assert 1 <= preview["sms"]["longest_segments"] <= 2
    assert preview["emails"] == sum(1 for s in IN_SCOPE if not _number(s) and s.email)
    assert [u["person_id"] for u in preview["unreachable"]] == ["P038"]
    assert preview["send_seconds"] >= 0

    for table in ("activations", "callups", "messages", "contact_problems"):
        assert await world.count(table) == 0, table
    assert (world.fake.messages, world.smtp.messages) == ([], [])
