"""The dashboard's pages as HTML: the activations, one activation, and the declaration form.

Each page is rendered whole with the data of the moment, so it is right on first paint
and without scripts; the scripts (`static/*.js`) then keep it current from the JSON API,
finding what to update by the `id` and `data-*` attributes set here (the browser tests
use the same ones). A row the scripts may have to add is also rendered once inside a
`<template>`, so its markup exists in one place only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from dispatcher.domain.access import Caller
from dispatcher.store.activations import ActivationRecord
from dispatcher.web.dashboard_layout import (
    OPEN_STATES,
    STATE_LABELS,
    TOTAL_LABELS,
    esc,
    iso,
    json_block,
    kind_badge,
    local_time,
    page,
    time_element,
)
from dispatcher.web.session import DASHBOARD_PATH


def activation_path(activation_id: str) -> str:
    return f"{DASHBOARD_PATH}/activations/{activation_id}"


def fill_width(confirmed: int, needed: int) -> int:
    """The coverage bar's filled share, 0–100 (a unit that needs nobody is full)."""
    if needed <= 0:
        return 100
    return min(100, round(100 * confirmed / needed))


# --- the activations ---------------------------------------------------------------------


def _activation_row(record: ActivationRecord | None, totals: Mapping[str, Any]) -> str:
    if record is None:  # the template the script fills
        kind = state = title = href = declared = ""
        badge = '<span class="kind" data-kind=""></span>'
        declared_cell = '<time datetime=""></time>'
    else:
        kind, state, title = record.kind, record.state, record.title
        href, declared = activation_path(record.id), iso(record.declared_at)
        badge = kind_badge(kind)
        declared_cell = time_element(record.declared_at)
    rid = "" if record is None else record.id
    return (
        f'<tr class="activation-row" data-activation-id="{esc(rid)}" data-kind="{esc(kind)}"'
        f' data-state="{esc(state)}" data-open="{str(state in OPEN_STATES).lower()}"'
        f' data-declared-at="{esc(declared)}">'
        f'<td data-field="kind">{badge}</td>'
        f'<td data-field="title"><a href="{esc(href)}">{esc(title)}</a></td>'
        f'<td data-field="state" class="state">{esc(STATE_LABELS.get(state, state))}</td>'
        f'<td class="num"><span data-field="confirmed">{esc(totals.get("confirmed", ""))}'
        f'</span> av <span data-field="needed">{esc(totals.get("needed", ""))}</span></td>'
        f'<td data-field="declared">{declared_cell}</td></tr>'
    )


def activations_page(
    records: Sequence[tuple[ActivationRecord, Mapping[str, Any]]],
    *,
    who: Caller,
    municipality: str,
) -> web.Response:
    """All activations, open ones first, each with confirmed of needed (`totals`)."""
    rows = "".join(_activation_row(record, totals) for record, totals in records)
    body = (
        '<h1>Utlarmningar</h1><p id="freshness" class="freshness" data-freshness="fresh">'
        "Uppdateras automatiskt.</p>"
        '<table id="activations-table" class="list"><caption class="visually-hidden">'
        'Utlarmningar, pågående först</caption><thead><tr><th scope="col">Typ</th>'
        '<th scope="col">Rubrik</th><th scope="col">Läge</th>'
        '<th scope="col" class="num">Bekräftade av behov</th>'
        f'<th scope="col">Deklarerad</th></tr></thead><tbody id="activation-rows">{rows}'
        f'</tbody></table><p id="no-activations"{" hidden" if records else ""}>'
        "Inga utlarmningar ännu.</p>"
        f'<template id="activation-row-template">{_activation_row(None, {})}</template>'
    )
    return page(
        "Utlarmningar",
        body,
        who=who,
        municipality=municipality,
        current=DASHBOARD_PATH,
        scripts=("activations.js",),
    )


# --- one activation ----------------------------------------------------------------------


