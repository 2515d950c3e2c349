"""The dashboard through the real app: sign-in and its cookie, the pages, their guards.

What the pages' scripts do in a browser is tested in headless Chromium elsewhere; here the
HTML the server sends must carry the elements those scripts and tests rely on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher import audit
from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import term_of
from dispatcher.settings import settings_from_mapping
from dispatcher.store.audit import entries as audit_entries
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE
from dispatcher.web.app import create_app

Client = TestClient[web.Request, web.Application]

SECRET_NAME = "Hemlig Hemligsson"

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1, Lerum", 2),
    Unit("U2", "Björkängens förskola", "förskola", "Norr", "Björkvägen 2, Lerum", 1),
    Unit("U3", "Ekbackens skola", "grundskola", "Söder", "Ekvägen 3, Lerum", 3),
)


def person(pid: str, placement: str, name: str, *, protected: bool = False) -> Person:
    return Person(
        person_id=pid,
        name=name,
        phone=f"+4670100000{pid[-1]}",
        phone_kind=PhoneKind.MOBILE,
        email=None,
        role=Role.ADMIN,
        pay_pct=100,
        department="Ekonomi",
        placement=placement,
        reserve_placement=None,
        protected=protected,
    )


PEOPLE = (
    person("P1", "U1", "Anna Andersson"),
    person("P2", "U1", SECRET_NAME, protected=True),
    person("P3", "U2", "Bo Berg"),
)


async def seed_roster(app: web.Application) -> Roster:
    roster = Roster(
        UNITS, PEOPLE, (TrainingWeek("P1", "U1", term_of(date(2026, 2, 2)), date(2026, 2, 2)),)
    )
    await replace_roster(
        app[DATABASE], roster, imported_by="test", source="test", warnings=0, imported_at_ms=0
    )
    return roster


@pytest.fixture
async def roster(client: Client, app: web.Application) -> Roster:
    return await seed_roster(app)


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes; and the text of inline scripts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts: list[dict[str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "script" and "src" not in attributes:
            self.inline_scripts.append(attributes)

    def by_id(self, element_id: str) -> dict[str, str]:
        found = [a for _, a in self.tags if a.get("id") == element_id]
        assert len(found) == 1, f"expected one #{element_id}, found {len(found)}"
        return found[0]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def with_attribute(self, name: str, value: str | None = None) -> list[dict[str, str]]:
        return [a for _, a in self.tags if name in a and (value is None or a[name] == value)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: Client, token: str, **form: str) -> Any:
    return await client.post(
        "/dashboard/login", data={"token": token, **form}, allow_redirects=False
    )


async def declare(client: Client, token: str, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "drill")
    body.setdefault("title", "Storm")
    response = await client.post("/api/activations", json=body, headers=bearer(token))
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


async def page(client: Client, path: str) -> tuple[Any, str]:
    response = await client.get(path, allow_redirects=False)
    return response, await response.text()


def set_cookie_headers(response: Any) -> list[str]:
    return list(response.headers.getall("Set-Cookie", []))


# --- sign-in -----------------------------------------------------------------------------


async def test_sign_in_sets_a_strict_http_only_cookie_and_redirects(
    client: Client, tokens: dict[str, str]
) -> None:
    response = await sign_in(client, tokens["viewer"])
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard"
    [cookie] = set_cookie_headers(response)
    assert cookie.startswith(f"krisdispatch_session={tokens['viewer']};")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie
    assert "Path=/;" in cookie or cookie.endswith("Path=/")
    assert "secure" not in attributes  # plain http here: a Secure cookie would never be sent
    assert tokens["viewer"] not in response.headers["Location"]


async def test_sign_in_over_https_makes_a_secure_host_only_cookie(
    aiohttp_client: AiohttpClient, tmp_path: Path, clock: ManualClock
) -> None:
    settings = settings_from_mapping(
        {
            "service": {
                "database": str(tmp_path / "https.sqlite3"),
                "public_url": "https://kris.example.se",
            }
        },
        {},
    )
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    secret = (await app[ACCESS_TOKENS].create("wall", AccessRole.VIEWER)).secret
    response = await sign_in(client, secret)
    assert response.status == 303
    [cookie] = set_cookie_headers(response)
    assert cookie.startswith("__Host-krisdispatch_session=")
    assert "Secure" in cookie
    assert "Domain" not in cookie


async def test_a_wrong_token_shows_the_form_again_with_an_error_and_no_cookie(
    client: Client, tokens: dict[str, str]
) -> None:
    response = await sign_in(client, "kd_not-a-real-token")
    text = await response.text()
    assert response.status == 401
    assert set_cookie_headers(response) == []
    found = Elements(text)
    assert "login-error" in found.ids()
    assert found.by_id("login-token")["type"] == "password"
    assert "kd_not-a-real-token" not in text
    assert found.by_id("login-form")["method"] == "post"


async def test_a_revoked_token_cannot_sign_in(
    client: Client, app: web.Application, tokens: dict[str, str]
) -> None:
    store = app[ACCESS_TOKENS]
    made = await store.create("old screen", AccessRole.VIEWER)
    await store.revoke(made.token.id)
    response = await sign_in(client, made.secret)
    assert response.status == 401
    assert set_cookie_headers(response) == []


async def test_a_sign_in_from_another_site_is_refused(
    client: Client, tokens: dict[str, str]
) -> None:
    response = await client.post(
        "/dashboard/login",
        data={"token": tokens["leader"]},
        headers={"Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert set_cookie_headers(response) == []


async def test_pages_without_a_session_send_people_to_the_sign_in_form(client: Client) -> None:
    for path in (
        "/dashboard",
        "/dashboard/readiness",
        "/dashboard/declare",
        "/dashboard/activations/X1",
    ):
        response, _ = await page(client, path)
        assert response.status == 303, path
        assert response.headers["Location"] == f"/dashboard/login?next={path}"
    # and back to the page asked for after signing in
    response, text = await page(client, "/dashboard/login?next=/dashboard/readiness")
    assert Elements(text).with_attribute("name", "next")[0]["value"] == "/dashboard/readiness"


async def test_after_sign_in_only_dashboard_pages_are_destinations(
    client: Client, tokens: dict[str, str]
) -> None:
    response = await sign_in(client, tokens["viewer"], next="/dashboard/readiness")
    assert response.headers["Location"] == "/dashboard/readiness"
    for elsewhere in ("https://evil.example/", "//evil.example/dashboard", "/api/activations"):
        response = await sign_in(client, tokens["viewer"], next=elsewhere)
        assert response.headers["Location"] == "/dashboard", elsewhere


async def test_a_cookie_with_a_revoked_token_is_dropped(
    client: Client, app: web.Application, tokens: dict[str, str]
) -> None:
    made = await app[ACCESS_TOKENS].create("screen", AccessRole.VIEWER)
    await sign_in(client, made.secret)
    assert (await page(client, "/dashboard"))[0].status == 200
    await app[ACCESS_TOKENS].revoke(made.token.id)
    response, _ = await page(client, "/dashboard")
    assert response.status == 303
    assert response.headers["Location"].startswith("/dashboard/login")
    [cleared] = set_cookie_headers(response)
    assert cleared.startswith("krisdispatch_session=")
    assert "Max-Age=0" in cleared


async def test_the_api_without_credentials_still_answers_json_401(client: Client) -> None:
    response = await client.get("/api/activations")
    assert response.status == 401
    assert "error" in await response.json()


async def test_sign_out_clears_the_cookie(client: Client, tokens: dict[str, str]) -> None:
    await sign_in(client, tokens["viewer"])
    assert (await page(client, "/dashboard"))[0].status == 200
    response = await client.post("/dashboard/logout", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard/login"
    [cleared] = set_cookie_headers(response)
    assert "krisdispatch_session=" in cleared
    assert "Max-Age=0" in cleared
    assert (await page(client, "/dashboard"))[0].status == 303


# --- the cookie and the API --------------------------------------------------------------


async def test_the_cookie_authenticates_the_pages_api_calls(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"])
    await sign_in(client, tokens["viewer"])
    assert (await client.get("/api/activations")).status == 200
    _, text = await page(client, f"/dashboard/activations/{activation['id']}")
    etag = Elements(text).by_id("activation")["data-etag"]
    status_url = f"/api/activations/{activation['id']}/status"
    response = await client.get(status_url, headers={"If-None-Match": etag})
    assert response.status == 304  # the page's first poll costs nothing
    assert (await client.get(f"/api/activations/{activation['id']}/callups")).status == 200


async def test_a_cookie_post_needs_the_csrf_header(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    await sign_in(client, tokens["leader"])
    body = {"kind": "drill", "title": "Storm", "scope": {"areas": ["Norr"]}}
    refused = await client.post("/api/activations/preview", json=body)
    assert refused.status == 403
    assert "X-Requested-With" in (await refused.json())["error"]
    accepted = await client.post(
        "/api/activations/preview", json=body, headers={"X-Requested-With": "krisdispatch"}
    )
    assert accepted.status == 200
    assert (await accepted.json())["people"] == 3
    wrong = await client.post(
        "/api/activations/preview", json=body, headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert wrong.status == 403


async def test_a_cookie_post_from_our_own_page_is_known_by_the_browsers_fetch_metadata(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    """A plain form of our own (the sandbox phones) sends no custom header; the browser's
    own `Sec-Fetch-Site` tells where it came from, and only same-origin is enough."""
    await sign_in(client, tokens["leader"])
    body = {"kind": "drill", "title": "Storm"}
    for site, expected in (("same-origin", 200), ("same-site", 403), ("cross-site", 403)):
        response = await client.post(
            "/api/activations/preview", json=body, headers={"Sec-Fetch-Site": site}
        )
        assert response.status == expected, site


async def test_a_bearer_token_needs_no_csrf_header(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    body = {"kind": "drill", "title": "Storm"}
    response = await client.post(
        "/api/activations/preview", json=body, headers=bearer(tokens["leader"])
    )
    assert response.status == 200


async def test_a_viewer_cookie_cannot_act_even_with_the_header(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"])
    await sign_in(client, tokens["viewer"])
    response = await client.post(
        f"/api/activations/{activation['id']}/stand-down",
        headers={"X-Requested-With": "krisdispatch"},
    )
    assert response.status == 403


async def test_a_second_leader_approves_a_crisis_from_the_page(
    aiohttp_client: AiohttpClient, tmp_path: Path, clock: ManualClock
) -> None:
    settings = settings_from_mapping(
        {
            "service": {"database": str(tmp_path / "two.sqlite3")},
            "escalation": {"two_person_approval": True},
        },
        {},
    )
    app = create_app(settings, clock=clock)
    client = await aiohttp_client(app)
    await seed_roster(app)
    first = (await app[ACCESS_TOKENS].create("Ledare Ett", AccessRole.LEADER)).secret
    second = (await app[ACCESS_TOKENS].create("Ledare Två", AccessRole.LEADER)).secret
    activation = await declare(client, first, kind="crisis", title="Strömavbrott")
    assert activation["state"] == "awaiting_approval"
    path = f"/dashboard/activations/{activation['id']}"

    await sign_in(client, second)
    found = Elements((await page(client, path))[1])
    assert "hidden" not in found.by_id("approve-button")
    assert found.by_id("activation-state")["data-state"] == "awaiting_approval"
    _, declare_form = await page(client, "/dashboard/declare")
    assert "approval-note" in Elements(declare_form).ids()
    approved = await client.post(
        f"/api/activations/{activation['id']}/approve",
        headers={"X-Requested-With": "krisdispatch"},
    )
    assert approved.status == 200, await approved.text()
    assert (await approved.json())["state"] == "active"
    found = Elements((await page(client, path))[1])
    assert "hidden" in found.by_id("approve-button")
    assert found.by_id("activation-state")["data-state"] == "active"


# --- the pages ---------------------------------------------------------------------------


async def test_pages_carry_the_security_headers_and_no_inline_script(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"])
    await sign_in(client, tokens["leader"])
    for path in (
        "/dashboard",
        f"/dashboard/activations/{activation['id']}",
        "/dashboard/readiness",
        "/dashboard/declare",
        "/dashboard/login",
    ):
        response, text = await page(client, path)
        if path == "/dashboard/login":  # signed in already: straight on
            assert response.status == 303
            continue
        assert response.status == 200, path
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"
        found = Elements(text)
        assert all(s.get("type") == "application/json" for s in found.inline_scripts), path
        assert not found.with_attribute("style"), path
        assert not [a for _, a in found.tags if any(k.startswith("on") for k in a)], path
        assert '<html lang="sv">' in text


async def test_the_activation_page_has_the_elements_the_scripts_and_tests_use(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"], scope={"areas": ["Norr"]})
    await sign_in(client, tokens["viewer"])
    response, text = await page(client, f"/dashboard/activations/{activation['id']}")
    assert response.status == 200
    found = Elements(text)
    root = found.by_id("activation")
    assert root["data-activation-id"] == activation["id"]
    assert root["data-kind"] == "drill"
    assert root["data-state"] == "active"
    assert root["data-needed"] == "3"
    assert {
        "total-called",
        "total-confirmed",
        "total-declined",
        "total-awaiting",
        "total-no-answer",
        "total-failed",
        "total-confirmed-of-needed",
        "total-gap",
        "unit-rows",
        "unit-row-template",
        "freshness",
        "on-the-way",
        "not-answered",
        "confirmations-chart",
        "event-log",
        "drill-banner",
        "activation-state",
        "activation-data",
    } <= found.ids()
    assert "ÖVNING" in text
    assert found.by_id("freshness")["data-freshness"] == "fresh"
    assert re.search(r'id="total-called">3<', text)
    rows = {r["data-unit-id"]: r for r in found.with_attribute("class") if "data-unit-id" in r}
    assert set(rows) == {"", "U1", "U2"}  # the template's empty row, and one per unit
    assert rows["U1"]["data-gap"] == "2"
    assert rows["U1"]["data-closed"] == "false"
    assert "gap-open" in rows["U1"]["class"]
    fills = found.with_attribute("data-bar-fill")
    assert [f["width"] for f in fills] == ["0", "0", "100"]  # U1, U2, the template's


async def test_a_viewer_sees_no_leader_controls(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"])
    path = f"/dashboard/activations/{activation['id']}"
    await sign_in(client, tokens["viewer"])
    _, text = await page(client, path)
    viewer_ids = Elements(text).ids()
    assert not {"leader-actions", "approve-button", "stand-down-button"} & viewer_ids
    assert 'href="/dashboard/declare"' not in text
    response, declare_text = await page(client, "/dashboard/declare")
    assert response.status == 403
    assert "declare-form" not in declare_text

    await sign_in(client, tokens["leader"])
    _, text = await page(client, path)
    found = Elements(text)
    assert found.by_id("stand-down-button")["data-action"] == "stand-down"
    assert "hidden" in found.by_id("approve-button")  # active: nothing to approve
    assert "hidden" not in found.by_id("stand-down-button")
    assert {"confirm-dialog", "confirm-yes", "confirm-no", "action-error"} <= found.ids()
    assert 'href="/dashboard/declare"' in text


async def test_the_declaration_form_offers_the_rosters_scope(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    await sign_in(client, tokens["leader"])
    response, text = await page(client, "/dashboard/declare")
    assert response.status == 200
    found = Elements(text)
    assert {
        "declare-form",
        "declare-title",
        "declare-message",
        "preview-button",
        "preview",
        "preview-people",
        "preview-units",
        "preview-unreachable",
        "preview-sms",
        "preview-time",
        "declare-confirm",
        "declare-cancel",
    } <= found.ids()
    assert "hidden" in found.by_id("preview")
    values = {(a["name"], a["value"]) for a in found.with_attribute("type", "checkbox")}
    assert {("areas", "Norr"), ("areas", "Söder"), ("services", "förskola")} <= values
    assert ("units", "U3") in values
    kinds = {a["value"]: "checked" in a for a in found.with_attribute("name", "kind")}
    assert kinds == {"drill": True, "crisis": False}  # a drill unless a leader chooses otherwise


async def test_the_list_shows_open_activations_first_and_marks_drills(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    drill = await declare(client, tokens["leader"], kind="drill", title="Övningen")
    stood_down = await client.post(
        f"/api/activations/{drill['id']}/stand-down", headers=bearer(tokens["leader"])
    )
    assert stood_down.status == 200
    crisis = await declare(client, tokens["leader"], kind="crisis", title="Strömavbrott")
    await sign_in(client, tokens["viewer"])
    _, text = await page(client, "/dashboard")
    rows = Elements(text).with_attribute("data-activation-id")
    listed = [(r["data-activation-id"], r["data-state"], r["data-kind"]) for r in rows]
    assert listed[:2] == [
        (crisis["id"], "active", "crisis"),
        (drill["id"], "stood_down", "drill"),
    ]
    assert "ÖVNING" in text
    assert f'href="/dashboard/activations/{crisis["id"]}"' in text
    assert re.search(r'data-field="confirmed">0</span> av <span data-field="needed">6<', text)


async def test_the_readiness_page_puts_units_at_risk_first(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    await sign_in(client, tokens["viewer"])
    response, text = await page(client, "/dashboard/readiness")
    assert response.status == 200
    rows = Elements(text).with_attribute("data-at-risk")
    order = [(r["data-unit-id"], r["data-at-risk"]) for r in rows]
    assert order[0] == ("U3", "true")  # needs 3, has nobody
    flags = [risk for _, risk in order]
    assert flags == sorted(flags, key=lambda f: f != "true")


async def test_reading_readiness_on_the_page_is_audited_like_the_api(
    client: Client, app: web.Application, tokens: dict[str, str], roster: Roster
) -> None:
    await sign_in(client, tokens["viewer"])
    assert (await page(client, "/dashboard/readiness"))[0].status == 200
    [entry] = await audit_entries(app[DATABASE], action=audit.READINESS_READ)
    assert entry.actor == "test viewer"
    assert entry.detail == {"people": 3}


async def test_protected_people_are_never_named(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"], scope={"units": ["U1"]})
    await sign_in(client, tokens["leader"])
    seen: list[str] = []
    for path in (
        f"/dashboard/activations/{activation['id']}",
        "/dashboard",
        "/dashboard/readiness",
        "/dashboard/declare",
    ):
        seen.append((await page(client, path))[1])
    callups = await client.get(f"/api/activations/{activation['id']}/callups")
    seen.append(await callups.text())
    preview = await client.post(
        "/api/activations/preview",
        json={"kind": "drill", "title": "T", "scope": {"units": ["U1"]}},
        headers={"X-Requested-With": "krisdispatch"},
    )
    seen.append(await preview.text())
    assert not [text for text in seen if SECRET_NAME in text or "Hemlig" in text]
    names = [c["name"] for c in (await callups.json())["callups"]]
    assert sorted(names) == ["Anna Andersson", "skyddad person"]


async def test_an_unknown_activation_is_a_swedish_404_page(
    client: Client, tokens: dict[str, str]
) -> None:
    await sign_in(client, tokens["viewer"])
    response, text = await page(client, "/dashboard/activations/NOPE")
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "Hittades inte" in text


# --- static files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("dashboard.css", "text/css"),
        ("dashboard.js", "text/javascript"),
        ("activation.js", "text/javascript"),
        ("chart.js", "text/javascript"),
        ("activations.js", "text/javascript"),
        ("declare.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_are_served_with_their_types(
    client: Client, name: str, content_type: str
) -> None:
    response = await client.get(f"/dashboard/static/{name}")
    assert response.status == 200
    assert response.content_type == content_type
    assert response.charset == "utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(await response.read()) > 100
    again = await client.get(
        f"/dashboard/static/{name}", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304


async def test_only_the_dashboards_own_files_are_static(client: Client) -> None:
    for name in ("../app.py", "%2e%2e%2fapp.py", "missing.js", "__init__.py"):
        response = await client.get(f"/dashboard/static/{name}")
        assert response.status == 404, name


def referenced_assets(texts: Iterable[str]) -> set[str]:
    return {
        m for text in texts for m in re.findall(r'(?:src|href)="/dashboard/static/([^"]+)"', text)
    }


async def test_every_asset_a_page_names_is_served(
    client: Client, tokens: dict[str, str], roster: Roster
) -> None:
    activation = await declare(client, tokens["leader"])
    await sign_in(client, tokens["leader"])
    texts = [
        (await page(client, path))[1]
        for path in (
            "/dashboard",
            f"/dashboard/activations/{activation['id']}",
            "/dashboard/declare",
        )
    ]
    names = referenced_assets(texts)
    assert {
        "dashboard.css",
        "dashboard.js",
        "activation.js",
        "chart.js",
        "activations.js",
        "declare.js",
        "favicon.svg",
    } == names
    for name in names:
        assert (await client.get(f"/dashboard/static/{name}")).status == 200
