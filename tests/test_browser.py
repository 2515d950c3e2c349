"""The dashboard and the sandbox phones in a real headless Chromium (Debian's, via Playwright).

The real app serves on a loopback port with the sandbox channels and a demo municipality of
100 people. The browser signs in through the form, declares from the page, answers as people
on the sandbox phones in a second tab and watches the activation page follow without a
reload. Waiting is Playwright's `expect`, which polls (the page itself polls every 3 s); the
pages' CSP forbids eval, so no test runs a string of JavaScript in them.

`artifacts/activation.png` is the wall screen at 1920×1080 in a realistic state; run with
KRISDISPATCH_README_SCREENSHOT=1 to also replace the README's `docs/dashboard.png` with it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect
from pytest_aiohttp import AiohttpServer

from dispatcher.answer_desk import InboundSms
from dispatcher.channels.sandbox import new_inbound_id, record_sandbox_reply
from dispatcher.clock import ManualClock, to_millis
from dispatcher.commands.roster_import import read_roster_files
from dispatcher.demo import write_demo_roster
from dispatcher.domain.access import AccessRole
from dispatcher.roster_import import parse_roster_files
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.store.activations import get_activation
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import (
    ACCESS_TOKENS,
    ANSWER_DESK,
    CLOCK,
    DATABASE,
    DISPATCHER,
    ESCALATOR,
    STATUS_CACHE,
)
from tests.browser_support import ARTIFACTS, browser  # noqa: F401  # the fixture, by name

pytestmark = pytest.mark.slow

WALL_SCREEN: ViewportSize = {"width": 1920, "height": 1080}
ACTION_MS = 5_000  # a click, a fill, a navigation
POLL_MS = 8_000  # what the page learns by polling the server every 3 s
README_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "dashboard.png"
LEADER_NAME, VIEWER_NAME = "Lena Ledare", "Väggskärm"
ACTIVATION_URL = re.compile(r"/dashboard/activations/([^/?#]+)$")


@dataclass(frozen=True, slots=True)
class World:
    """The running service: its app, where the browser reaches it, and a token per role."""

    app: web.Application
    url: str
    leader: str
    viewer: str


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


@pytest.fixture
def clock() -> ManualClock:
    """Half an hour ago, moved by hand: answers can be spread over time, nothing falls due."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))


@pytest.fixture
async def world(
    aiohttp_server: AiohttpServer, app: web.Application, clock: ManualClock, tmp_path: Path
) -> World:
    server = await aiohttp_server(app)  # 127.0.0.1, a free port
    today = clock.now().date()
    write_demo_roster(tmp_path / "demo", people=100, today=today)
    names = ("units.csv", "staff.csv", "training.csv")
    units, staff, training = read_roster_files([tmp_path / "demo" / n for n in names], 50)
    parsed = parse_roster_files(units, staff, training, today=today)
    assert parsed.roster is not None
    await replace_roster(
        app[DATABASE],
        parsed.roster,
        imported_by="test",
        source="demo",
        warnings=0,
        imported_at_ms=to_millis(clock.now()),
    )
    tokens = app[ACCESS_TOKENS]
    leader = await tokens.create(LEADER_NAME, AccessRole.LEADER)
    viewer = await tokens.create(VIEWER_NAME, AccessRole.VIEWER)
    return World(app, str(server.make_url("")).rstrip("/"), leader.secret, viewer.secret)


@pytest.fixture
async def context(browser: Browser, world: World) -> AsyncIterator[BrowserContext]:  # noqa: F811
    """A fresh browser profile on the wall screen; any script error or CSP refusal fails."""
    context = await browser.new_context(
        base_url=world.url, viewport=WALL_SCREEN, locale="sv-SE", timezone_id="Europe/Stockholm"
    )
    context.set_default_timeout(ACTION_MS)
    context.set_default_navigation_timeout(ACTION_MS)
    expect.set_options(timeout=POLL_MS)
    problems: list[str] = []
    context.on("weberror", lambda error: problems.append(str(error.error)))
    context.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),  # a 401 or 403 page is expected in some tests; scripts' errors are not
    )
    try:
        yield context
    finally:
        await context.close()
    assert problems == [], f"errors in the pages: {problems}"


async def sign_in(page: Page, token: str, path: str = "/dashboard") -> None:
    """Open `path` signed out, be sent to the form, sign in there and land back on `path`."""
    await page.goto(path)
    await expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    await page.locator("#login-token").fill(token)
    await page.locator("#login-button").click()
    await expect(page).to_have_url(re.compile(re.escape(path) + "$"))


