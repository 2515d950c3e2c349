"""The dashboard's page frame: Swedish labels, escaping, security headers, the layout.

Pages are plain HTML built here and in `dashboard_pages`; every value from the database
goes through `esc`. No inline script or style: scripts and the style sheet are files under
`/dashboard/static/`, so the Content-Security-Policy allows only `'self'`. Labels the
scripts also need travel in a `<script type="application/json">` block (never executed).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web

from dispatcher.clock import from_millis
from dispatcher.domain.access import AccessRole, Caller
from dispatcher.web.session import DASHBOARD_PATH, LOGIN_PATH, LOGOUT_PATH, STATIC_PREFIX

STOCKHOLM: Final = ZoneInfo("Europe/Stockholm")

PAGE_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",  # a wall screen needs no framing; nor does anyone else
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",  # pages name people: keep them out of every cache
}

KIND_LABELS: Final[Mapping[str, str]] = {"crisis": "KRIS", "drill": "ÖVNING"}
STATE_LABELS: Final[Mapping[str, str]] = {
    "awaiting_approval": "Väntar på godkännande",
    "active": "Pågår",
    "stood_down": "Avblåst",
    "cancelled": "Avbruten",
}
OPEN_STATES: Final = frozenset({"awaiting_approval", "active"})
TOTAL_LABELS: Final[Sequence[tuple[str, str]]] = (
    ("called", "Kallade"),
    ("confirmed", "Kommer"),
    ("declined", "Kommer inte"),
    ("awaiting", "Väntar på svar"),
    ("no_answer", "Inget svar"),
    ("failed", "Nåddes inte"),
)
CALLUP_STATE_LABELS: Final[Mapping[str, str]] = {
    "awaiting": "väntar på svar",
    "confirmed": "kommer",
    "declined": "kommer inte",
    "no_answer": "inget svar",
    "failed": "nåddes inte",
    "released": "behövs inte",
    "cancelled": "avbruten",
}
ROLE_LABELS: Final[Mapping[AccessRole, str]] = {
    AccessRole.VIEWER: "läsare",
    AccessRole.LEADER: "ledare",
    AccessRole.ADMIN: "administratör",
}

TEXTS: Final[Mapping[str, Any]] = {
    "kinds": KIND_LABELS,
    "states": STATE_LABELS,
    "callupStates": CALLUP_STATE_LABELS,
}
"""What the scripts show, from the same tables as the pages (`texts()` in dashboard.js)."""


def esc(value: object) -> str:
    """Text made safe for HTML content and quoted attribute values."""
    return html.escape(str(value), quote=True)


def local_time(millis: int | None, *, with_date: bool = True) -> str:
    """A moment as people in Sweden read it: `2026-03-02 09:00`, or `09:00`."""
    if millis is None:
        return "–"
    moment = from_millis(millis).astimezone(STOCKHOLM)
    return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def iso(millis: int | None) -> str:
    if millis is None:
        return ""
    return from_millis(millis).isoformat().replace("+00:00", "Z")


def time_element(millis: int | None, *, with_date: bool = True) -> str:
    if millis is None:
        return "–"
    return f'<time datetime="{iso(millis)}">{local_time(millis, with_date=with_date)}</time>'


def kind_badge(kind: str) -> str:
    label = KIND_LABELS.get(kind, kind)
    return f'<span class="kind kind-{esc(kind)}" data-kind="{esc(kind)}">{esc(label)}</span>'


def json_block(element_id: str, value: object) -> str:
    """Data for the scripts; `<` escaped so the text cannot close the element."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def static_url(name: str) -> str:
    return STATIC_PREFIX + name


