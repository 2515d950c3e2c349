"""The scheduled drills page (`/dashboard/drills`) through the real app: what it lists,
who gets the form, its guards. What `schedules.js` does in a browser is tested elsewhere;
here the HTML must carry the elements and ids the script and those tests rely on."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, expect
from pytest_aiohttp import AiohttpServer

from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.web import ACCESS_TOKENS, DRILL_SCHEDULES
from dispatcher.web.schedule_pages import cron_in_words
from tests.browser_support import browser  # noqa: F401  # the fixture, by name
from tests.test_dashboard import Client, Elements, bearer, page, seed_roster, sign_in

PATH = "/dashboard/drills"
MONDAY = datetime(2037, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm, winter time


@pytest.fixture
def clock() -> ManualClock:
    """Years ahead: APScheduler keeps real time, and a job in its past fires at once."""
    return ManualClock(MONDAY)


@pytest.fixture
async def roster(client: Client, app: web.Application) -> None:
    await seed_roster(app)


async def schedule(client: Client, token: str, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Måndagsövning")
    response = await client.post("/api/drill-schedules", json=body, headers=bearer(token))
    assert response.status == 201, await response.text()
    result: dict[str, Any] = await response.json()
    return result


def rows(text: str) -> dict[str, str]:
    """Schedule id → state, from `#schedule-rows tr[data-schedule-id][data-state]`."""
    return {
        a["data-schedule-id"]: a["data-state"]
        for a in Elements(text).with_attribute("data-schedule-id")
    }


async def test_the_page_lists_schedules_made_through_the_api_in_stockholm_time(
    client: Client, roster: None, tokens: dict[str, str]
) -> None:
    one_off = await schedule(client, tokens["leader"], at="2037-03-10T09:00", announced=True)
    weekly = await schedule(
        client, tokens["leader"], title="Veckoövning", cron="0 9 * * 1", scope={"units": ["U2"]}
    )
    await sign_in(client, tokens["viewer"])
    response, text = await page(client, PATH)
    assert response.status == 200
    assert rows(text) == {str(one_off["id"]): "scheduled", str(weekly["id"]): "scheduled"}
    assert 'id="schedule-rows"' in text
    assert "2037-03-10 09:00" in text  # 08:00 UTC, winter time
    assert "varje måndag kl. 09:00" in text
    assert "2037-03-09 09:00" in text  # the weekly drill's next run
    assert "Björkängens förskola" in text  # the unit by name, not U2
    assert "Aviserad" in text and "Oaviserad" in text
    assert 'aria-current="page"' in text and f'href="{PATH}"' in text  # the nav link


async def test_a_run_links_to_its_activation_and_a_cancelled_drill_says_so(
    client: Client,
    app: web.Application,
    clock: ManualClock,
    roster: None,
    tokens: dict[str, str],
) -> None:
    # U3 has no one placed: the drill declares, and nothing waits to be sent.
    ran = await schedule(client, tokens["leader"], at="2037-03-02T10:00", scope={"units": ["U3"]})
    dropped = await schedule(client, tokens["leader"], title="Struken", at="2037-03-20T10:00")
    cancelled = await client.post(
        f"/api/drill-schedules/{dropped['id']}/cancel", headers=bearer(tokens["leader"])
    )
    assert cancelled.status == 200
    await app[DRILL_SCHEDULES].wait_idle()
    clock.set(datetime(2037, 3, 2, 9, 0, tzinfo=UTC))  # 10:00 in Stockholm
    [outcome] = await app[DRILL_SCHEDULES].run_due()
    assert outcome.activation_id is not None

    response = await client.get(PATH, headers=bearer(tokens["viewer"]))
    text = await response.text()
    assert rows(text) == {str(ran["id"]): "done", str(dropped["id"]): "cancelled"}
    [link] = Elements(text).with_attribute("class", "last-run")
    assert link["href"] == f"/dashboard/activations/{outcome.activation_id}"
    assert "Genomförd" in text and "Inställd" in text


async def test_a_viewer_sees_the_list_but_no_form_and_no_cancel_button(
    client: Client, roster: None, tokens: dict[str, str]
) -> None:
    made = await schedule(client, tokens["leader"], at="2037-03-10T09:00")
    response = await client.get(PATH, headers=bearer(tokens["viewer"]))
    text = await response.text()
    assert response.status == 200
    ids = Elements(text).ids()
    assert "schedule-form" not in ids
    assert f"schedule-cancel-{made['id']}" not in ids
    assert "schedules.js" not in text
    assert rows(text) == {str(made["id"]): "scheduled"}


async def test_a_leader_gets_the_form_the_script_and_a_cancel_button(
    client: Client, roster: None, tokens: dict[str, str]
) -> None:
    made = await schedule(client, tokens["leader"], at="2037-03-10T09:00")
    await sign_in(client, tokens["leader"])
    response, text = await page(client, PATH)
    found = Elements(text)
    assert response.status == 200
    assert found.by_id("schedule-form")
    assert found.by_id("schedule-at")["type"] == "datetime-local"
    assert found.by_id("schedule-cron")["name"] == "cron"
    assert found.by_id(f"schedule-cancel-{made['id']}")["data-cancel"] == str(made["id"])
    assert found.by_id("confirm-dialog")
    for name, value in (("areas", "Norr"), ("services", "förskola"), ("units", "U3")):
        boxes = found.with_attribute("name", name)
        assert value in {box["value"] for box in boxes}, name
    for name in ("announced", "reserves", "gap_reports"):
        assert found.with_attribute("name", name)[0]["type"] == "checkbox"
    scripts = [a["src"] for tag, a in found.tags if tag == "script" and "src" in a]
    assert scripts == ["/dashboard/static/dashboard.js", "/dashboard/static/schedules.js"]


async def test_the_page_needs_a_session(client: Client) -> None:
    response, _ = await page(client, PATH)
    assert response.status == 303
    assert response.headers["Location"] == f"/dashboard/login?next={PATH}"


async def test_the_page_keeps_the_strict_policy_and_its_files_are_served(
    client: Client, roster: None, tokens: dict[str, str]
) -> None:
    await sign_in(client, tokens["leader"])
    response, text = await page(client, PATH)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    found = Elements(text)
    assert all(s.get("type") == "application/json" for s in found.inline_scripts)
    assert not found.with_attribute("style")
    assert not [a for _, a in found.tags if any(k.startswith("on") for k in a)]
    for name, content_type in (("schedules.js", "text/javascript"), ("schedules.css", "text/css")):
        served = await client.get(f"/dashboard/static/{name}")
        assert served.status == 200, name
        assert served.content_type == content_type
        assert f'"/dashboard/static/{name}"' in text


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 9 * * *", "varje dag kl. 09:00"),
        ("30 7 * * 0", "varje söndag kl. 07:30"),
        ("30 7 * * 7", "varje söndag kl. 07:30"),
        ("0 18 * * 1-5", "varje vardag kl. 18:00"),
        ("5 8 15 * *", "den 15 varje månad kl. 08:05"),
        ("0 9 * 3 1", None),
        ("*/15 9 * * *", None),
        ("0 9 1 * 1", None),
        ("0 9 * * mon", None),
    ],
)
def test_simple_cron_expressions_are_put_in_words(expression: str, words: str | None) -> None:
    assert cron_in_words(expression) == words


# --- in a browser ------------------------------------------------------------------------


async def test_a_leader_schedules_and_cancels_a_drill_from_the_page(
    aiohttp_server: AiohttpServer,
    app: web.Application,
    browser: Browser,  # noqa: F811
) -> None:
    server = await aiohttp_server(app)
    await seed_roster(app)
    leader = (await app[ACCESS_TOKENS].create("övningsledare", AccessRole.LEADER)).secret
    context = await browser.new_context(
        base_url=str(server.make_url("")).rstrip("/"), timezone_id="Europe/Stockholm"
    )
    problems: list[str] = []
    context.on("weberror", lambda error: problems.append(str(error.error)))
    try:
        tab = await context.new_page()
        await tab.goto(PATH)
        await tab.locator("#login-token").fill(leader)
        await tab.locator("#login-button").click()
        await expect(tab).to_have_url(re.compile(re.escape(PATH) + "$"))

        await tab.locator("#schedule-title").fill("Vårövning")
        await tab.locator('input[name="timing"][value="cron"]').check()
        await tab.locator("#schedule-cron").fill("0 9 * *")  # four fields: refused
        await tab.locator("#schedule-submit").click()
        await expect(tab.locator("#schedule-error-cron")).to_contain_text("5 fields")
        await expect(tab.locator("#schedule-cron")).to_have_attribute("aria-invalid", "true")

        await tab.locator('input[name="timing"][value="at"]').check()
        await tab.locator("#schedule-at").fill("2037-03-10T09:00")
        await tab.locator('input[name="areas"][value="Norr"]').check()
        await tab.locator("#schedule-announced").check()
        await tab.locator("#schedule-submit").click()
        row = tab.locator('#schedule-rows tr[data-schedule-id][data-state="scheduled"]')
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("2037-03-10 09:00")
        await expect(row).to_contain_text("Aviserad")

        schedule_id = await row.get_attribute("data-schedule-id")
        await tab.locator(f"#schedule-cancel-{schedule_id}").click()
        await tab.locator("#confirm-yes").click()
        cancelled = tab.locator(f'#schedule-rows tr[data-schedule-id="{schedule_id}"]')
        await expect(cancelled).to_have_attribute("data-state", "cancelled")
    finally:
        await context.close()
    assert problems == []
