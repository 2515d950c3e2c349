"""The e-mail answer page through the real app: the link in the call-up e-mail opens a page
that changes nothing; its buttons record the answer; a bad token or a closed activation
records nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from dispatcher import cli
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE, DISPATCHER
from dispatcher.web.app import create_app
from tests.e2e_support import DispatchWorld, StaffRow, UnitRow, e164, mobile, running_world
from tests.e2e_support import write_roster as write_roster_files

Client = TestClient[web.Request, web.Application]

LINK = re.compile(r"/answer/([A-Za-z0-9_-]+)")
PROOF = re.compile(r'name="proof" value="([^"]+)"')
TABLES = ("activations", "callups", "answers", "inbound_messages", "messages", "service_meta")

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Björkängen <Hus B>", "förskola", "Norr", "Björkvägen 2 & 4, Lerum", None),
)


def person(pid: str, placement: str, *, phone: str | None = None, email: str) -> Person:
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
        protected=False,
    )


PEOPLE = (
    person("E1", "U1", email="e1@example.se"),
    person("E2", "U1", email="e2@example.se"),
    person("E3", "U2", email="e3@example.se"),
    person("S1", "U1", phone="+46701000001", email="s1@example.se"),  # reached by SMS
)


async def put_roster(app: web.Application) -> None:
    await replace_roster(
        app[DATABASE],
        Roster(UNITS, PEOPLE, ()),
        imported_by="test",
        source="test",
        warnings=0,
        imported_at_ms=0,
    )


async def declare(client: Client, token: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/activations", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def emailed_links(app: web.Application) -> dict[str, str]:
    """Recipient → the answer token in the call-up e-mail the sandbox "sent" them."""
    await app[DISPATCHER].wait_idle()
    rows = await app[DATABASE].fetch_all(
        "SELECT recipient, body, html FROM sandbox_messages WHERE channel = 'email'"
    )
    links = {}
    for row in rows:
        found = LINK.search(row["body"])
        assert found is not None, row["body"]
        assert f"/answer/{found.group(1)}" in row["html"]
        links[row["recipient"]] = found.group(1)
    return links


async def tables(app: web.Application) -> dict[str, list[tuple[Any, ...]]]:
    db = app[DATABASE]
    return {
        t: [tuple(r) for r in await db.fetch_all(f"SELECT * FROM {t} ORDER BY 1")] for t in TABLES
    }


async def callup(app: web.Application, email: str) -> dict[str, Any]:
    row = await app[DATABASE].fetch_one(
        "SELECT id, state, eta_minutes, reason FROM callups WHERE email = ?", (email,)
    )
    assert row is not None
    return dict(row)


async def answers(app: web.Application, callup_id: int) -> list[tuple[Any, ...]]:
    rows = await app[DATABASE].fetch_all(
        "SELECT answer, eta_minutes, reason, via FROM answers WHERE callup_id = ? ORDER BY id",
        (callup_id,),
    )
    return [tuple(r) for r in rows]


async def open_page(client: Client, token: str) -> tuple[str, str]:
    """The page's HTML and the hidden proof its forms carry."""
    response = await client.get(f"/answer/{token}")
    assert response.status == 200
    page = await response.text()
    found = PROOF.search(page)
    assert found is not None, page
    return page, found.group(1)