def _unit_row(unit: Mapping[str, Any] | None) -> str:
    u = unit or {}
    needed, confirmed, gap = int(u.get("needed", 0)), int(u.get("confirmed", 0)), u.get("gap", 0)
    closed = int(gap) == 0
    gap_text = "täckt" if closed else f"saknas {gap}"
    return (
        f'<tr class="unit-row{"" if closed else " gap-open"}"'
        f' data-unit-id="{esc(u.get("unit_id", ""))}" data-gap="{esc(gap)}"'
        f' data-closed="{str(closed).lower()}">'
        f'<th scope="row" data-field="name" title="{esc(u.get("name", ""))}">'
        f'<span class="unit-name">{esc(u.get("name", ""))}</span></th>'
        '<td class="bar-cell"><svg class="bar" data-bar viewBox="0 0 100 10"'
        ' preserveAspectRatio="none" aria-hidden="true" focusable="false">'
        '<rect class="bar-track" width="100" height="10"></rect>'
        f'<rect class="bar-fill" data-bar-fill width="{fill_width(confirmed, needed)}"'
        ' height="10"></rect></svg></td>'
        f'<td class="num"><span data-field="confirmed">{confirmed}</span> av'
        f' <span data-field="needed">{needed}</span></td>'
        f'<td class="num gap" data-field="gap">{esc(gap_text)}</td>'
        f'<td class="num" data-field="awaiting">{esc(u.get("awaiting", 0))}</td></tr>'
    )


def _totals(totals: Mapping[str, Any]) -> str:
    tiles = "".join(
        f'<div class="total total-{key}" data-total="{key}"><dt>{label}</dt>'
        f'<dd id="total-{key.replace("_", "-")}">{esc(totals.get(key, 0))}</dd></div>'
        for key, label in TOTAL_LABELS
    )
    gap = int(totals.get("gap", 0))
    return (
        f'<dl id="totals" class="totals">{tiles}</dl>'
        '<p class="coverage-line"><span id="total-confirmed-of-needed">'
        f"{esc(totals.get('confirmed', 0))} av {esc(totals.get('needed', 0))}</span>"
        f' bekräftade · <span id="total-gap" data-gap="{gap}"'
        f' class="{"gap-open" if gap else "gap-closed"}">'
        f"{f'saknas {gap}' if gap else 'alla enheter täckta'}</span></p>"
    )


def _leader_actions(record: ActivationRecord) -> str:
    approve_hidden = "" if record.state == "awaiting_approval" else " hidden"
    stand_down_hidden = "" if record.state in OPEN_STATES else " hidden"
    return (
        '<div id="leader-actions" class="actions">'
        f'<button type="button" id="approve-button" data-action="approve"{approve_hidden}>'
        "Godkänn utlarmningen</button>"
        '<button type="button" id="stand-down-button" class="danger" data-action="stand-down"'
        f"{stand_down_hidden}>Blås av</button>"
        '<p id="action-error" class="error" role="alert" hidden></p></div>'
        '<dialog id="confirm-dialog" aria-labelledby="confirm-title"'
        ' aria-describedby="confirm-text"><h2 id="confirm-title"></h2><p id="confirm-text"></p>'
        '<div class="dialog-buttons"><button type="button" id="confirm-yes" class="danger">'
        'Ja</button><button type="button" id="confirm-no">Avbryt</button></div></dialog>'
    )


def _people_section(section_id: str, title: str, empty: str) -> str:
    return (
        f'<section id="{section_id}-section" class="panel" aria-labelledby="{section_id}-heading">'
        f'<h2 id="{section_id}-heading">{title} <span class="count" id="{section_id}-count">'
        f'</span></h2><ul id="{section_id}" class="people" data-loaded="false"></ul>'
        f'<p id="{section_id}-empty" class="muted">{empty}</p>'
        f'<p id="{section_id}-more" class="muted" hidden></p></section>'
    )


def _exports_links(activation_id: str) -> str:
    base = esc(activation_path(activation_id))
    return (
        f'<p class="meta exports"><a id="report-link" href="{base}/report">Rapport</a> · '
        f'<a id="call-list-link" href="{base}/call-list">Ringlista för utskrift</a></p>'
    )


