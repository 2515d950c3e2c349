"""The dashboard's readiness page and the leaders' declaration form, as HTML.

Readiness is rendered from the same dict the API serves (`readiness_to_dict`), so a
protected person is "skyddad person" here exactly as there. The declaration form posts
nothing by itself: `declare.js` asks the API for the preview, shows it, and declares only
after the leader confirms what the preview says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from dispatcher.domain.access import Caller
from dispatcher.web.dashboard_layout import esc, page
from dispatcher.web.session import DASHBOARD_PATH

MAX_LISTED_PEOPLE = 500
"""A longer list on the page ends with a count; `dispatcher roster check` shows them all."""

_READINESS_TOTALS: Sequence[tuple[str, str]] = (
    ("units", "Enheter"),
    ("needed", "Behov"),
    ("placed", "Placerade"),
    ("reachable", "Nåbara"),
    ("trained", "Utbildade"),
    ("gap_now", "Saknas nu"),
    ("units_at_risk", "Enheter i riskzon"),
)
_UNIT_COLUMNS: Sequence[tuple[str, str]] = (
    ("needed", "Behov"),
    ("placed", "Placerade"),
    ("reachable", "Nåbara"),
    ("trained", "Utbildade"),
    ("reserves", "Reserver"),
    ("gap_now", "Saknas nu"),
)


_RISK_LABEL = ' <span class="risk-label">risk</span>'


def _readiness_unit_row(unit: Mapping[str, Any]) -> str:
    at_risk = bool(unit["at_risk"])
    cells = "".join(
        f'<td class="num" data-field="{key}">{esc(unit[key])}</td>' for key, _ in _UNIT_COLUMNS
    )
    return (
        f'<tr class="readiness-row{" at-risk" if at_risk else ""}"'
        f' data-unit-id="{esc(unit["unit_id"])}" data-at-risk="{str(at_risk).lower()}">'
        f'<th scope="row">{esc(unit["name"])}{_RISK_LABEL if at_risk else ""}</th>'
        f"<td>{esc(unit['service'])}</td><td>{esc(unit['area'])}</td>{cells}</tr>"
    )


def _people_list(section_id: str, title: str, people: Sequence[Mapping[str, Any]]) -> str:
    if not people:
        return ""
    items = []
    for person in people[:MAX_LISTED_PEOPLE]:
        extra = ""
        if "last_trained" in person:
            extra = f" – senast utbildad {esc(person['last_trained'] or 'aldrig')}"
        if person.get("address"):
            extra = f" – {esc(person['channel'])} {esc(person['address'])}: {esc(person['detail'])}"
        unit = person.get("unit_name") or "ingen krisplacering"
        items.append(f"<li>{esc(person['name'])} ({esc(unit)}){extra}</li>")
    more = len(people) - MAX_LISTED_PEOPLE
    tail = (
        f'<p class="muted">… och {more} till (se <code>dispatcher roster check</code>).</p>'
        if more > 0
        else ""
    )
    return (
        f'<section id="{section_id}" class="panel" data-count="{len(people)}">'
        f"<h2>{esc(title)} ({len(people)})</h2><ul>{''.join(items)}</ul>{tail}</section>"
    )


def readiness_page(report: Mapping[str, Any], *, who: Caller, municipality: str) -> web.Response:
    """Readiness before any crisis: units at risk first, then the people to look after."""
    totals = report["totals"]
    tiles = "".join(
        f'<div class="total" data-total="{key}"><dt>{label}</dt><dd>{esc(totals[key])}</dd></div>'
        for key, label in _READINESS_TOTALS
    )
    units = sorted(
        report["units"], key=lambda u: (not u["at_risk"], -int(u["gap_now"]))
    )  # stable: the report's order (area, service, name) within each group
    head = "".join(f'<th scope="col" class="num">{label}</th>' for _, label in _UNIT_COLUMNS)
    terms = ", ".join(report["terms"])
    body = (
        f'<h1>Beredskap</h1><p class="meta">Läget {esc(report["today"])}; utbildning räknas'
        f" från terminerna {esc(terms)}.</p>"
        f'<dl id="readiness-totals" class="totals">{tiles}</dl>'
        '<section class="panel"><h2>Enheter, de i riskzon först</h2>'
        '<table id="readiness-units" class="units"><thead><tr><th scope="col">Enhet</th>'
        f'<th scope="col">Verksamhet</th><th scope="col">Område</th>{head}</tr></thead>'
        f"<tbody>{''.join(_readiness_unit_row(u) for u in units)}</tbody></table></section>"
        + _people_list("unreachable", "Kan inte nås alls", report["unreachable"])
        + _people_list(
            "sms-unreachable", "Saknar mobilnummer (nås bara med e-post)", report["sms_unreachable"]
        )
        + _people_list(
            "refused-contacts", "Kontaktuppgifter som inte fungerar", report["refused_contacts"]
        )
        + _people_list("lapsed", "Utbildningen saknas eller har gått ut", report["lapsed"])
        + _people_list("unplaced-people", "Utan krisplacering", report["unplaced_people"])
    )
    if report["unplaced_units"]:
        names = ", ".join(esc(u["name"]) for u in report["unplaced_units"])
        body += (
            f'<section id="unplaced-units" class="panel"><h2>Enheter utan placerad personal'
            f" ({len(report['unplaced_units'])})</h2><p>{names}</p></section>"
        )
    return page(
        "Beredskap", body, who=who, municipality=municipality, current=f"{DASHBOARD_PATH}/readiness"
    )


# --- declaring ---------------------------------------------------------------------------


def _checkboxes(name: str, legend: str, choices: Sequence[tuple[str, str]]) -> str:
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="{name}" value="{esc(value)}">'
        f" {esc(label)}</label>"
        for value, label in choices
    )
    return f'<fieldset id="declare-{name}"><legend>{legend}</legend>{boxes}</fieldset>'


def declare_page(
    units: Sequence[Mapping[str, str]],
    *,
    who: Caller,
    municipality: str,
    two_person_approval: bool,
) -> web.Response:
    """The declaration form; `units` are the roster's (`unit_id`, `name`, `service`, `area`)."""
    areas = sorted({u["area"] for u in units})
    services = sorted({u["service"] for u in units})
    approval = (
        '<p id="approval-note" class="note">En kris måste godkännas av en annan ledare innan'
        " något skickas. En övning skickas direkt.</p>"
        if two_person_approval
        else ""
    )
    body = (
        '<h1>Ny utlarmning</h1><noscript><p class="error">Sidan behöver JavaScript.</p>'
        f'</noscript>{approval}<form id="declare-form" novalidate>'
        '<fieldset id="declare-kind"><legend>Typ</legend>'
        '<label class="choice"><input type="radio" name="kind" value="drill" checked>'
        " Övning</label>"
        '<label class="choice"><input type="radio" name="kind" value="crisis"> Kris</label>'
        "</fieldset>"
        '<label for="declare-title">Rubrik</label><input id="declare-title" name="title"'
        ' required maxlength="60" autocomplete="off">'
        '<p class="small">Vilka ska kallas? Välj områden, verksamheter eller enheter; inget val'
        " betyder hela kommunen.</p>"
        + _checkboxes("areas", "Områden", [(a, a) for a in areas])
        + _checkboxes("services", "Verksamheter", [(s, s) for s in services])
        + '<details id="declare-units-details"><summary>Enstaka enheter</summary>'
        + _checkboxes(
            "units", "Enheter", [(u["unit_id"], f"{u['name']} ({u['area']})") for u in units]
        )
        + "</details>"
        '<label for="declare-message">Meddelande (valfritt)</label>'
        '<textarea id="declare-message" name="message" rows="3" maxlength="300"></textarea>'
        '<button type="submit" id="preview-button">Förhandsgranska</button>'
        '<p id="declare-error" class="error" role="alert" hidden></p></form>'
        '<section id="preview" class="panel" aria-labelledby="preview-heading" hidden>'
        '<h2 id="preview-heading" tabindex="-1">Förhandsgranskning</h2>'
        '<p id="preview-summary"></p>'
        '<dl class="facts"><dt>Personer som kallas</dt><dd id="preview-people"></dd>'
        '<dt>SMS</dt><dd id="preview-sms"></dd><dt>E-post</dt><dd id="preview-emails"></dd>'
        '<dt>Tid att skicka allt</dt><dd id="preview-time"></dd></dl>'
        '<table class="units"><thead><tr><th scope="col">Enhet</th>'
        '<th scope="col" class="num">Personer</th></tr></thead>'
        '<tbody id="preview-units"></tbody></table>'
        '<h3>Kan inte nås <span id="preview-unreachable-count"></span></h3>'
        '<ul id="preview-unreachable" class="people"></ul>'
        '<div class="actions"><button type="button" id="declare-confirm" class="danger">'
        'Larma ut</button><button type="button" id="declare-cancel">Ändra</button></div>'
        "</section>"
    )
    return page(
        "Ny utlarmning",
        body,
        who=who,
        municipality=municipality,
        current=f"{DASHBOARD_PATH}/declare",
        scripts=("declare.js",),
    )
