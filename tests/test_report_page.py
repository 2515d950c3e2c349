"""The drill report's dashboard page through the real app: the key figures (the same as the
API's report), the chart from this site, the link from the activation page, the audit,
and no protected name anywhere."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from itertools import count

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dispatcher.answer_desk import InboundSms
from dispatcher.clock import ManualClock
from dispatcher.web import ANSWER_DESK, DATABASE, DISPATCHER
from tests.test_gap_reports import PEOPLE, PROTECTED_NAME, UNITS, put_roster

Client = TestClient[web.Request, web.Application]

PROTECTED = next(p for p in PEOPLE if p.protected)
SECRETS = (PROTECTED_NAME, "Hanna", "Skyddadsson", str(PROTECTED.phone))
_sids = count(1)


async def say(app: web.Application, index: int, text: str) -> None:
    sender = PEOPLE[index].phone
    assert sender is not None
    await app[ANSWER_DESK].handle_sms(InboundSms(f"SM{next(_sids):032d}", sender, text))


@pytest.fixture
async def drill(
    client: Client, app: web.Application, clock: ManualClock, tokens: dict[str, str]
) -> str:
    """A drill of four: P1 says yes after 2 minutes, P2 no after 6; P3 (protected) and P4
    never answer; stood down after an hour."""
    await put_roster(app, UNITS, PEOPLE)
    leader = {"Authorization": f"Bearer {tokens['leader']}"}
    response = await client.post(
        "/api/activations", json={"kind": "drill", "title": "Höstövning"}, headers=leader
    )
    assert response.status == 201
    activation = str((await response.json())["id"])
    await app[DISPATCHER].wait_idle()
    clock.advance(timedelta(minutes=2))
    await say(app, 0, "ja 20")
    clock.advance(timedelta(minutes=4))
    await say(app, 1, "nej")
    clock.advance(timedelta(minutes=54))
    down = await client.post(f"/api/activations/{activation}/stand-down", headers=leader)
    assert down.status == 200
    return activation


def viewer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['viewer']}"}


def cell(page: str, row_id: str, field: str) -> str:
    found = re.search(rf'<tr id="{row_id}">.*?data-field="{field}">([^<]*)<', page)
    assert found is not None, (row_id, field)
    return found.group(1)


async def test_the_page_shows_the_figures_and_the_chart(
    client: Client, app: web.Application, tokens: dict[str, str], drill: str
) -> None:
    report = await (
        await client.get(f"/api/activations/{drill}/report", headers=viewer(tokens))
    ).json()
    response = await client.get(f"/dashboard/activations/{drill}/report", headers=viewer(tokens))
    assert response.status == 200
    assert "img-src 'self'" in response.headers["Content-Security-Policy"]
    page = await response.text()

    assert report["totals"]["response_rate"] == 0.5  # two of four answered
    assert '<dd id="response-rate">50 %</dd>' in page
    assert f'<dd id="called">{report["totals"]["called"]}</dd>' in page
    for row_id, key in (
        ("first-answer", "first_answer_minutes"),
        ("confirmation", "confirmation_minutes"),
    ):
        for field in ("p50", "p90", "max", "count"):
            expected = report[key][field]
            assert cell(page, row_id, field) == ("–" if expected is None else str(expected))
    assert cell(page, "first-answer", "max") == "6.0"  # P2's no, six minutes in

    assert f'<img id="report-chart" src="/api/activations/{drill}/report/chart.svg"' in page
    chart = await client.get(f"/api/activations/{drill}/report/chart.svg", headers=viewer(tokens))
    assert chart.status == 200
    assert chart.content_type == "image/svg+xml"

    for unit in report["units"]:
        assert f'data-unit-id="{unit["unit_id"]}"' in page
    assert 'id="report-departments"' in page and "Ekonomi" in page
    assert f"Nåddes inte ({report['not_reached']['count']})" in page
    assert "svarade inte" in page  # the reason, in Swedish
    assert "ÖVNING" in page

    own = await (await client.get(f"/dashboard/activations/{drill}", headers=viewer(tokens))).text()
    assert f'href="/dashboard/activations/{drill}/report"' in own


async def test_protected_names_never_appear(
    client: Client, app: web.Application, tokens: dict[str, str], drill: str
) -> None:
    page = await (
        await client.get(f"/dashboard/activations/{drill}/report", headers=viewer(tokens))
    ).text()
    assert "skyddad person" in page  # P3 did not answer: listed, unnamed
    assert "Namn P4" in page
    for secret in SECRETS:
        assert secret not in page


async def test_reading_the_page_is_audited_and_needs_a_viewer(
    client: Client, app: web.Application, tokens: dict[str, str], drill: str
) -> None:
    path = f"/dashboard/activations/{drill}/report"
    anonymous = await client.get(path, allow_redirects=False)
    assert anonymous.status in (302, 303, 401)
    assert (await client.get(path, headers=viewer(tokens))).status == 200
    rows = await app[DATABASE].fetch_all(
        "SELECT subject, detail_json FROM audit_log WHERE action = 'export.read'"
    )
    assert [(r[0], json.loads(r[1])) for r in rows] == [
        (drill, {"export": "drill_report", "format": "html", "people": 2})
    ]
    missing = await client.get("/dashboard/activations/NOPE/report", headers=viewer(tokens))
    assert missing.status == 404