async def post_answer(
    client: Client, token: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """POST the form as the page's button does; (status, Location or page text)."""
    response = await client.post(
        f"/answer/{token}", data=form, headers=headers, allow_redirects=False
    )
    if response.status == 303:
        return 303, response.headers["Location"]
    return response.status, await response.text()


@pytest.fixture
async def drill(client: Client, app: web.Application, tokens: dict[str, str]) -> dict[str, str]:
    """A drill to both units, sent; recipient → answer token."""
    await put_roster(app)
    await declare(client, tokens["leader"], kind="drill", title='Storm <b>"x"</b> & hagel')
    return await emailed_links(app)


async def test_every_call_up_email_carries_its_own_link(
    app: web.Application, drill: dict[str, str]
) -> None:
    assert set(drill) == {"e1@example.se", "e2@example.se", "e3@example.se"}
    assert len(set(drill.values())) == 3
    sms = await app[DATABASE].fetch_one("SELECT body FROM sandbox_messages WHERE channel = 'sms'")
    assert sms is not None and "/answer/" not in sms["body"]
    body = await app[DATABASE].fetch_one(
        "SELECT body FROM sandbox_messages WHERE recipient = 'e1@example.se'"
    )
    assert body is not None and f"http://127.0.0.1:8080/answer/{drill['e1@example.se']}" in body[0]


async def test_the_page_shows_the_call_up_and_changes_nothing(
    client: Client, app: web.Application, drill: dict[str, str]
) -> None:
    before = await tables(app)
    response = await client.get(f"/answer/{drill['e3@example.se']}")
    head = await client.head(f"/answer/{drill['e3@example.se']}")
    assert await tables(app) == before
    assert response.status == 200 and head.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]
    page = await response.text()
    assert "Exempelkommun" in page
    assert "ÖVNING: Storm &lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; hagel" in page
    assert "<b>" not in page
    assert "Björkängen &lt;Hus B&gt;" in page and "Björkvägen 2 &amp; 4, Lerum" in page
    assert "Ja, jag kommer" in page and "Nej, jag kan inte" in page
    assert "Du har inte svarat ännu." in page
    assert page.count('method="post"') == 2


async def test_yes_with_minutes_is_recorded_and_shown(
    client: Client, app: web.Application, drill: dict[str, str]
) -> None:
    token = drill["e1@example.se"]
    _, proof = await open_page(client, token)
    status, location = await post_answer(
        client, token, {"proof": proof, "answer": "yes", "minutes": "30"}
    )
    assert (status, location) == (303, f"{token}?saved=1")
    row = await callup(app, "e1@example.se")
    assert (row["state"], row["eta_minutes"]) == ("confirmed", 30)
    assert await answers(app, row["id"]) == [("yes", 30, None, "email_link")]

    page = await (await client.get(f"/answer/{location}")).text()
    assert "Tack! Vi har registrerat att du kommer och är framme om ca 30 min." in page
    assert "Du har inte svarat" not in page
    later = await (await client.get(f"/answer/{token}")).text()
    assert "Tack!" not in later and "framme om ca 30 min" in later


async def test_no_with_a_reason_is_recorded_and_a_change_of_mind_counts(
    client: Client, app: web.Application, drill: dict[str, str]
) -> None:
    token = drill["e2@example.se"]
    _, proof = await open_page(client, token)
    assert (await post_answer(client, token, {"proof": proof, "answer": "no", "reason": " sjuk "}))[
        0
    ] == 303
    row = await callup(app, "e2@example.se")
    assert (row["state"], row["reason"]) == ("declined", "sjuk")
    page = await (await client.get(f"/answer/{token}?saved=1")).text()
    assert "Tack! Vi har registrerat att du inte kan komma. (sjuk)" in page

    assert (await post_answer(client, token, {"proof": proof, "answer": "yes", "minutes": ""}))[
        0
    ] == 303
    row = await callup(app, "e2@example.se")
    assert (row["state"], row["eta_minutes"]) == ("confirmed", None)
    assert await answers(app, row["id"]) == [
        ("no", None, "sjuk", "email_link"),
        ("yes", None, None, "email_link"),
    ]


@pytest.mark.parametrize("change", [0, 5, -1])
async def test_a_tampered_token_is_refused_and_changes_nothing(
    client: Client, app: web.Application, drill: dict[str, str], change: int
) -> None:
    token = drill["e1@example.se"]
    _, proof = await open_page(client, token)
    swapped = "A" if token[change] != "A" else "B"
    tampered = token[:change] + swapped + token[change + 1 :] if change >= 0 else token[:-1]
    before = await tables(app)
    response = await client.get(f"/answer/{tampered}")
    assert response.status == 404
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert "Länken gäller inte" in page and "Solgården" not in page
    status, _ = await post_answer(client, tampered, {"proof": proof, "answer": "yes"})
    assert status == 404
    assert await tables(app) == before


