"""The call list through the real app: CSV and the printable page, protected people masked,
every export audited (counts, never names), viewer allowed and no token refused."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from dispatcher.answer_desk import InboundSms
from dispatcher.exports import CSV_COLUMNS
from dispatcher.web import ANSWER_DESK, DATABASE
from tests.test_gap_reports import PEOPLE, PROTECTED_NAME, UNITS, put_roster

Client = TestClient[web.Request, web.Application]

PROTECTED = next(p for p in PEOPLE if p.protected)
SECRETS = (PROTECTED_NAME, "Hanna", "Skyddadsson", PROTECTED.person_id, str(PROTECTED.phone))


@pytest.fixture
async def activation(client: Client, app: web.Application, tokens: dict[str, str]) -> str:
    """A crisis over the four people of the gap-report roster; P1 answers `ja 30`."""
    await put_roster(app, UNITS, PEOPLE)
    response = await client.post(
        "/api/activations",
        json={"kind": "crisis", "title": "Storm"},
        headers={"Authorization": f"Bearer {tokens['leader']}"},
    )
    assert response.status == 201
    sender = PEOPLE[0].phone
    assert sender is not None
    await app[ANSWER_DESK].handle_sms(InboundSms("SM" + "1" * 32, sender, "ja 30"))
    return str((await response.json())["id"])


def auth(tokens: dict[str, str], role: str = "viewer") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


async def exports_audited(app: web.Application) -> list[dict[str, Any]]:
    rows = await app[DATABASE].fetch_all(
        "SELECT subject, detail_json FROM audit_log WHERE action = 'export.read' ORDER BY id"
    )
    return [{"subject": r[0], **json.loads(r[1])} for r in rows]


async def test_the_csv_has_one_row_per_callup_by_unit(
    client: Client, app: web.Application, tokens: dict[str, str], activation: str
) -> None:
    response = await client.get(f"/api/activations/{activation}/export.csv", headers=auth(tokens))
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert len(rows) == len(PEOPLE)
    assert [r["unit"] for r in rows] == ["Björkängen", "Solgården", "Solgården", "Solgården"]
    by_name = {r["name"]: r for r in rows}
    first = by_name["Namn P1"]
    assert first["phone"] == PEOPLE[0].phone
    assert first["unit_id"] == "U1"
    assert (first["state"], first["eta_minutes"]) == ("confirmed", "30")
    assert first["arrives_at"] == "2026-03-02T09:30+01:00"  # 08:00 UTC + 30 min, in Stockholm
    assert by_name["Namn P2"]["state"] == "awaiting"
    assert by_name["Namn P2"]["eta_minutes"] == by_name["Namn P2"]["arrives_at"] == ""


async def test_protected_people_show_their_unit_only(
    client: Client, app: web.Application, tokens: dict[str, str], activation: str
) -> None:
    response = await client.get(f"/api/activations/{activation}/export.csv", headers=auth(tokens))
    text = await response.text()
    masked = [r for r in csv.DictReader(io.StringIO(text)) if r["name"] == "skyddad person"]
    assert len(masked) == 1
    assert (masked[0]["unit"], masked[0]["phone"], masked[0]["email"]) == ("Solgården", "", "")
    page = await (
        await client.get(f"/dashboard/activations/{activation}/call-list", headers=auth(tokens))
    ).text()
    for secret in SECRETS:
        assert secret not in text
        assert secret not in page
    assert "skyddad person" in page
    assert "HR" in page  # how to reach them instead


async def test_the_printable_page_lists_phones_grouped_by_unit(
    client: Client, app: web.Application, tokens: dict[str, str], activation: str
) -> None:
    response = await client.get(
        f"/dashboard/activations/{activation}/call-list", headers=auth(tokens)
    )
    assert response.status == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert "<script" not in page
    assert page.count('<section class="unit">') == 2
    assert page.index("<h2>Björkängen") < page.index("<h2>Solgården")
    assert f'href="tel:{PEOPLE[0].phone}"' in page
    assert "kommer" in page and "30 min (09:30)" in page
    css_link = "/dashboard/static/call-list.css"
    assert css_link in page
    css = await client.get(css_link)
    assert css.status == 200
    assert "@media print" in await css.text()
    # Linked from the activation's own page.
    own = await (
        await client.get(f"/dashboard/activations/{activation}", headers=auth(tokens))
    ).text()
    assert f"/dashboard/activations/{activation}/call-list" in own


async def test_every_export_is_audited_with_counts_never_names(
    client: Client, app: web.Application, tokens: dict[str, str], activation: str
) -> None:
    for _ in range(2):
        csv_response = await client.get(
            f"/api/activations/{activation}/export.csv", headers=auth(tokens)
        )
        assert csv_response.status == 200
    page = await client.get(f"/dashboard/activations/{activation}/call-list", headers=auth(tokens))
    assert page.status == 200
    entries = await exports_audited(app)
    counts = {"export": "call_list", "people": 4, "protected": 1, "subject": activation}
    assert entries == [
        {**counts, "format": "csv"},
        {**counts, "format": "csv"},
        {**counts, "format": "html"},
    ]
    raw = json.dumps(entries, ensure_ascii=False)
    assert "Namn" not in raw
    assert not any(secret in raw for secret in SECRETS)


async def test_viewer_may_export_and_no_token_may_not(
    client: Client, app: web.Application, tokens: dict[str, str], activation: str
) -> None:
    path = f"/api/activations/{activation}/export.csv"
    assert (await client.get(path)).status == 401
    assert (await client.get(path, headers={"Authorization": "Bearer kd_wrong"})).status == 401
    for role in ("viewer", "leader", "admin"):
        assert (await client.get(path, headers=auth(tokens, role))).status == 200
    page = await client.get(f"/dashboard/activations/{activation}/call-list", allow_redirects=False)
    assert page.status in (302, 303, 401)  # sent to sign in, never the list
    assert "Namn P1" not in await page.text()
    assert (
        await client.get("/api/activations/NOPE/export.csv", headers=auth(tokens))
    ).status == 404
    missing = await client.get("/dashboard/activations/NOPE/call-list", headers=auth(tokens))
    assert missing.status == 404
    assert len(await exports_audited(app)) == 3  # the three allowed reads only
