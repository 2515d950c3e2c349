"""Exports of an activation (viewer): the call list as CSV and as a printable page, and the
drill report's dashboard page. Each export is an audit event (counts, never names).

`GET /api/activations/{id}/export.csv`, `GET /dashboard/activations/{id}/call-list` (a
plain table to print and phone down when SMS and e-mail are down) and
`GET /dashboard/activations/{id}/report` (`dispatcher.web.report_page`).
"""

from __future__ import annotations

from aiohttp import hdrs, web

from dispatcher import audit
from dispatcher.clock import to_millis
from dispatcher.domain.access import AccessRole
from dispatcher.exports import (
    PROTECTED_ROUTINE,
    CallListEntry,
    audit_detail,
    by_unit,
    call_list_csv,
    load_call_list,
)
from dispatcher.store import activations
from dispatcher.store.activations import ActivationRecord
from dispatcher.web import CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import caller, requires
from dispatcher.web.dashboard_layout import (
    CALLUP_STATE_LABELS,
    KIND_LABELS,
    PAGE_HEADERS,
    esc,
    local_time,
    message_page,
    static_url,
)
from dispatcher.web.dashboard_pages import activation_path
from dispatcher.web.middleware import json_error
from dispatcher.web.report_page import report
from dispatcher.web.routes_audit import audit_actor

CALL_LIST_CSS = "call-list.css"


async def _exported(
    request: web.Request, export_format: str
) -> tuple[ActivationRecord | None, list[CallListEntry]]:
    """The activation and its call list, the read audited; (None, []) when unknown."""
    db = request.app[DATABASE]
    record = await activations.get_activation(db, request.match_info["id"])
    if record is None:
        return None, []
    entries = await load_call_list(db, record.id)
    await audit.record(
        db,
        audit_actor(request),
        audit.EXPORT_READ,
        at_ms=to_millis(request.app[CLOCK].now()),
        subject=record.id,
        detail=audit_detail(entries, export_format),
    )
    return record, entries


@requires(AccessRole.VIEWER)
async def call_list_csv_export(request: web.Request) -> web.Response:
    """The call list as CSV, one row per call-up; 404 unknown."""
    record, entries = await _exported(request, "csv")
    if record is None:
        raise json_error(web.HTTPNotFound, f"no activation {request.match_info['id']!r}")
    return web.Response(
        text=call_list_csv(entries),
        content_type="text/csv",
        charset="utf-8",
        headers={
            hdrs.CONTENT_DISPOSITION: f'attachment; filename="call-list-{record.id}.csv"',
            hdrs.CACHE_CONTROL: "no-store",
        },
    )


def _row(e: CallListEntry) -> str:
    phone = f'<a href="tel:{esc(e.phone)}">{esc(e.phone)}</a>' if e.phone else ""
    contact = (
        f'<td colspan="2" class="protected-note">{esc(PROTECTED_ROUTINE)}</td>'
        if e.protected
        else f'<td class="phone">{phone}</td><td>{esc(e.email)}</td>'
    )
    eta = "" if e.eta_minutes is None else f"{e.eta_minutes} min"
    arrives = local_time(e.arrives_at, with_date=False) if e.arrives_at is not None else ""
    return (
        f'<tr class="call-row" data-state="{esc(e.state)}"'
        f' data-protected="{str(e.protected).lower()}"><td>{esc(e.name)}</td>{contact}'
        f"<td>{esc(CALLUP_STATE_LABELS.get(e.state, e.state))}</td>"
        f"<td>{esc(eta)}{' (' + esc(arrives) + ')' if arrives else ''}</td>"
        '<td class="tick" aria-label="Ringd"></td></tr>'
    )


def call_list_document(
    record: ActivationRecord, entries: list[CallListEntry], *, municipality: str, printed_at: str
) -> str:
    """A plain page to print: one table per unit with phone numbers, no scripts."""
    groups = "".join(
        f'<section class="unit"><h2>{esc(unit)} <span class="count">({len(rows)})</span></h2>'
        '<table class="call-list"><thead><tr><th scope="col">Namn</th>'
        '<th scope="col">Telefon</th><th scope="col">E-post</th><th scope="col">Läge</th>'
        '<th scope="col">Beräknad ankomst</th><th scope="col">Ringd</th></tr></thead>'
        f"<tbody>{''.join(_row(e) for e in rows)}</tbody></table></section>"
        for unit, rows in by_unit(entries)
    )
    kind = KIND_LABELS.get(record.kind, record.kind)
    return (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Ringlista: {esc(record.title)} – krisdispatch</title>"
        f'<link rel="stylesheet" href="{esc(static_url(CALL_LIST_CSS))}"></head><body>'
        f'<p class="screen-only"><a href="{esc(activation_path(record.id))}">'
        "Tillbaka till utlarmningen</a> · Skriv ut med webbläsarens utskriftsfunktion.</p>"
        f"<h1>Ringlista – {esc(kind)}: {esc(record.title)}</h1>"
        f'<p class="meta">{esc(municipality)} · utlarmning {esc(record.id)} · deklarerad'
        f" {esc(local_time(record.declared_at))} · utskriven {esc(printed_at)} ·"
        f" {len(entries)} kallade</p>"
        "<p>Reservrutin när SMS och e-post inte fungerar: ring personerna i listan, en enhet"
        " i taget, och notera svaret. Skyddade personer står utan namn och kontaktuppgifter:"
        f" {esc(PROTECTED_ROUTINE.lower())}</p>"
        f"{groups or '<p>Ingen är kallad i denna utlarmning.</p>'}</body></html>"
    )


@requires(AccessRole.VIEWER)
async def call_list_page(request: web.Request) -> web.StreamResponse:
    """The printable call list; 404 page for an unknown activation."""
    record, entries = await _exported(request, "html")
    municipality = request.app[SETTINGS].service.municipality
    if record is None:
        return message_page(
            "Hittades inte",
            "Det finns ingen sådan utlarmning.",
            who=caller(request),
            municipality=municipality,
            status=404,
        )
    printed = local_time(to_millis(request.app[CLOCK].now()))
    return web.Response(
        text=call_list_document(record, entries, municipality=municipality, printed_at=printed),
        content_type="text/html",
        headers=PAGE_HEADERS,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/activations/{id}/export.csv", call_list_csv_export)
    app.router.add_get("/dashboard/activations/{id}/call-list", call_list_page)
    app.router.add_get("/dashboard/activations/{id}/report", report)