_DRILL_BANNER = '<p id="drill-banner" class="drill-banner">ÖVNING – inte en verklig kris</p>'


def activation_page(
    record: ActivationRecord,
    status: Mapping[str, Any],
    *,
    who: Caller,
    municipality: str,
    can_act: bool,
    updated_at: str,
    etag: str,
) -> web.Response:
    """One activation for the wall screen: totals, units, people, chart and log."""
    drill = record.kind == "drill"
    totals: Mapping[str, Any] = status.get("totals", {})
    units = "".join(_unit_row(u) for u in status.get("units", []))
    declared = f"Deklarerad {local_time(record.declared_at)} av {esc(record.declared_by)}"
    body = (
        f'<div id="activation" data-activation-id="{esc(record.id)}"'
        f' data-kind="{esc(record.kind)}" data-state="{esc(record.state)}"'
        f' data-declared-at="{esc(iso(record.declared_at))}"'
        f' data-can-act="{str(can_act).lower()}" data-etag="{esc(etag)}"'
        f' data-needed="{esc(totals.get("needed", 0))}">'
        f'<header class="activation-head">{_DRILL_BANNER if drill else ""}'
        f"<h1>{'' if drill else kind_badge(record.kind) + ' '}"
        f'<span id="activation-title">{esc(record.title)}</span></h1>'
        f'<p class="meta"><span id="activation-state" class="state state-{esc(record.state)}"'
        f' data-state="{esc(record.state)}">{esc(STATE_LABELS.get(record.state, record.state))}'
        f"</span> · {declared}</p>{_exports_links(record.id)}"
        '<p id="freshness" class="freshness" data-freshness="fresh" data-age="0">'
        f"Uppdaterad {esc(updated_at)}</p>"
        '<p id="connection-alert" class="visually-hidden" role="alert"></p></header>'
        f"{_leader_actions(record) if can_act else ''}"
        f'<section aria-label="Totalt">{_totals(totals)}</section>'
        '<div class="activation-grid"><section id="units-section" class="panel"'
        ' aria-labelledby="units-heading"><h2 id="units-heading">Enheter</h2>'
        '<table id="unit-table" class="units"><thead><tr><th scope="col">Enhet</th>'
        '<th scope="col">Täckning</th><th scope="col" class="num">Kommer av behov</th>'
        '<th scope="col" class="num">Saknas</th><th scope="col" class="num">Väntar</th>'
        f'</tr></thead><tbody id="unit-rows">{units}</tbody></table></section>'
        '<div class="people-column">'
        f"{_people_section('on-the-way', 'På väg', 'Ingen har bekräftat ännu.')}"
        f"{_people_section('not-answered', 'Har inte svarat', 'Alla har svarat.')}"
        '</div><div class="time-column">'
        '<section id="chart-section" class="panel" aria-labelledby="chart-heading">'
        '<h2 id="chart-heading">Bekräftade över tid</h2>'
        '<div id="confirmations-chart" class="chart" data-points="0"></div></section>'
        '<section id="log-section" class="panel" aria-labelledby="log-heading">'
        '<h2 id="log-heading">Senaste händelser</h2><ol id="event-log" class="log"></ol>'
        "</section></div></div>"
        f'<template id="unit-row-template">{_unit_row(None)}</template>'
        f"{json_block('activation-data', _activation_facts(record))}</div>"
    )
    return page(
        record.title,
        body,
        who=who,
        municipality=municipality,
        scripts=("chart.js", "activation.js"),
    )


def _activation_facts(record: ActivationRecord) -> dict[str, Any]:
    """What the event log starts with (declared, approved, stood down)."""
    return {
        "declared_by": record.declared_by,
        "declared_at": iso(record.declared_at) or None,
        "approved_by": record.approved_by,
        "approved_at": iso(record.approved_at) or None,
        "stood_down_by": record.stood_down_by,
        "stood_down_at": iso(record.stood_down_at) or None,
    }
