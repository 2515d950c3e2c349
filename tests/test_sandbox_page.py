"""The sandbox phones through the real app: `/sandbox` shows what each person "received",
answering as them goes through the answer desk like an SMS, protected people stay unnamed,
and the pages exist only while a channel is the sandbox."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.answer_desk import InboundSms
from dispatcher.channels.base import OutgoingSms
from dispatcher.channels.sandbox import SandboxSmsChannel, new_inbound_id, record_sandbox_reply
from dispatcher.clock import ManualClock
from dispatcher.commands.roster_import import read_roster_files
from dispatcher.demo import write_demo_roster
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, Unit
from dispatcher.roster_import import parse_roster_files
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, ANSWER_DESK, DATABASE, DISPATCHER
from dispatcher.web.app import create_app

Client = TestClient[web.Request, web.Application]

PERSON = re.compile(r'<section class="person" id="p-[^"]+" data-person="([^"]+)"')
CARD = re.compile(r'(<section class="person".*?</section>)', re.DOTALL)

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Skogsgläntan", "förskola", "Söder", "Gömdvägen 3, Lerum", 1),
)
NOBODY = '<section class="person" id="p-x" data-person="bm9ib2R5bm9ib2R5"'
SECRET_NAME, SECRET_PHONE, SECRET_EMAIL = "Hemlig Gömsson", "+46701999999", "hg@example.se"
SECRETS = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, "Dold Doldsson", "dd@example.se")


def person(
    pid: str,
    name: str,
    placement: str,
    *,
    phone: str | None,
    email: str | None,
    protected: bool = False,
) -> Person:
    return Person(
        person_id=pid,
        name=name,
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
    person("S1", "Sara Sms", "U1", phone="+46701000001", email="s1@example.se"),
    person("E1", "Erik Epost", "U1", phone=None, email="e1@example.se"),
    person("H1", SECRET_NAME, "U2", phone=SECRET_PHONE, email=SECRET_EMAIL, protected=True),
    person("H2", "Dold Doldsson", "U2", phone=None, email="dd@example.se", protected=True),
)


@pytest.fixture
def settings(database_path: Path) -> Settings:
    """Sandbox channels (the default), paced fast enough not to slow the tests down."""
    return settings_from_mapping(
        {
            "service": {"database": str(database_path)},
            "sms": {"rate_per_second": 1000},
            "email": {"rate_per_second": 1000},
        },
        {},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def put_roster(app: web.Application, roster: Roster) -> None:
    await replace_roster(
        app[DATABASE], roster, imported_by="test", source="test", warnings=0, imported_at_ms=0
    )


async def declare(client: Client, app: web.Application, token: str, **scope: Any) -> None:
    body = {"kind": "crisis", "title": "Storm", "scope": scope}
    response = await client.post("/api/activations", json=body, headers=bearer(token))
    assert response.status == 201, await response.text()
    await app[DISPATCHER].wait_idle()


async def page(client: Client, token: str, path: str = "/sandbox") -> str:
    response = await client.get(path, headers=bearer(token))
    assert response.status == 200, await response.text()
    assert response.content_type == "text/html"
    return await response.text()


def named_cards(html: str) -> list[tuple[str, str]]:
    """(data-person-name, the person's card) for each person on the page, in order."""
    found = []
    for card in CARD.findall(html):
        name = re.search(r'data-person-name="([^"]*)"', card)
        assert name is not None
        found.append((name.group(1), card))
    return found


def cards(html: str) -> dict[str, str]:
    return dict(named_cards(html))


def page_id(card: str) -> str:
    found = PERSON.search(card)
    assert found is not None
    return found.group(1)


async def reply(client: Client, token: str, card: str, text: str) -> tuple[int, str]:
    response = await client.post(
        f"/sandbox/people/{page_id(card)}/reply",
        data={"text": text},
        headers=bearer(token),
        allow_redirects=False,
    )
    return response.status, response.headers.get("Location", "")


async def callup_state(app: web.Application, person_id: str) -> tuple[str, int | None]:
    row = await app[DATABASE].fetch_one(
        "SELECT state, eta_minutes FROM callups WHERE person_id = ?", (person_id,)
    )
    assert row is not None
    return row["state"], row["eta_minutes"]


def thread(card: str) -> list[str]:
    """The purposes of the SMS on a person's phone, in order."""
    phone = card.split('data-thread="sms"', 1)[1].split('data-thread="email"', 1)[0]
    return re.findall(r'<li(?: id="senaste")? class="msg [a-z]+" data-message="([a-z_]+)"', phone)


@pytest.fixture
async def declared(client: Client, app: web.Application, tokens: dict[str, str]) -> None:
    await put_roster(app, Roster(UNITS, PEOPLE, ()))
    await declare(client, app, tokens["leader"])


@pytest.mark.usefixtures("declared")
async def test_the_page_shows_each_persons_sms_and_email(
    client: Client, tokens: dict[str, str]
) -> None:
    html = await page(client, tokens["viewer"])
    assert "Sandlåda — inget skickas på riktigt" in html
    found = cards(html)
    sara, erik = found["Sara Sms"], found["Erik Epost"]
    assert thread(sara) == ["callup"]
    assert "Kom till din krisplacering Solgården, Solvägen 1, Lerum snarast." in sara
    assert "Solgården" in sara
    assert thread(erik) == []
    assert "Inget mobilnummer: svara via länken i e-posten." in erik
    # The e-mail: subject, text and the answer link as a path that works in this browser.
    assert "Storm – du kallas till Solgården" in erik
    assert re.search(r'<a href="/answer/[A-Za-z0-9_-]+">http://127\.0\.0\.1:8080/answer/', erik)
    # A viewer sees the phones but may not answer for anyone.
    assert "data-reply-form" not in html
    assert "Bara insatsledare kan svara som en person" in sara


async def test_answering_ja_20_confirms_and_the_thread_shows_both_sides(
    client: Client, app: web.Application, tokens: dict[str, str], clock: ManualClock, declared: None
) -> None:
    sara = cards(await page(client, tokens["leader"]))["Sara Sms"]
    assert "data-reply-box" in sara
    assert "data-reply-send" in sara
    status, location = await reply(client, tokens["leader"], sara, "  JA 20 ")
    assert status == 303
    assert location == f"/sandbox/people/{page_id(sara)}#senaste"
    assert await callup_state(app, "S1") == ("confirmed", 20)

    html = await page(client, tokens["viewer"], location.partition("#")[0])
    assert thread(html) == ["callup", "own", "reply"]
    assert ">JA 20</span>" in html
    assert "Tack! Registrerat: du kommer till Solgården om ca 20 min." in html
    assert '<li id="senaste" class="msg kommunen" data-message="reply"' in html
    # Status counts it like any SMS answer.
    activation = await (
        await client.get("/api/activations", headers=bearer(tokens["viewer"]))
    ).json()
    activation_id = activation["activations"][0]["id"]
    status_body = await (
        await client.get(
            f"/api/activations/{activation_id}/status", headers=bearer(tokens["viewer"])
        )
    ).json()
    assert status_body["totals"]["confirmed"] == 1


async def test_garbage_gets_the_help_text_and_records_nothing(
    client: Client, app: web.Application, tokens: dict[str, str], declared: None
) -> None:
    sara = cards(await page(client, tokens["leader"]))["Sara Sms"]
    status, location = await reply(client, tokens["leader"], sara, "vad betyder detta?")
    assert status == 303
    assert await callup_state(app, "S1") == ("awaiting", None)
    html = await page(client, tokens["viewer"], location.partition("#")[0])
    assert thread(html) == ["callup", "own", "reply"]
    assert "Vi förstod inte svaret. Svara JA om du kommer" in html
    assert "vad betyder detta?" in html


async def test_a_viewer_may_not_answer(
    client: Client, app: web.Application, tokens: dict[str, str], declared: None
) -> None:
    sara = cards(await page(client, tokens["viewer"]))["Sara Sms"]
    status, _ = await reply(client, tokens["viewer"], sara, "JA")
    assert status == 403
    assert await callup_state(app, "S1") == ("awaiting", None)
    inbound = await app[DATABASE].fetch_one("SELECT COUNT(*) FROM inbound_messages")
    assert inbound is not None and inbound[0] == 0
    # Nobody without a token sees anything: a browser is sent to sign in first.
    anonymous = await client.get("/sandbox", allow_redirects=False)
    assert anonymous.status == 303
    assert anonymous.headers["Location"].startswith("/dashboard/login?next=")


async def test_bad_answers_are_refused_on_the_page(
    client: Client, app: web.Application, tokens: dict[str, str], declared: None
) -> None:
    found = cards(await page(client, tokens["leader"]))
    response = await client.post(
        f"/sandbox/people/{page_id(found['Sara Sms'])}/reply",
        data={"text": "   "},
        headers=bearer(tokens["leader"]),
    )
    assert response.status == 400
    assert "Skriv ett svar" in await response.text()
    status, _ = await reply(client, tokens["leader"], found["Erik Epost"], "JA")
    assert status == 409  # e-mail only: answers through the link
    status, _ = await reply(client, tokens["leader"], NOBODY, "JA")
    assert status == 404
    # A form posted from another site is refused even with a valid credential.
    response = await client.post(
        f"/sandbox/people/{page_id(found['Sara Sms'])}/reply",
        data={"text": "JA"},
        headers={**bearer(tokens["leader"]), "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status == 403
    assert await callup_state(app, "S1") == ("awaiting", None)


async def test_protected_people_are_never_named_but_can_answer(
    client: Client, app: web.Application, tokens: dict[str, str], declared: None
) -> None:
    html = await page(client, tokens["leader"])
    hidden = [card for card in CARD.findall(html) if 'data-person-name="skyddad person"' in card]
    assert len(hidden) == 2
    by_sms, by_email = sorted(hidden, key=lambda card: "data-reply-form" not in card)
    assert all("Skogsgläntan" in card for card in hidden)
    assert "Hej skyddad person!" in by_email  # their name is blanked out of the e-mail
    status, location = await reply(client, tokens["leader"], by_sms, "ja")
    assert status == 303
    assert await callup_state(app, "H1") == ("confirmed", None)
    pages = [
        html,
        await page(client, tokens["viewer"], location.partition("#")[0]),
        await page(client, tokens["viewer"], "/sandbox?q=Skogsgläntan"),
        await page(client, tokens["viewer"], "/sandbox?q=Gömdvägen"),
    ]
    for text in pages:
        for secret in (*SECRETS, "Hemlig", "Gömsson", "Dold"):
            assert secret not in text
    assert "skyddad person" in pages[2]
    # A name or number search does not reveal that a protected person matches.
    for query in ("Hemlig", "Gömsson", "701999999", "hg@", "Dold", "dd@example"):
        assert 'data-total="0"' in await page(client, tokens["viewer"], f"/sandbox?q={query}")


def channels(database_path: Path, email: str) -> Settings:
    """Real Twilio SMS (never reached here), e-mail through `email`."""
    twilio = {"account_sid": "AC" + "0" * 32, "auth_token": "x" * 32, "from_number": "+46700000000"}
    return settings_from_mapping(
        {
            "service": {"database": str(database_path)},
            "sms": {"provider": "twilio", "twilio": twilio},
            "email": {"provider": email},
        },
        {},
    )


async def test_no_pages_without_a_sandbox_channel(
    aiohttp_client: AiohttpClient, database_path: Path, clock: ManualClock
) -> None:
    client = await aiohttp_client(create_app(channels(database_path, "smtp"), clock=clock))
    for path in ("/sandbox", "/sandbox/people/x", "/sandbox/static/sandbox.css"):
        assert (await client.get(path)).status == 404
    assert (await client.post("/sandbox/people/x/reply", data={"text": "JA"})).status == 404


async def test_with_real_sms_only_e_mail_is_shown_and_nobody_answers_by_sms(
    aiohttp_client: AiohttpClient, database_path: Path, clock: ManualClock
) -> None:
    app = create_app(channels(database_path, "sandbox"), clock=clock)
    client = await aiohttp_client(app)
    await put_roster(app, Roster(UNITS, PEOPLE, ()))
    leader = (await app[ACCESS_TOKENS].create("leader", AccessRole.LEADER)).secret
    html = await page(client, leader, "/sandbox?q=Sara")
    assert "data-reply-form" not in html
    assert "Sms går på riktigt, inte via sandlådan." in html
    status, _ = await reply(client, leader, cards(html)["Sara Sms"], "JA")
    assert status == 409
    stored = await app[DATABASE].fetch_one("SELECT COUNT(*) FROM inbound_messages")
    assert stored is not None and stored[0] == 0


async def test_paging_and_search_over_the_demo_municipality(
    client: Client, app: web.Application, tokens: dict[str, str], tmp_path: Path
) -> None:
    write_demo_roster(tmp_path / "demo", people=1200, today=date(2026, 3, 2))
    names = ("units.csv", "staff.csv", "training.csv")
    files = read_roster_files([tmp_path / "demo" / n for n in names], 50)
    parsed = parse_roster_files(files[0], files[1], files[2], today=date(2026, 3, 2))
    assert parsed.roster is not None
    await put_roster(app, parsed.roster)
    await declare(client, app, tokens["leader"], units=["U0001"])
    called = await app[DATABASE].fetch_all(
        "SELECT CASE WHEN protected THEN 'skyddad person' ELSE person_name END FROM callups"
    )
    assert 5 < len(called) < 20

    first = await page(client, tokens["viewer"])
    assert 'data-total="1200"' in first
    assert "Sida 1 av 60" in first
    people = PERSON.findall(first)
    assert len(people) == 20
    # Those called (who have messages) come first, then the rest by name.
    on_page = [(name, "data-message=" in card) for name, card in named_cards(first)]
    assert sorted(name for name, _ in on_page[: len(called)]) == sorted(r[0] for r in called)
    assert all(has for _, has in on_page[: len(called)])
    assert not any(has for _, has in on_page[len(called) :])
    rest = [name for name, _ in on_page[len(called) :]]
    assert rest == sorted(rest, key=str.casefold)

    last = await page(client, tokens["viewer"], "/sandbox?page=60")
    assert len(PERSON.findall(last)) == 20
    assert "Sida 60 av 60" in last
    assert not set(PERSON.findall(last)) & set(people)
    assert 'rel="prev" data-page="59"' in last

    someone = next(p for p in parsed.roster.people if not p.protected and p.phone)
    found = await page(client, tokens["viewer"], f"/sandbox?q={someone.name}")
    assert someone.name in cards(found)
    assert 'data-total="0"' not in found
    by_number = await page(client, tokens["viewer"], f"/sandbox?q={someone.phone}")
    assert someone.name in cards(by_number)
    nothing = await page(client, tokens["viewer"], "/sandbox?q=%25")
    assert 'data-total="0"' in nothing  # a % is a character to find, not a wildcard


async def test_an_answer_that_came_another_way_shows_with_its_reply(
    client: Client, app: web.Application, tokens: dict[str, str], declared: None
) -> None:
    """An SMS answer that did not come from this page (the Twilio webhook) has no recorded
    reply in the sandbox: the thread shows the reply the answer desk stored with it."""
    handled = await app[ANSWER_DESK].handle_sms(InboundSms("SM" + "1" * 32, "+46701000001", "nej"))
    assert handled.reply is not None
    sara = cards(await page(client, tokens["viewer"]))["Sara Sms"]
    assert thread(sara) == ["callup", "own", "reply"]
    assert "Tack för svaret. Registrerat: du kommer inte till Solgården." in sara


async def test_automatic_replies_are_not_taken_for_sent_call_ups(
    app: web.Application, client: Client, clock: ManualClock
) -> None:
    """Crash recovery asks the sandbox what it sent to a number: a recorded automatic reply
    to that number is not a call-up that went out."""
    db, since = app[DATABASE], clock.now()
    sms = SandboxSmsChannel(db, clock)
    sent = await sms.send(OutgoingSms(1, "+46701000001", "Kallelse"))
    await record_sandbox_reply(db, clock, "+46701000001", "Tack!", new_inbound_id())
    assert await sms.find_sent("+46701000001", since) == [sent.provider_id]
    with pytest.raises(ValueError, match="not a sandbox answer id"):
        await record_sandbox_reply(db, clock, "+46701000001", "Tack!", "SM123")
