"""The audit log through the real app and the command line: what is recorded, who may read
it, that nothing can change it, and that no list of people names a protected person."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher import audit
from dispatcher.answer_desk import InboundSms
from dispatcher.cli import main
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import Settings
from dispatcher.store.callups import ContactProblem, note_contact_problems
from dispatcher.store.database import Database
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER
from dispatcher.web.app import create_app

Client = TestClient[web.Request, web.Application]

ROSTER_FILES = Path(__file__).parent / "roster_files" / "good"

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U3", "Ekbackens skola", "grundskola", "Söder", "Ekvägen 3, Lerum", 1),
)

# The protected people: none of these strings may appear in any response.
HIDDEN_ID, HIDDEN_PHONE, HIDDEN_EMAIL = "E-HEMLIG-6", "+46709999966", "hedda.hemlig@example.se"
UNREACHABLE_ID = "E-OSYNLIG-8"
SECRETS = (
    HIDDEN_ID,
    "Hedda",
    "Hemlig",
    HIDDEN_PHONE,
    "709999966",
    "0709999966",
    HIDDEN_EMAIL,
    UNREACHABLE_ID,
    "Ingrid",
    "Osynlig",
)


def person(
    pid: str,
    name: str,
    placement: str,
    *,
    phone: str | None = None,
    email: str | None = None,
    protected: bool = False,
) -> Person:
    return Person(
        person_id=pid,
        name=name,
        phone=phone,
        phone_kind=PhoneKind.MOBILE if phone else PhoneKind.NONE,
        email=email,
        role=Role.MANAGER,
        pay_pct=100,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
        protected=protected,
    )


PEOPLE = (
    person("P1", "Vera Lind", "U1", phone="+46701000001"),
    person("P2", "Bo Ek", "U3", email="bo.ek@example.se"),
    person(HIDDEN_ID, "Hedda Hemlig", "U3", phone=HIDDEN_PHONE, email=HIDDEN_EMAIL, protected=True),
    person(UNREACHABLE_ID, "Ingrid Osynlig", "U1", protected=True),  # nobody can reach her
)


async def import_roster(app: web.Application) -> None:
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE, ()),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


async def audit_entries(client: Client, admin: str, query: str = "") -> dict[str, Any]:
    response = await client.get(f"/api/audit{query}", headers=auth(admin))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def me(client: Client, token: str) -> int:
    response = await client.get("/api/me", headers=auth(token))
    return int((await response.json())["id"])


async def test_every_action_is_recorded_with_who_when_and_where(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str]
) -> None:
    await import_roster(app)
    leader, viewer, admin = tokens["leader"], tokens["viewer"], tokens["admin"]
    response = await client.post(
        "/api/activations",
        json={"kind": "drill", "title": "Storm"},
        headers=auth(leader, **{"X-Request-Id": "declare-1"}),
    )
    activation_id = (await response.json())["id"]
    await client.get(f"/api/activations/{activation_id}/callups", headers=auth(viewer))
    clock.advance(timedelta(minutes=1))
    await client.get("/api/roster/readiness", headers=auth(viewer))
    await client.post(f"/api/activations/{activation_id}/stand-down", headers=auth(leader))
    await client.post(f"/api/activations/{activation_id}/stand-down", headers=auth(leader))
    created = await client.post(
        "/api/tokens", json={"name": "Dashboard", "role": "viewer"}, headers=auth(admin)
    )
    new_id = (await created.json())["id"]
    revoked = await client.post(f"/api/tokens/{new_id}/revoke", headers=auth(admin))
    assert revoked.status == 200

    entries = (await audit_entries(client, admin))["entries"]
    ids = {name: await me(client, token) for name, token in tokens.items()}
    assert [(e["action"], e["actor"], e["actor_token_id"], e["subject"]) for e in entries] == [
        ("token.revoked", "test admin", ids["admin"], str(new_id)),
        ("token.created", "test admin", ids["admin"], str(new_id)),
        ("activation.stood_down", "test leader", ids["leader"], activation_id),  # once
        ("readiness.read", "test viewer", ids["viewer"], None),
        ("callups.read", "test viewer", ids["viewer"], activation_id),
        ("activation.declared", "test leader", ids["leader"], activation_id),
    ]
    assert {e["source"] for e in entries} == {"127.0.0.1"}
    assert all(e["request_id"] for e in entries)
    declared = entries[-1]
    assert declared["request_id"] == "declare-1"
    assert declared["at"] == "2026-03-02T08:00:00.000Z"
    assert declared["detail"] == {
        "kind": "drill",
        "title": "Storm",
        "scope": {"areas": [], "units": [], "services": []},
        "state": "active",
        "callups": 4,
    }
    assert entries[-2]["detail"] == {"people": 4}
    assert entries[-3]["at"] == "2026-03-02T08:01:00.000Z"
    assert entries[1]["detail"] == {"name": "Dashboard", "role": "viewer"}


async def test_only_an_admin_reads_the_log_and_nobody_changes_it(
    client: Client, tokens: dict[str, str]
) -> None:
    assert (await client.get("/api/audit")).status == 401
    for role in ("viewer", "leader"):
        assert (await client.get("/api/audit", headers=auth(tokens[role]))).status == 403
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, "/api/audit", headers=auth(tokens["admin"]))
        assert response.status == 405, method
    response = await client.delete("/api/audit/1", headers=auth(tokens["admin"]))
    assert response.status in (404, 405)


async def test_the_table_refuses_update_and_delete_even_in_raw_sql(
    client: Client, tokens: dict[str, str], database_path: Path
) -> None:
    await client.post(
        "/api/tokens", json={"name": "Vakt", "role": "viewer"}, headers=auth(tokens["admin"])
    )
    with contextlib.closing(sqlite3.connect(database_path)) as raw:
        before = raw.execute("SELECT * FROM audit_log").fetchall()
        assert len(before) == 1
        for sql in (
            "UPDATE audit_log SET actor = 'someone else'",
            "DELETE FROM audit_log",
            "INSERT OR REPLACE INTO audit_log (id, at, actor, action, source)"
            " VALUES (1, 0, 'x', 'x', 'x')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="the audit log is append-only"):
                raw.execute(sql)
        raw.rollback()
        assert raw.execute("SELECT * FROM audit_log").fetchall() == before


async def test_filters_and_pages(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str]
) -> None:
    admin = tokens["admin"]
    for _ in range(5):
        await client.get("/api/roster/readiness", headers=auth(tokens["viewer"]))
        clock.advance(timedelta(hours=1))
    await client.post("/api/tokens", json={"name": "X", "role": "viewer"}, headers=auth(admin))

    first = await audit_entries(client, admin, "?action=readiness.read&limit=2")
    assert [e["at"][11:16] for e in first["entries"]] == ["12:00", "11:00"]
    second = await audit_entries(client, admin, first["next"].removeprefix("/api/audit"))
    assert [e["at"][11:16] for e in second["entries"]] == ["10:00", "09:00"]
    third = await audit_entries(client, admin, second["next"].removeprefix("/api/audit"))
    assert [e["at"][11:16] for e in third["entries"]] == ["08:00"]
    assert third["next"] is None

    # An offset written with a bare `+` (not %2B) keeps its meaning: 11:00+01:00 is 10:00Z.
    since = await audit_entries(client, admin, "?since=2026-03-02T11:00:00+01:00")
    assert [(e["action"], e["at"][11:16]) for e in since["entries"]] == [
        ("token.created", "13:00"),
        ("readiness.read", "12:00"),
        ("readiness.read", "11:00"),
        ("readiness.read", "10:00"),
    ]
    for query, field in (
        ("?since=yesterday", "since"),
        ("?limit=0", "limit"),
        ("?limit=many", "limit"),
        ("?before=-1", "before"),
        ("?who=me", "who"),
    ):
        response = await client.get(f"/api/audit{query}", headers=auth(admin))
        assert response.status == 400, query
        assert (await response.json())["field"] == field


# --- the command line -----------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("USER", "hr-anna")
    monkeypatch.setenv("LOGNAME", "hr-anna")
    path = tmp_path / "cli.toml"
    path.write_text(f"[service]\ndatabase = '{tmp_path / 'cli.sqlite3'}'\n", encoding="utf-8")
    return path


def dispatcher(config: Path, *arguments: str) -> int:
    return main(["--config", str(config), *arguments])


def test_command_line_actions_are_recorded_and_dispatcher_audit_shows_them(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("units.csv", "staff.csv"):
        shutil.copy(ROSTER_FILES / name, tmp_path / name)
    units, staff = str(tmp_path / "units.csv"), str(tmp_path / "staff.csv")
    assert dispatcher(config, "roster", "import", "--units", units, "--staff", staff) == 0
    assert dispatcher(config, "token", "create", "--role", "viewer", "--name", "Skärm") == 0
    assert dispatcher(config, "token", "revoke", "1") == 0
    capsys.readouterr()
    assert dispatcher(config, "activate", "--kind", "drill", "--title", "Storm", "--json") == 0
    activation_id = json.loads(capsys.readouterr().out)["id"]
    assert dispatcher(config, "stand-down", activation_id) == 0
    capsys.readouterr()

    assert dispatcher(config, "audit", "--json") == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["actor"], e["source"], e["subject"]) for e in entries] == [
        ("activation.stood_down", "cli:hr-anna", "cli", activation_id),
        ("activation.declared", "cli:hr-anna", "cli", activation_id),
        ("token.revoked", "cli:hr-anna", "cli", "1"),
        ("token.created", "cli:hr-anna", "cli", "1"),
        ("roster.imported", "cli:hr-anna", "cli", None),
    ]
    imported = entries[-1]["detail"]
    assert (imported["units"], imported["people_added"]) == (3, 4)

    assert dispatcher(config, "audit", "--action", "token.created") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["AT", "(UTC)", "ACTOR", "ACTION", "SUBJECT", "SOURCE", "DETAIL"]
    assert len(lines) == 2 and "token.created" in lines[1] and '"name":"Skärm"' in lines[1]
    assert dispatcher(config, "audit", "--since", "2999-01-01", "--limit", "5") == 0
    assert capsys.readouterr().out == "No audit entries.\n"
    assert dispatcher(config, "audit", "--since", "soon") == 1
    assert "--since: must be an ISO 8601 date or time" in capsys.readouterr().err
    assert dispatcher(config, "audit", "--limit", "5000") == 1
    assert "--limit: must be 1–1000, got 5000" in capsys.readouterr().err


def test_demo_setup_records_its_import_and_tokens(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dispatcher(config, "demo", "setup", "--people", "50") == 0
    assert dispatcher(config, "demo", "setup", "--people", "50") == 0
    capsys.readouterr()
    assert dispatcher(config, "audit", "--json") == 0
    actions = [e["action"] for e in json.loads(capsys.readouterr().out)]
    assert actions == ["token.created", "token.revoked", "token.created", "roster.imported"]


# --- protected identity ---------------------------------------------------------------


async def test_a_protected_person_is_named_in_no_response(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    strict = dataclasses.replace(
        settings, escalation=dataclasses.replace(settings.escalation, two_person_approval=True)
    )
    app = create_app(strict, clock=clock)
    client = await aiohttp_client(app)
    store = app[ACCESS_TOKENS]
    leader, second, viewer, admin = [
        (await store.create(name, role)).secret
        for name, role in (
            ("Krisledare Eva", AccessRole.LEADER),
            ("Krisledare Bo", AccessRole.LEADER),
            ("Skärm", AccessRole.VIEWER),
            ("Admin", AccessRole.ADMIN),
        )
    ]
    await import_roster(app)
    bodies: dict[str, str] = {}

    async def keep(name: str, response: Any) -> Any:
        assert response.status < 300, (name, response.status, await response.text())
        bodies[name] = await response.text()
        return json.loads(bodies[name]) if response.content_type == "application/json" else None

    crisis = {"kind": "crisis", "title": "Storm", "message": "Samling på enheten"}
    await keep(
        "preview",
        await client.post("/api/activations/preview", json=crisis, headers=auth(leader)),
    )
    activation = await keep(
        "declare", await client.post("/api/activations", json=crisis, headers=auth(leader))
    )
    url = f"/api/activations/{activation['id']}"
    await keep("approve", await client.post(f"{url}/approve", headers=auth(second)))
    await app[DISPATCHER].wait_idle()
    # She answers, naming herself in the reason; and a provider refused her number.
    await app[ANSWER_DESK].handle_sms(
        InboundSms("SM" + "6" * 32, HIDDEN_PHONE, "NEJ Hedda Hemlig är sjuk")
    )
    async with app[DATABASE].transaction() as conn:
        await note_contact_problems(
            conn,
            [
                ContactProblem(
                    HIDDEN_ID,
                    "sms",
                    HIDDEN_PHONE,
                    "21211",
                    f"Twilio 400 21211: The 'To' number {HIDDEN_PHONE} is not a valid phone number",
                    activation["id"],
                )
            ],
            0,
        )
    for name, path in (
        ("list", "/api/activations"),
        ("one", url),
        ("status", f"{url}/status"),
        ("callups", f"{url}/callups"),
        ("readiness", "/api/roster/readiness"),
    ):
        await keep(name, await client.get(path, headers=auth(viewer)))
    await keep("stand-down", await client.post(f"{url}/stand-down", headers=auth(leader)))
    drill = await keep(
        "drill",
        await client.post(
            "/api/activations", json={"kind": "drill", "title": "Övning"}, headers=auth(leader)
        ),
    )
    await app[DISPATCHER].wait_idle()
    report = f"/api/activations/{drill['id']}/report"
    await keep("report", await client.get(report, headers=auth(viewer)))
    await keep("report.csv", await client.get(f"{report}?format=csv", headers=auth(viewer)))
    await keep("audit", await client.get("/api/audit?limit=1000", headers=auth(admin)))

    for name, text in bodies.items():
        for secret in SECRETS:
            assert secret.casefold() not in text.casefold(), f"{name} shows {secret!r}"
    # Not vacuous: the lists do show the protected people, masked, with their units.
    for name in ("callups", "readiness", "report", "report.csv"):
        assert "skyddad person" in bodies[name], name
    callups = json.loads(bodies["callups"])["callups"]
    masked = [c for c in callups if c["name"] == "skyddad person"]
    assert sorted(c["unit_id"] for c in masked) == ["U1", "U3"]
    assert {c["state"] for c in masked} == {"declined", "failed"}
    refused = json.loads(bodies["readiness"])["refused_contacts"]
    assert [(r["name"], r["error_code"], r["address"]) for r in refused] == [
        ("skyddad person", "21211", None)
    ]
    # Sorted by what the list shows: where her real name would sort stays hidden.
    assert [c["name"] for c in callups if c["unit_id"] == "U1"] == ["Vera Lind", "skyddad person"]
    unreachable = json.loads(bodies["preview"])["unreachable"]
    assert unreachable == [{"person_id": None, "name": "skyddad person", "unit_id": "U1"}]


async def test_repeated_reads_of_one_list_by_one_actor_are_kept_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "a.sqlite3")
    try:
        screen = audit.Actor("väggskärm", token_id=7, source="127.0.0.1")
        other = audit.Actor("stab", token_id=8, source="127.0.0.1")
        minute = 60_000
        first = await audit.record(db, screen, audit.CALLUPS_READ, at_ms=0, subject="A1")
        again = await audit.record(db, screen, audit.CALLUPS_READ, at_ms=3 * minute, subject="A1")
        assert again == first
        assert (
            await audit.record(db, screen, audit.CALLUPS_READ, at_ms=4 * minute, subject="A2")
            != first
        )
        assert (
            await audit.record(db, other, audit.CALLUPS_READ, at_ms=5 * minute, subject="A1")
            != first
        )
        later = await audit.record(db, screen, audit.CALLUPS_READ, at_ms=11 * minute, subject="A1")
        assert later != first  # a new window
        exported = {
            await audit.record(db, screen, audit.EXPORT_READ, at_ms=i, subject="A1")
            for i in range(3)
        }
        assert len(exported) == 3  # exports are never collapsed
        rows = await db.fetch_all("SELECT COUNT(*) FROM audit_log")
        assert rows[0][0] == 7
    finally:
        await db.close()
