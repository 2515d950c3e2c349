"""Declaring activations through the real app with the sandbox channels.

The same flows through the real twilio library and a real SMTP server are in
test_dispatch_e2e.py; here the sandbox records what would be sent.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import term_of
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import DATABASE, DISPATCHER
from dispatcher.web.app import create_app

Client = TestClient[web.Request, web.Application]

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Björkängens förskola", "förskola", "Norr", "Björkvägen 2, Lerum", None),
    Unit("U3", "Ekbackens skola", "grundskola", "Söder", "Ekvägen 3, Lerum", 1),
)


def person(
    pid: str,
    placement: str,
    *,
    phone: str | None = None,
    email: str | None = None,
    protected: bool = False,
) -> Person:
    return Person(
        person_id=pid,
        name=f"Namn {pid}",
        phone=phone,
        phone_kind=PhoneKind.MOBILE if phone else PhoneKind.NONE,
        email=email,
        role=Role.ADMIN,
        pay_pct=100,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
        protected=protected,
    )


PEOPLE = (
    person("P1", "U1", phone="+46701000001", email="p1@example.se"),
    person("P2", "U1", phone="+46701000002"),
    person("P3", "U1", email="p3@example.se"),  # no mobile: e-mail
    person("P4", "U2", phone="+46701000004"),
    person("P5", "U2"),  # nobody can reach P5
    person("P6", "U3", phone="+46701000006", protected=True),
)


@pytest.fixture
async def roster(client: Client, app: web.Application) -> Roster:
    roster = Roster(
        UNITS,
        PEOPLE,
        (TrainingWeek("P1", "U1", term_of(date(2026, 2, 2)), date(2026, 2, 2)),),
    )
    await replace_roster(
        app[DATABASE], roster, imported_by="test", source="test", warnings=0, imported_at_ms=0
    )
    return roster


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def declare(client: Client, token: str, **body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/activations", json=body, headers=auth(token))
    return response.status, await response.json()


async def sandbox(app: web.Application) -> list[tuple[str, str, str]]:
    rows = await app[DATABASE].fetch_all(
        "SELECT channel, recipient, body FROM sandbox_messages ORDER BY recipient"
    )
    return [(r["channel"], r["recipient"], r["body"]) for r in rows]


async def test_declare_calls_everyone_placed_in_scope_once(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    status, body = await declare(
        client, tokens["leader"], kind="drill", title="Storm", scope={"areas": ["norr"]}
    )
    assert status == 201
    assert body["state"] == "active"
    assert body["kind"] == "drill"
    await app[DISPATCHER].wait_idle()
    sent = await sandbox(app)
    assert [(c, r) for c, r, _ in sent] == [
        ("sms", "+46701000001"),
        ("sms", "+46701000002"),
        ("sms", "+46701000004"),
        ("email", "p3@example.se"),
    ]
    sms_to_p1 = sent[0][2]
    assert sms_to_p1.startswith("ÖVNING")
    assert "Solgården" in sms_to_p1
    assert "JA" in sms_to_p1

    response = await client.get(
        f"/api/activations/{body['id']}/status", headers=auth(tokens["viewer"])
    )
    status_body = await response.json()
    assert status_body["totals"] == {
        "called": 5,
        "needed": 4,
        "confirmed": 0,
        "declined": 0,
        "awaiting": 4,
        "no_answer": 0,
        "failed": 1,
        "gap": 4,
    }
    units = {u["unit_id"]: u for u in status_body["units"]}
    assert units["U1"]["needed"] == 2 and units["U1"]["gap"] == 2
    assert units["U2"]["needed"] == 2 and units["U2"]["failed"] == 1  # needed = all placed there


async def test_status_etag_answers_304_until_something_changes(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    _, body = await declare(client, tokens["leader"], kind="crisis", title="Strömavbrott")
    url = f"/api/activations/{body['id']}/status"
    first = await client.get(url, headers=auth(tokens["viewer"]))
    etag = first.headers["ETag"]
    again = await client.get(url, headers={**auth(tokens["viewer"]), "If-None-Match": etag})
    assert again.status == 304
    await app[DATABASE].fetch_all("SELECT 1")
    async with app[DATABASE].transaction() as conn:
        await conn.execute("UPDATE callups SET state = 'confirmed' WHERE person_id = 'P1'")
    changed = await client.get(url, headers={**auth(tokens["viewer"]), "If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert (await changed.json())["totals"]["confirmed"] == 1


async def test_same_idempotency_key_returns_the_first_activation(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    first_status, first = await declare(
        client, tokens["leader"], kind="crisis", title="Storm", idempotency_key="k-1"
    )
    second_status, second = await declare(
        client, tokens["leader"], kind="crisis", title="Storm", idempotency_key="k-1"
    )
    assert (first_status, second_status) == (201, 200)
    assert second["id"] == first["id"]
    rows = await app[DATABASE].fetch_all("SELECT COUNT(*) FROM callups")
    assert rows[0][0] == len(PEOPLE)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "storm", "title": "x"}, "kind"),
        ({"kind": "crisis"}, "title"),
        ({"kind": "crisis", "title": "   "}, "title"),
        ({"kind": "crisis", "title": "x" * 61}, "title"),
        ({"kind": "crisis", "title": "x", "scope": {"areas": ["Atlantis"]}}, "scope.areas"),
        ({"kind": "crisis", "title": "x", "scope": {"units": ["U99"]}}, "scope.units"),
        ({"kind": "crisis", "title": "x", "scope": {"areas": "Norr"}}, "scope.areas"),
        ({"kind": "crisis", "title": "x", "scope": {"planets": []}}, "scope.planets"),
        ({"kind": "crisis", "title": "x", "message": "ö" * 290}, "message"),
        ({"kind": "crisis", "title": "x", "message": "Kom 🚒"}, "message"),
        ({"kind": "crisis", "title": "x", "idempotency_key": 7}, "idempotency_key"),
    ],
)
async def test_bad_declaration_names_the_field_and_stores_nothing(
    client: Client,
    app: web.Application,
    tokens: dict[str, str],
    roster: Roster,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post("/api/activations", json=body, headers=auth(tokens["leader"]))
    assert response.status == 400
    assert (await response.json())["error"].startswith(f"{field}:")
    rows = await app[DATABASE].fetch_all("SELECT COUNT(*) FROM activations")
    assert rows[0][0] == 0


async def test_viewer_may_not_declare(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    status, body = await declare(client, tokens["viewer"], kind="crisis", title="Storm")
    assert status == 403
    assert "leader" in body["error"]


async def test_preview_counts_and_stores_nothing(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    response = await client.post(
        "/api/activations/preview",
        json={"kind": "crisis", "title": "Storm"},
        headers=auth(tokens["leader"]),
    )
    body = await response.json()
    assert response.status == 200
    assert body["people"] == 6
    assert body["sms"]["count"] == 4
    assert body["emails"] == 1
    assert [u["people"] for u in body["units"]] == [3, 2, 1]
    assert [p["person_id"] for p in body["unreachable"]] == ["P5"]
    assert body["send_seconds"] > 0
    rows = await app[DATABASE].fetch_all("SELECT COUNT(*) FROM messages")
    assert rows[0][0] == 0


async def test_two_person_rule_holds_crisis_messages(
    aiohttp_client: Any,
    settings: Any,
    clock: Any,
    roster: Roster,
    tokens: dict[str, str],
    client: Client,
    app: web.Application,
) -> None:
    strict = dataclasses.replace(
        settings, escalation=dataclasses.replace(settings.escalation, two_person_approval=True)
    )
    strict_client = await aiohttp_client(create_app(strict, clock=clock))
    crisis = await strict_client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers=auth(tokens["leader"]),
    )
    drill = await strict_client.post(
        "/api/activations",
        json={"kind": "drill", "title": "Övning"},
        headers=auth(tokens["leader"]),
    )
    assert (await crisis.json())["state"] == "awaiting_approval"
    assert (await drill.json())["state"] == "active"  # drills need no approval
    rows = await app[DATABASE].fetch_all(
        "SELECT activation_id, COUNT(*) FROM callups GROUP BY activation_id"
    )
    assert [r[0] for r in rows] == [(await drill.json())["id"]]


async def test_person_with_two_open_callups_gets_the_reply_code(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    _, first = await declare(client, tokens["leader"], kind="drill", title="Övning")
    _, second = await declare(client, tokens["leader"], kind="crisis", title="Storm")
    await app[DISPATCHER].wait_idle()
    assert first["reply_code"] != second["reply_code"]
    rows = await app[DATABASE].fetch_all(
        "SELECT m.body, c.activation_id FROM messages m JOIN callups c ON c.id = m.callup_id"
        " WHERE m.recipient = '+46701000001' ORDER BY m.id"
    )
    drill_sms, crisis_sms = (r["body"] for r in rows)
    assert second["reply_code"] not in drill_sms
    assert f"JA {second['reply_code']}" in crisis_sms


async def test_callup_list_hides_protected_people(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    _, body = await declare(client, tokens["leader"], kind="crisis", title="Storm")
    await app[DISPATCHER].wait_idle()
    response = await client.get(
        f"/api/activations/{body['id']}/callups", headers=auth(tokens["viewer"])
    )
    callups = {c["unit_id"] + ":" + c["name"]: c for c in (await response.json())["callups"]}
    assert "U3:skyddad person" in callups
    assert callups["U3:skyddad person"]["person_id"] is None
    assert "Namn P6" not in str(callups)
    assert callups["U2:Namn P5"]["state"] == "failed"


async def test_unknown_activation_is_404(client: Client, tokens: dict[str, str]) -> None:
    response = await client.get("/api/activations/nope/status", headers=auth(tokens["viewer"]))
    assert response.status == 404
    assert "nope" in (await response.json())["error"]


async def test_readiness_endpoint(client: Client, tokens: dict[str, str], roster: Roster) -> None:
    response = await client.get("/api/roster/readiness", headers=auth(tokens["viewer"]))
    body = await response.json()
    assert response.status == 200
    assert body["totals"]["people"] == 6
    assert [p["person_id"] for p in body["unreachable"]] == ["P5"]
