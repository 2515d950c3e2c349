"""The drill report as a dashboard page: the figures of `GET /api/activations/{id}/report`
(response rate, percentiles, units, departments, people not reached, the trend) and its
chart, the SVG the API draws (an `<img>` from this site: the CSP allows `img-src 'self'`).

Built from the same JSON the API serves (`report_json`), where protected people are
already masked; reading it is audited like the API's report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.report_views import report_json
from dispatcher.store.drill_report import load_report
from dispatcher.web import CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import caller, requires
from dispatcher.web.dashboard_layout import esc, kind_badge, message_page, page
from dispatcher.web.dashboard_pages import activation_path
from dispatcher.web.routes_audit import audit_actor

REASON_LABELS: Mapping[str, str] = {
    "no_contact": "varken mobilnummer eller e-post",
    "not_sent": "inget gick iväg",
    "invalid_number": "ogiltigt nummer",
    "opted_out": "har avregistrerat sig från SMS",
    "bounced_email": "e-post studsade",
    "no_answer": "svarade inte",
}
COUNT_COLUMNS: Sequence[tuple[str, str]] = (
    ("called", "Kallade"),
    ("answered", "Svarade"),
    ("confirmed", "Kommer"),
    ("declined", "Kommer inte"),
    ("no_answer", "Inget svar"),
    ("failed", "Nåddes inte"),
    ("response_rate", "Svarsfrekvens"),
)


def report_path(activation_id: str) -> str:
    return f"{activation_path(activation_id)}/report"


def _cell(value: object) -> str:
    return "–" if value is None else esc(value)


def _rate(value: object) -> str:
    return "–" if not isinstance(value, int | float) else f"{round(value * 100)} %"


def _counts(row: Mapping[str, Any]) -> str:
    return "".join(
        f'<td class="num" data-field="{key}">'
        f"{_rate(row[key]) if key == 'response_rate' else _cell(row[key])}</td>"
        for key, _ in COUNT_COLUMNS
    )


def _head(first: str, *extra: str) -> str:
    cells = "".join(f'<th scope="col" class="num">{label}</th>' for _, label in COUNT_COLUMNS)
    more = "".join(f'<th scope="col" class="num">{esc(x)}</th>' for x in extra)
    return f'<thead><tr><th scope="col">{esc(first)}</th>{cells}{more}</tr></thead>'


def _minutes(value: object) -> str:
    return "aldrig" if value is None else f"{esc(value)} min"


def _spread(element_id: str, title: str, p: Mapping[str, Any]) -> str:
    return (
        f'<tr id="{element_id}"><th scope="row">{esc(title)}</th>'
        f'<td class="num" data-field="p50">{_cell(p["p50"])}</td>'
        f'<td class="num" data-field="p90">{_cell(p["p90"])}</td>'
        f'<td class="num" data-field="max">{_cell(p["max"])}</td>'
        f'<td class="num" data-field="count">{_cell(p["count"])}</td></tr>'
    )


def _not_reached(block: Mapping[str, Any]) -> str:
    people = block["people"]
    if not people:
        return '<p id="not-reached-empty">Alla nåddes.</p>'
    rows = "".join(
        f"<tr><td>{esc(p['name'])}</td><td>{_cell(p['department'])}</td>"
        f"<td>{esc(p['unit_name'])}</td>"
        f"<td>{esc(', '.join(REASON_LABELS.get(r, r) for r in p['reasons']))}</td></tr>"
        for p in people
    )
    return (
        '<table id="not-reached" class="list"><thead><tr><th scope="col">Namn</th>'
        '<th scope="col">Förvaltning</th><th scope="col">Enhet</th><th scope="col">Varför'
        f"</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def report_body(body: Mapping[str, Any]) -> str:
    """The page's content from the report JSON."""
    a, totals, coverage = body["activation"], body["totals"], body["coverage"]
    units = "".join(
        f'<tr data-unit-id="{esc(u["unit_id"])}"><th scope="row">{esc(u["name"])}</th>'
        f'{_counts(u)}<td class="num">{esc(u["needed"])}</td>'
        f'<td class="num">{_minutes(u["covered_after_minutes"])}</td></tr>'
        for u in body["units"]
    )
    departments = "".join(
        f'<tr><th scope="row">{esc(d["department"])}</th>{_counts(d)}</tr>'
        for d in body["departments"]
    )
    trend = "".join(
        f'<tr{" class=current" if t["current"] else ""}><th scope="row">{esc(t["title"])}'
        f" ({esc(t['declared_at'] or '')})</th>{_counts(t)}"
        f'<td class="num">{_cell(t["confirmation_minutes"]["p50"])}</td></tr>'
        for t in body["trend"]
    )
    return (
        f'<div id="drill-report" data-activation-id="{esc(a["id"])}">'
        f"<h1>{kind_badge(a['kind'])} Rapport: {esc(a['title'])}</h1>"
        f'<p class="meta"><a href="{esc(activation_path(a["id"]))}">Till utlarmningen</a> · '
        f'<a href="/api/activations/{esc(a["id"])}/report?format=csv">Hämta som CSV</a></p>'
        '<section class="panel" aria-labelledby="figures-heading">'
        '<h2 id="figures-heading">Nyckeltal</h2><dl id="report-totals" class="totals">'
        f'<div><dt>Svarsfrekvens</dt><dd id="response-rate">{_rate(totals["response_rate"])}'
        f'</dd></div><div><dt>Kallade</dt><dd id="called">{esc(totals["called"])}</dd></div>'
        f'<div><dt>Kommer</dt><dd id="confirmed">{esc(totals["confirmed"])}</dd></div>'
        f'<div><dt>Behov</dt><dd id="needed">{esc(totals["needed"])}</dd></div>'
        f'<div><dt>Enheter täckta</dt><dd id="units-covered">{esc(coverage["units_covered"])}'
        f" av {esc(coverage['units'])}</dd></div>"
        f'<div><dt>Alla täckta efter</dt><dd id="all-covered">'
        f"{_minutes(coverage['all_covered_after_minutes'])}</dd></div></dl>"
        '<table id="percentiles" class="list"><caption>Minuter från kallelsen</caption>'
        '<thead><tr><th scope="col"></th><th scope="col" class="num">p50</th>'
        '<th scope="col" class="num">p90</th><th scope="col" class="num">max</th>'
        '<th scope="col" class="num">antal</th></tr></thead><tbody>'
        f"{_spread('first-answer', 'Till första svar', body['first_answer_minutes'])}"
        f"{_spread('confirmation', 'Till bekräftelse', body['confirmation_minutes'])}"
        "</tbody></table></section>"
        '<section class="panel" aria-labelledby="chart-heading">'
        '<h2 id="chart-heading">Bekräftade över tid</h2>'
        f'<img id="report-chart" src="{esc(body["chart"])}" width="800"'
        ' alt="Kumulativt antal bekräftade över tid, per enhet och totalt"></section>'
        '<section class="panel" aria-labelledby="units-heading">'
        '<h2 id="units-heading">Per enhet</h2><table id="report-units" class="list">'
        f"{_head('Enhet', 'Behov', 'Täckt efter')}<tbody>{units}</tbody></table></section>"
        '<section class="panel" aria-labelledby="departments-heading">'
        '<h2 id="departments-heading">Per förvaltning</h2>'
        f'<table id="report-departments" class="list">{_head("Förvaltning")}'
        f"<tbody>{departments}</tbody></table></section>"
        '<section class="panel" aria-labelledby="not-reached-heading">'
        f'<h2 id="not-reached-heading">Nåddes inte ({esc(body["not_reached"]["count"])})</h2>'
        f"{_not_reached(body['not_reached'])}</section>"
        '<section class="panel" aria-labelledby="trend-heading">'
        '<h2 id="trend-heading">Jämfört med tidigare övningar</h2>'
        f'<table id="report-trend" class="list">{_head("Utlarmning", "Bekräftelse p50")}'
        f"<tbody>{trend}</tbody></table></section></div>"
    )


@requires(AccessRole.VIEWER)
async def report(request: web.Request) -> web.StreamResponse:
    """The drill report page; a 404 page for an unknown activation."""
    activation_id = request.match_info["id"]
    db, who = request.app[DATABASE], caller(request)
    municipality = request.app[SETTINGS].service.municipality
    now = to_millis(request.app[CLOCK].now())
    found = await load_report(db, activation_id, now=now)
    if found is None:
        return message_page(
            "Hittades inte",
            "Det finns ingen sådan utlarmning.",
            who=who,
            municipality=municipality,
            status=404,
        )
    await audit.record(
        db,
        audit_actor(request),
        audit.EXPORT_READ,
        at_ms=now,
        subject=found.activation.id,
        detail={"export": "drill_report", "format": "html", "people": len(found.not_reached)},
    )
    body = report_json(found, generated_at=now)
    return page(
        f"Rapport: {found.activation.title}", report_body(body), who=who, municipality=municipality
    )