@pytest.mark.parametrize(
    ("form", "headers", "status"),
    [
        ({"answer": "yes"}, {}, 403),  # no hidden field: not posted from the page
        ({"answer": "yes", "proof": "x"}, {}, 403),
        ({"answer": "yes", "proof": "PROOF"}, {"Sec-Fetch-Site": "cross-site"}, 403),
        ({"answer": "maybe", "proof": "PROOF"}, {}, 400),
        ({"answer": "yes", "minutes": "soon", "proof": "PROOF"}, {}, 400),
        ({"answer": "yes", "minutes": "0", "proof": "PROOF"}, {}, 400),
        ({"answer": "yes", "minutes": "1441", "proof": "PROOF"}, {}, 400),
    ],
)
async def test_a_bad_form_records_nothing(
    client: Client,
    app: web.Application,
    drill: dict[str, str],
    form: dict[str, str],
    headers: dict[str, str],
    status: int,
) -> None:
    token = drill["e1@example.se"]
    _, proof = await open_page(client, token)
    form = {k: proof if v == "PROOF" else v for k, v in form.items()}
    before = await tables(app)
    got, page = await post_answer(client, token, form, headers)
    assert got == status
    assert 'class="error"' in page and "Solgården" in page
    assert await tables(app) == before


async def test_the_proof_of_one_link_does_not_open_another(
    client: Client, app: web.Application, drill: dict[str, str]
) -> None:
    _, proof = await open_page(client, drill["e1@example.se"])
    before = await tables(app)
    status, _ = await post_answer(client, drill["e2@example.se"], {"proof": proof, "answer": "no"})
    assert status == 403
    assert await tables(app) == before


async def test_after_stand_down_no_buttons_and_nothing_recorded(
    client: Client, app: web.Application, drill: dict[str, str]
) -> None:
    token = drill["e1@example.se"]
    _, proof = await open_page(client, token)
    async with app[DATABASE].transaction() as conn:
        await conn.execute("UPDATE activations SET state = 'stood_down', stood_down_at = 1")
    page = await (await client.get(f"/answer/{token}")).text()
    assert "Utlarmningen är avslutad" in page
    assert "<form" not in page and "Ja, jag kommer" not in page

    status, location = await post_answer(client, token, {"proof": proof, "answer": "yes"})
    assert status == 303
    row = await callup(app, "e1@example.se")
    assert row["state"] == "awaiting"
    assert await answers(app, row["id"]) == []
    inbound = await app[DATABASE].fetch_all("SELECT channel, outcome FROM inbound_messages")
    assert [tuple(r) for r in inbound] == [("email_link", "not_active")]
    page = await (await client.get(f"/answer/{location}")).text()
    assert "Utlarmningen är avslutad" in page and "Tack" not in page


