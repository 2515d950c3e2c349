"""The drill report over HTTP (viewer): JSON or CSV, and its chart as SVG.

`GET /api/activations/{id}/report` answers JSON, or CSV with `?format=csv` or
`Accept: text/csv`; `GET /api/activations/{id}/report/chart.svg` the picture. The report
lists people who were not reached, so reading it (not the chart, which names nobody) is
audited.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.domain.drill_report import DrillReport
from dispatcher.report_chart import render_chart
from dispatcher.report_views import report_csv, report_json
from dispatcher.store.drill_report import load_report
from dispatcher.web import CLOCK, DATABASE
from dispatcher.web.auth import requires
from dispatcher.web.middleware import bad_request, json_error
from dispatcher.web.routes_audit import audit_actor

FORMATS = ("json", "csv")


async def _report(request: web.Request) -> DrillReport:
    activation_id = request.match_info["id"]
    now = to_millis(request.app[CLOCK].now())
    report = await load_report(request.app[DATABASE], activation_id, now=now)
    if report is None:
        raise json_error(web.HTTPNotFound, f"no activation {activation_id!r}")
    return report


def _format(request: web.Request) -> str:
    """`?format=` if given; otherwise CSV when the client accepts text/csv and not JSON."""
    asked = request.query.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise bad_request("format", f"must be one of {', '.join(FORMATS)}")
        return asked
    accept = request.headers.get(hdrs.ACCEPT, "")
    return "csv" if "text/csv" in accept and "application/json" not in accept else "json"


@requires(AccessRole.VIEWER)
async def report(request: web.Request) -> web.Response:
    """The report of one activation (drill or crisis); 404 unknown; 400 unknown format."""
    wanted = _format(request)
    found = await _report(request)
    now = to_millis(request.app[CLOCK].now())
    await audit.record(
        request.app[DATABASE],
        audit_actor(request),
        audit.EXPORT_READ,
        at_ms=now,
        subject=found.activation.id,
        detail={"export": "drill_report", "format": wanted, "people": len(found.not_reached)},
    )
    if wanted == "json":
        return web.json_response(report_json(found, generated_at=now))
    return web.Response(
        text=report_csv(found),
        content_type="text/csv",
        charset="utf-8",
        headers={
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="report-{found.activation.id}.csv"'
        },
    )


@requires(AccessRole.VIEWER)
async def chart(request: web.Request) -> web.Response:
    """Cumulative confirmations over time, per unit and in total, as SVG; 404 unknown."""
    found = await _report(request)
    return web.Response(
        text=render_chart(found),
        content_type="image/svg+xml",
        charset="utf-8",
        headers={
            hdrs.CONTENT_DISPOSITION: f'inline; filename="report-{found.activation.id}.svg"',
            hdrs.CACHE_CONTROL: "no-cache",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/activations/{id}/report", report)
    app.router.add_get("/api/activations/{id}/report/chart.svg", chart)