async def declare_drill(world: World, page: Page, title: str, **scope: list[str]) -> str:
    """Declare through the API (the page's own form has its test) and let it all be sent."""
    response = await page.request.post(
        "/api/activations",
        data={"kind": "drill", "title": title, "scope": scope},
        headers={"Authorization": f"Bearer {world.leader}"},
    )
    assert response.status == 201, await response.text()
    activation_id: str = (await response.json())["id"]
    await world.app[DISPATCHER].wait_idle()
    return activation_id


async def test_sign_in_sets_the_cookie_and_no_address_ever_holds_the_token(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    addresses: list[str] = []
    context.on("request", lambda request: addresses.append(request.url))
    page.on("framenavigated", lambda frame: addresses.append(frame.url))

    await page.goto("/dashboard")
    await expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    await page.locator("#login-token").fill("kd_" + "x" * 40)
    await page.locator("#login-button").click()
    await expect(page.locator("#login-error")).to_be_visible()
    assert await context.cookies() == []

    await page.locator("#login-token").fill(world.leader)
    await page.locator("#login-button").click()
    await expect(page).to_have_url(re.compile(r"/dashboard$"))
    await expect(page.locator("body")).to_have_attribute("data-role", "leader")
    await expect(page.locator("#signed-in-as")).to_contain_text(LEADER_NAME)
    cookies = [
        (c.get("name"), c.get("value"), c.get("httpOnly"), c.get("sameSite"), c.get("path"))
        for c in await context.cookies()
    ]
    assert cookies == [("krisdispatch_session", world.leader, True, "Strict", "/")]

    await page.locator("#logout-button").click()
    await expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    assert await context.cookies() == []
    assert len(addresses) > 6
    assert [a for a in addresses if world.leader in a] == []


async def test_a_leader_declares_a_drill_from_the_page(
    context: BrowserContext, world: World
) -> None:
    in_norr = await world.app[DATABASE].fetch_one(
        "SELECT COUNT(*) FROM people AS p JOIN units AS u ON u.unit_id = p.placement"
        " WHERE u.area = 'Norr'"
    )
    assert in_norr is not None and in_norr[0] > 5
    page = await context.new_page()
    await sign_in(page, world.leader, "/dashboard/declare")

    await page.locator("input[name=kind][value=drill]").check()
    await page.locator("#declare-title").fill("Vattenläcka i Norr")
    await page.locator("input[name=areas][value=Norr]").check()
    await page.locator("#declare-message").fill("Samling vid entrén.")
    await page.locator("#preview-button").click()
    await expect(page.locator("#preview")).to_be_visible()
    await expect(page.locator("#preview-people")).to_have_text(str(in_norr[0]))
    await expect(page.locator("#preview-sms")).to_contain_text("SMS")
    await expect(page.locator("#declare-confirm")).to_contain_text(f"{in_norr[0]} personer")
    await page.locator("#declare-confirm").click()

    await expect(page).to_have_url(ACTIVATION_URL)
    found = ACTIVATION_URL.search(page.url)
    assert found is not None
    activation_id = found.group(1)
    await expect(page.locator("#drill-banner")).to_contain_text("ÖVNING")
    await expect(page.locator("#activation-title")).to_have_text("Vattenläcka i Norr")
    await expect(page.locator("#activation")).to_have_attribute("data-state", "active")
    await expect(page.locator("#total-called")).to_have_text(str(in_norr[0]))

    await page.locator("nav a[href='/dashboard']").click()
    row = page.locator(f"#activation-rows tr.activation-row[data-activation-id='{activation_id}']")
    await expect(row).to_have_attribute("data-kind", "drill")
    await expect(row.locator("[data-field=kind]")).to_have_text("ÖVNING")


async def test_answers_on_the_sandbox_phones_move_the_activation_page_without_a_reload(
    context: BrowserContext, world: World
) -> None:
    board = await context.new_page()
    await sign_in(board, world.leader)
    activation_id = await declare_drill(world, board, "Strömavbrott", areas=["Norr", "Söder"])
    loads: list[str] = []
    board.on("request", lambda r: loads.append(r.url) if r.resource_type == "document" else None)
    await board.goto(f"/dashboard/activations/{activation_id}")
    # The unit with the largest gap comes first: answer as two people placed there.
    first = board.locator("#unit-rows tr.unit-row").first
    unit = await first.locator("th[data-field=name]").inner_text()
    needed = int(await first.locator("[data-field=needed]").inner_text())
    gap = int(await first.get_attribute("data-gap") or "")
    awaiting = int(await board.locator("#total-awaiting").inner_text())
    total_gap = int(await board.locator("#total-gap").get_attribute("data-gap") or "")
    row = f"#unit-rows tr.unit-row[data-unit-id='{await first.get_attribute('data-unit-id')}']"
    fill = f"{row} [data-bar-fill]"
    assert gap > 1 and await board.locator(fill).get_attribute("width") == "0"

    phones = await context.new_page()
    await answer_on_the_phones(phones, unit, "JA 15")
    await expect(board.locator("#total-confirmed")).to_have_text("1")
    await expect(board.locator(fill)).to_have_attribute("width", str(round(100 / needed)))
    await expect(board.locator(row)).to_have_attribute("data-gap", str(gap - 1))
    await expect(board.locator(f"{row} [data-field=gap]")).to_have_text(f"saknas {gap - 1}")
    await expect(board.locator("#total-gap")).to_have_attribute("data-gap", str(total_gap - 1))

    await answer_on_the_phones(phones, unit, "NEJ sjuk")
    await expect(board.locator("#total-declined")).to_have_text("1")
    await expect(board.locator("#total-awaiting")).to_have_text(str(awaiting - 2))
    await expect(board.locator("#total-confirmed")).to_have_text("1")
    await expect(board.locator(row)).to_have_attribute("data-gap", str(gap - 1))
    assert len(loads) == 1, f"the activation page was loaded again: {loads}"


async def answer_on_the_phones(phones: Page, unit: str, text: str) -> None:
    """Find someone at `unit` who was called and has not answered, and answer as them."""
    await phones.goto("/sandbox")
    await phones.locator("[data-search-box]").fill(unit)
    await phones.locator("[data-search-box]").press("Enter")
    person = (
        phones.locator(f"section.person[data-unit={json.dumps(unit)}]")
        .filter(has=phones.locator("[data-message=callup]"))
        .filter(has=phones.locator("[data-reply-form]"))
        .filter(has_not=phones.locator("[data-message=own]"))
        .first
    )
    await person.locator("[data-reply-box]").fill(text)
    await person.locator("[data-reply-send]").click()
    # Their own phone, the answer in the thread and the automatic reply last.
    await expect(phones).to_have_url(re.compile(r"/sandbox/people/[^/]+#senaste$"))
    await expect(phones.locator("[data-message=own] .text")).to_have_text(text)
    await expect(phones.locator("#senaste")).to_have_attribute("data-message", "reply")


async def test_a_leader_stands_the_drill_down_after_confirming(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    await sign_in(page, world.leader)
    activation_id = await declare_drill(world, page, "Utrymningsövning", areas=["Öster"])
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await page.goto(f"/dashboard/activations/{activation_id}")
    button, dialog = page.locator("#stand-down-button"), page.locator("#confirm-dialog")

    await button.click()
    await expect(dialog).to_be_visible()
    await expect(page.locator("#confirm-title")).to_have_text("Avsluta övningen?")
    await page.locator("#confirm-no").click()
    await expect(dialog).to_be_hidden()
    assert posts == []

    await button.click()
    await page.locator("#confirm-yes").click()
    await expect(page.locator("#activation")).to_have_attribute("data-state", "stood_down")
    await expect(page.locator("#activation-state")).to_have_text("Avblåst")
    await expect(button).to_be_hidden()
    await expect(page.locator("#action-error")).to_be_hidden()
    await expect(page.locator("#event-log li[data-event-kind=stood-down]")).to_contain_text(
        f"Avblåst av {LEADER_NAME}"
    )
    assert [p.rsplit("/", 1)[-1] for p in posts] == ["stand-down"]
    record = await get_activation(world.app[DATABASE], activation_id)
    assert record is not None and record.state == "stood_down"

    await world.app[DISPATCHER].wait_idle()  # the stand-down notices reach the phones
    await page.goto("/sandbox")
    await expect(page.locator("[data-message=stand_down]").first).to_be_visible()


async def test_a_viewer_sees_no_leader_controls_and_fresh_data(
    context: BrowserContext, world: World
) -> None:
    page = await context.new_page()
    await sign_in(page, world.viewer)
    activation_id = await declare_drill(world, page, "Brandövning", areas=["Väster"])
    await page.goto(f"/dashboard/activations/{activation_id}")
    await expect(page.locator("body")).to_have_attribute("data-role", "viewer")
    await expect(page.locator("#activation")).to_have_attribute("data-can-act", "false")
    await expect(page.locator("#not-answered")).to_have_attribute("data-loaded", "true")
    for leaders_only in ("#leader-actions", "#stand-down-button", "#approve-button"):
        await expect(page.locator(leaders_only)).to_have_count(0)
    await expect(page.locator("a[href='/dashboard/declare']")).to_have_count(0)
    await expect(page.locator("#freshness")).to_have_attribute("data-freshness", "fresh")
    await expect(page.locator("#freshness")).to_contain_text("Uppdaterad")

    await page.goto("/dashboard/declare")
    await expect(page.locator("h1")).to_have_text("Endast för ledare")
    await page.goto("/sandbox")
    await expect(page.locator("[data-message=callup]").first).to_be_visible()
    await expect(page.locator("[data-reply-form]")).to_have_count(0)


async def test_the_wall_screen_in_a_realistic_state(
    context: BrowserContext, world: World, clock: ManualClock
) -> None:
    """Most units partly covered, a few closed, some declines, the answers spread over 25
    minutes. Saved as a test artefact (and, on request, as the README's picture)."""
    page = await context.new_page()
    await sign_in(page, world.viewer)
    activation_id = await declare_drill(world, page, "Övning: strömavbrott i hela kommunen")
    await answer_as_a_municipality_would(world, clock, activation_id)

    await page.goto(f"/dashboard/activations/{activation_id}")
    await expect(page.locator("#on-the-way")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("#event-log li[data-event-kind=answer-yes]").first).to_be_visible()
    status = await world.app[STATUS_CACHE].get(activation_id)
    assert status is not None
    totals = json.loads(status.body)["totals"]
    await expect(page.locator("#confirmations-chart")).to_have_attribute(
        "data-points", str(totals["confirmed"])
    )
    await expect(page.locator("#total-confirmed")).to_have_text(str(totals["confirmed"]))
    await expect(page.locator("#total-declined")).to_have_text(str(totals["declined"]))
    await expect(page.locator("#unit-rows tr.unit-row[data-closed=true]")).not_to_have_count(0)
    gaps = page.locator("#unit-rows tr.unit-row[data-closed=false] td[data-field=gap]")
    await expect(gaps.first).to_have_css("color", "rgb(179, 38, 30)")  # the gap in red
    await expect(page.locator("#freshness")).to_have_attribute("data-freshness", "fresh")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "activation.png")
    await page.screenshot(path=ARTIFACTS / "activation-full.png", full_page=True)
    if os.environ.get("KRISDISPATCH_README_SCREENSHOT"):
        await page.screenshot(path=README_SCREENSHOT)


async def answer_as_a_municipality_would(
    world: World, clock: ManualClock, activation_id: str
) -> None:
    """Answer by SMS as the sandbox phones do: every third unit fully covered, the others
    about half, a decline in every other unit; most answers early, the rest trickling in."""
    app = world.app
    status = await app[STATUS_CACHE].get(activation_id)
    assert status is not None
    needed = {u["unit_id"]: u["needed"] for u in json.loads(status.body)["units"]}
    rows = await app[DATABASE].fetch_all(
        "SELECT unit_id, sms_number FROM callups WHERE activation_id = ?"
        " AND sms_number IS NOT NULL AND placement_kind = 'crisis' ORDER BY unit_id, id",
        (activation_id,),
    )
    by_unit: dict[str, list[str]] = {}
    for row in rows:
        by_unit.setdefault(row["unit_id"], []).append(row["sms_number"])
    etas = itertools.cycle((10, 15, 20, 12, 30, 25, 45, 8))
    plans: list[list[tuple[str, str]]] = []
    for i, (unit_id, numbers) in enumerate(sorted(by_unit.items())):
        yes = needed[unit_id] if i % 3 == 0 else needed[unit_id] // 2
        answers = [(number, f"JA {next(etas)}") for number in numbers[:yes]]
        if i % 2 and len(numbers) > yes:
            answers.append((numbers[yes], "NEJ sjuk" if i % 4 == 1 else "NEJ bortrest"))
        plans.append(answers)
    in_turn = [a for batch in itertools.zip_longest(*plans) for a in batch if a is not None]
    declared = clock.now()
    for k, (number, text) in enumerate(in_turn, start=1):
        # Many answer at once, then fewer and fewer: the first after 2 minutes, the last at 25.
        clock.set(declared + timedelta(minutes=2 + 23 * (k / len(in_turn)) ** 2))
        inbound_id = new_inbound_id()
        handled = await app[ANSWER_DESK].handle_sms(InboundSms(inbound_id, number, text))
        if handled.reply:
            await record_sandbox_reply(app[DATABASE], app[CLOCK], number, handled.reply, inbound_id)
    await app[ESCALATOR].wait_idle()
    await app[DISPATCHER].wait_idle()