def page(
    title: str,
    body: str,
    *,
    who: Caller | None,
    municipality: str,
    current: str = "",
    scripts: Sequence[str] = (),
    status: int = 200,
) -> web.Response:
    """A whole page with the dashboard's frame and security headers."""
    # A page with scripts also gets the shared one (dashboard.js) first, and the labels.
    script_tags = "".join(
        f'<script src="{esc(static_url(name))}" defer></script>'
        for name in (("dashboard.js", *scripts) if scripts else ())
    )
    texts = json_block("dashboard-texts", TEXTS) if scripts else ""
    role = who.role.value if who is not None else ""
    document = (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} – krisdispatch</title>"
        f'<link rel="stylesheet" href="{esc(static_url("dashboard.css"))}">'
        f'<link rel="icon" href="{esc(static_url("favicon.svg"))}" type="image/svg+xml">'
        f"{script_tags}</head>"
        f'<body data-role="{esc(role)}">'
        '<a class="skip-link" href="#main">Hoppa till innehållet</a>'
        f"{_top_bar(who, municipality, current)}"
        f'<main id="main" tabindex="-1">{body}</main>{texts}</body></html>'
    )
    return web.Response(
        text=document, status=status, content_type="text/html", headers=PAGE_HEADERS
    )


_CURRENT: Final = ' aria-current="page"'


def _top_bar(who: Caller | None, municipality: str, current: str) -> str:
    brand = f'<a class="brand" href="{DASHBOARD_PATH}">{esc(municipality)} · krisledning</a>'
    if who is None:
        return f'<header class="top-bar">{brand}</header>'
    links = [(DASHBOARD_PATH, "Utlarmningar"), (f"{DASHBOARD_PATH}/readiness", "Beredskap")]
    links.append((f"{DASHBOARD_PATH}/drills", "Övningar"))
    if who.role.allows(AccessRole.LEADER):
        links.append((f"{DASHBOARD_PATH}/declare", "Ny utlarmning"))
    nav = "".join(
        f'<a href="{href}"{_CURRENT if href == current else ""}>{label}</a>'
        for href, label in links
    )
    return (
        f'<header class="top-bar">{brand}<nav aria-label="Huvudmeny">{nav}</nav>'
        f'<div class="who"><span id="signed-in-as">{esc(who.name)}'
        f" ({ROLE_LABELS[who.role]})</span>"
        f'<form method="post" action="{LOGOUT_PATH}">'
        '<button type="submit" id="logout-button" class="link-button">Logga ut</button>'
        "</form></div></header>"
    )


def message_page(
    title: str,
    text: str,
    *,
    who: Caller | None,
    municipality: str,
    status: int,
) -> web.Response:
    """A short page that says one thing (not found, not allowed)."""
    body = (
        f'<h1>{esc(title)}</h1><p id="page-message">{esc(text)}</p>'
        f'<p><a href="{DASHBOARD_PATH}">Till utlarmningarna</a></p>'
    )
    return page(title, body, who=who, municipality=municipality, status=status)


def login_page(
    *, municipality: str, next_path: str, error: str | None = None, status: int = 200
) -> web.Response:
    """The sign-in form. The token goes in the POST body, never in a URL."""
    alert = f'<p id="login-error" class="error" role="alert">{esc(error)}</p>' if error else ""
    invalid = ' aria-invalid="true" aria-describedby="login-error"' if error else ""
    body = (
        '<div class="login"><h1>Logga in</h1>'
        "<p>Logga in med din åtkomstnyckel (den börjar med <code>kd_</code>). "
        "Du får den av systemets administratör.</p>"
        f'{alert}<form id="login-form" method="post" action="{LOGIN_PATH}">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label for="login-token">Åtkomstnyckel</label>'
        '<input id="login-token" name="token" type="password" required autocomplete="off"'
        f' spellcheck="false" autofocus{invalid}>'
        '<button id="login-button" type="submit">Logga in</button></form>'
        '<p class="small">En skärm i krisledningsrummet förblir inloggad i sju dagar, '
        "eller tills nyckeln återkallas.</p></div>"
    )
    return page("Logga in", body, who=None, municipality=municipality, status=status)


def local_datetime(moment: datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%H:%M:%S")