async def test_a_late_yes_to_a_covered_unit_is_released_when_so_configured(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    raw = {"service": {"database": str(settings.service.database)}}
    released = settings_from_mapping({**raw, "escalation": {"surplus": "release"}}, {})
    app = create_app(released, clock=clock)
    client = await aiohttp_client(app)
    leader = (await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret
    await put_roster(app)
    await declare(client, leader, kind="crisis", title="Storm", scope={"units": ["U2"]})
    token = (await emailed_links(app))["e3@example.se"]
    async with app[DATABASE].transaction() as conn:  # U2 needs 1; someone else covered it
        await conn.execute("UPDATE activation_units SET needed = 0")
    _, proof = await open_page(client, token)
    await post_answer(client, token, {"proof": proof, "answer": "yes"})
    page = await (await client.get(f"/answer/{token}?saved=1")).text()
    assert "har redan tillräckligt med folk" in page


async def test_the_page_speaks_english_when_configured(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    raw = {"database": str(settings.service.database), "language": "en"}
    app = create_app(settings_from_mapping({"service": raw}, {}), clock=clock)
    client = await aiohttp_client(app)
    leader = (await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret
    await put_roster(app)
    await declare(client, leader, kind="crisis", title="Storm", scope={"units": ["U1"]})
    token = (await emailed_links(app))["e1@example.se"]
    page, proof = await open_page(client, token)
    assert 'lang="en"' in page and "Yes, I am coming" in page and "ÖVNING" not in page
    await post_answer(client, token, {"proof": proof, "answer": "yes", "minutes": "15"})
    page = await (await client.get(f"/answer/{token}?saved=1")).text()
    assert "Thank you! We have recorded that you are coming, there in about 15 min." in page
    response = await client.get("/answer/nonsense")
    assert response.status == 404 and "This link is not valid" in await response.text()


async def test_links_survive_a_restart_with_a_generated_key(
    aiohttp_client: AiohttpClient, settings: Settings, clock: ManualClock
) -> None:
    first = create_app(settings, clock=clock)
    client = await aiohttp_client(first)
    leader = (await first[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret
    await put_roster(first)
    await declare(client, leader, kind="crisis", title="Storm", scope={"units": ["U1"]})
    token = (await emailed_links(first))["e1@example.se"]
    await client.close()

    second = await aiohttp_client(create_app(settings, clock=clock))
    assert (await second.get(f"/answer/{token}")).status == 200
    configured = settings_from_mapping(
        {"service": {"database": str(settings.service.database), "secret_key": "x" * 40}}, {}
    )
    third = await aiohttp_client(create_app(configured, clock=clock))
    assert (await third.get(f"/answer/{token}")).status == 404  # another key: old links end


async def test_a_declaration_from_the_command_line_signs_links_the_service_accepts(
    client: Client,
    app: web.Application,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE", "DISPATCHER_SECRET_KEY"):
        monkeypatch.delenv(variable, raising=False)
    await put_roster(app)
    config = tmp_path / "cli.toml"
    config.write_text(f"[service]\ndatabase = '{settings.service.database}'\n", encoding="utf-8")
    argv = ["--config", str(config), "activate", "--kind", "crisis", "--title", "Storm"]
    assert await asyncio.to_thread(cli.main, [*argv, "--unit", "U2"]) == 0
    row = await app[DATABASE].fetch_one(
        "SELECT body FROM messages WHERE recipient = 'e3@example.se'"
    )
    assert row is not None
    found = LINK.search(row["body"])
    assert found is not None, row["body"]
    page, _ = await open_page(client, found.group(1))
    assert "Björkängen &lt;Hus B&gt;" in page


# ------------------------------------------------------------- the fallback e-mail, end to end

FALLBACK_UNITS = (UnitRow("N1", "Norrgårdens förskola", "förskola", "Norr", "Norrvägen 1"),)
FALLBACK_STAFF = (
    StaffRow("P001", "Rolf Refuserad", "N1", mobile(1), "rolf@example.se"),
    StaffRow("P002", "Sara Sms", "N1", mobile(2), "sara@example.se"),
)


@pytest.fixture
async def world(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> AsyncIterator[DispatchWorld]:
    roster = write_roster_files(tmp_path / "roster", FALLBACK_UNITS, FALLBACK_STAFF)
    async with running_world(tmp_path, aiohttp_server, aiohttp_client, roster) as world:
        world.fake.refuse(e164(1), 21211)
        yield world


async def test_the_email_that_replaces_a_refused_sms_carries_a_working_link(
    world: DispatchWorld,
) -> None:
    await world.declare({"kind": "crisis", "title": "Storm", "scope": {}})
    await world.dispatcher.wait_idle()
    assert not world.smtp.messages_to("sara@example.se")
    (email,) = world.smtp.messages_to("rolf@example.se")
    plain = email.get_body(preferencelist=("plain",))
    assert plain is not None
    found = re.search(r"https://kris\.example\.se/answer/([A-Za-z0-9_-]+)", plain.get_content())
    assert found is not None, plain.get_content()

    page, proof = await open_page(world.client, found.group(1))
    assert "Norrgårdens förskola" in page
    status, _ = await post_answer(world.client, found.group(1), {"proof": proof, "answer": "no"})
    assert status == 303
    row = await world.db.fetch_one("SELECT state FROM callups WHERE person_id = 'P001'")
    assert row is not None and row["state"] == "declined"
