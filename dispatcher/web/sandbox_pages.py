"""The HTML of the sandbox phones pages (`routes_sandbox`): plain markup, Swedish.

Hooks for browser tests and scripts (stable, not styling): each person is
`[data-person="PAGE_ID"]` (with `data-person-name`, `data-unit`), their phone
`[data-thread="sms"]` and inbox `[data-thread="email"]`, each message `[data-message=PURPOSE]`
(`callup`, `reminder`, `stand_down`, `gap_report`, `reply` for an automatic reply, `own`
for what the person answered) with `data-from="person"` or `"kommunen"`; the answer form
`[data-reply-form]`, its text box `[data-reply-box]` and button `[data-reply-send]`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from dispatcher.channels.sandbox import ThreadEntry, Threads

PROTECTED = "skyddad person"
BANNER = "Sandlåda — inget skickas på riktigt"
_TIME_ZONE = ZoneInfo("Europe/Stockholm")
_URL = re.compile(r"https?://[^\s<>\"']+")
_LABELS = {
    "callup": "Kallelse",
    "reminder": "Påminnelse",
    "stand_down": "Avblåst",
    "gap_report": "Lägesrapport",
    "reply": "Automatiskt svar",
}

HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self';"
        " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass(frozen=True, slots=True)
class SandboxPerson:
    page_id: str  # opaque: never the person id, name or number
    name: str
    protected: bool
    unit: str
    sms_number: str | None  # a mobile number, the only kind that gets SMS
    email: str | None

    @property
    def shown_name(self) -> str:
        return PROTECTED if self.protected else self.name


@dataclass(frozen=True, slots=True)
class _View:
    """What every person card needs to know about the page it is on."""

    may_answer: bool
    sms_in_sandbox: bool
    public_url: str
    one_person: bool = False  # the person's own page: everything, the last one `#senaste`


LIST_SMS, LIST_EMAILS = 6, 2  # the latest shown per person on the list


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _document(title: str, main: str) -> str:
    return (
        '<!doctype html>\n<html lang="sv"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        '<link rel="icon" href="/dashboard/static/favicon.svg" type="image/svg+xml">'
        f"<title>{_e(title)}</title>"
        '<link rel="stylesheet" href="/dashboard/static/dashboard.css">'
        '<link rel="stylesheet" href="/sandbox/static/sandbox.css">'
        '<script src="/sandbox/static/sandbox.js" defer></script></head>'
        f'<body class="sandbox"><p class="sandbox-banner" role="note">{_e(BANNER)}</p>'
        f"<main>{main}</main></body></html>\n"
    )


def _linked(text: str, public_url: str) -> str:
    """Escaped text with its web addresses as links; our own as paths, so they work
    whatever address the browser uses to reach the service."""
    ours = public_url.rstrip("/")
    parts, last = [], 0
    for found in _URL.finditer(text):
        url = found.group(0)
        href = url[len(ours) :] if url.startswith(ours + "/") else url
        rel = "" if href.startswith("/") else ' rel="noopener noreferrer"'
        parts += [_e(text[last : found.start()]), f'<a href="{_e(href)}"{rel}>{_e(url)}</a>']
        last = found.end()
    return "".join([*parts, _e(text[last:])])


def _hidden(person: SandboxPerson, text: str) -> str:
    """The text as this page may show it: a protected person's name is blanked out."""
    if person.protected and person.name.strip():
        return re.sub(re.escape(person.name.strip()), PROTECTED, text, flags=re.IGNORECASE)
    return text


def _when(entry: ThreadEntry) -> str:
    local = entry.at.astimezone(_TIME_ZONE)
    return f'<time datetime="{entry.at.isoformat()}">{local.day}/{local.month} {local:%H:%M}</time>'


def _bubble(person: SandboxPerson, entry: ThreadEntry, view: _View, *, last: bool) -> str:
    purpose = "own" if entry.from_person else (entry.purpose or "other")
    label = "Svar från personen" if entry.from_person else _LABELS.get(purpose, "Meddelande")
    side = "person" if entry.from_person else "kommunen"
    anchor = ' id="senaste"' if last else ""  # where the page goes after an answer
    return (
        f'<li{anchor} class="msg {side}" data-message="{_e(purpose)}" data-from="{side}">'
        f'<span class="label">{_e(label)} · {_when(entry)}</span>'
        f'<span class="text">{_linked(_hidden(person, entry.body), view.public_url)}</span></li>'
    )


def _mail(person: SandboxPerson, entry: ThreadEntry, view: _View) -> str:
    purpose = entry.purpose or "other"
    subject = _hidden(person, entry.subject or "(inget ämne)")
    return (
        f'<article class="mail" data-message="{_e(purpose)}" data-from="kommunen">'
        f'<h4>{_e(subject)}</h4><p class="label">{_e(_LABELS.get(purpose, "E-post"))} · '
        f'{_when(entry)}</p><div class="mail-text">'
        f"{_linked(_hidden(person, entry.body).strip(), view.public_url)}</div></article>"
    )


def _reply_form(person: SandboxPerson, view: _View) -> str:
    if not view.sms_in_sandbox:
        return '<p class="note">Sms går på riktigt, inte via sandlådan.</p>'
    if person.sms_number is None:
        return '<p class="note">Inget mobilnummer: svara via länken i e-posten.</p>'
    if not view.may_answer:
        return (
            '<p class="note">Bara insatsledare kan svara som en person: ett svar räknas'
            " som riktigt i utlarmningen.</p>"
        )
    box = f"svar-{person.page_id}"
    return (
        f'<form class="reply" method="post" action="/sandbox/people/{person.page_id}/reply"'
        f' data-reply-form><label for="{box}">Svara som personen</label>'
        f'<span class="reply-row"><input id="{box}" name="text" type="text" required'
        ' maxlength="1600" autocomplete="off" placeholder="t.ex. JA 20 eller NEJ sjuk"'
        ' data-reply-box><button type="submit" data-reply-send>Skicka</button></span>'
        '<span class="error" role="alert" data-reply-error></span></form>'
    )


def _person_card(person: SandboxPerson, threads: Threads, view: _View, *, heading: str) -> str:
    sms = threads.get(person.sms_number or "", []) if view.sms_in_sandbox else []
    mails = [m for m in threads.get(person.email or "", []) if m.channel == "email"]
    older = ""
    if not view.one_person and (len(sms) > LIST_SMS or len(mails) > LIST_EMAILS):
        sms, mails = sms[-LIST_SMS:], mails[-LIST_EMAILS:]
        older = (
            f'<p class="older"><a href="/sandbox/people/{person.page_id}">Äldre meddelanden'
            " finns: visa allt</a></p>"
        )
    contact = [] if person.protected else [a for a in (person.sms_number, person.email) if a]
    meta = " · ".join(_e(part) for part in [person.unit, *contact])
    bubbles = "".join(
        _bubble(person, entry, view, last=view.one_person and i == len(sms) - 1)
        for i, entry in enumerate(sms)
    )
    inbox = "".join(_mail(person, entry, view) for entry in mails)
    if bubbles or inbox or view.one_person:
        no_sms = "Inget mobilnummer." if person.sms_number is None else "Inga sms ännu."
        no_sms = no_sms if view.sms_in_sandbox else "Sms visas inte här."
        devices = (
            f'<div class="devices"><div class="phone" data-thread="sms"><h3>Sms</h3>'
            f'<ol class="thread">{bubbles or f"<li class=empty>{no_sms}</li>"}</ol>'
            f"{_reply_form(person, view)}</div>"
            f'<div class="inbox" data-thread="email"><h3>E-post</h3>'
            f"{inbox or '<p class=empty>Ingen e-post ännu.</p>'}</div></div>"
        )
    else:  # nothing yet: one line, so a page of quiet people stays short
        devices = (
            f'<div class="quiet" data-thread="none"><p class="empty">Inga meddelanden ännu.</p>'
            f"{_reply_form(person, view)}</div>"
        )
    return (
        f'<section class="person" id="p-{person.page_id}" data-person="{person.page_id}"'
        f' data-person-name="{_e(person.shown_name)}" data-unit="{_e(person.unit)}">'
        f'{heading}<p class="meta">{meta}</p>{devices}{older}</section>'
    )


def people_page(
    people: list[SandboxPerson],
    threads: Threads,
    *,
    query: str,
    page: int,
    pages: int,
    total: int,
    first: int,
    may_answer: bool,
    sms_in_sandbox: bool,
    public_url: str,
) -> str:
    view = _View(may_answer, sms_in_sandbox, public_url)
    cards = "".join(
        _person_card(
            p,
            threads,
            view,
            heading=f'<h2><a href="/sandbox/people/{p.page_id}">{_e(p.shown_name)}</a></h2>',
        )
        for p in people
    )
    if total == 0:
        empty = "Ingen matchar sökningen." if query else "Bemanningslistan är tom."
        cards = f'<p class="empty">{empty}</p>'
    count = f"{total:,}".replace(",", "\u00a0")
    shown = f"Visar {first}–{first + len(people) - 1} av {count}" if people else count

    def link(to: int, text: str, rel: str) -> str:
        if not 1 <= to <= pages:
            return f'<span class="disabled">{text}</span>'
        params = urlencode({"q": query, "page": to} if query else {"page": to})
        return f'<a href="/sandbox?{_e(params)}" rel="{rel}" data-page="{to}">{text}</a>'

    nav = (
        f'<nav class="pages" aria-label="Sidor">{link(page - 1, "← Föregående", "prev")}'
        f" <span>Sida {min(page, pages)} av {pages}</span>"
        f" {link(page + 1, 'Nästa →', 'next')}</nav>"
    )
    main = (
        '<header class="sandbox-head"><h1>Sandlådans telefoner</h1>'
        '<p><a href="/dashboard">Till lägesbilden</a></p></header>'
        "<p>Här syns allt som tjänsten har skickat till personerna i bemanningslistan: sms som"
        " på en telefon och e-post som i en inkorg. Inget lämnar datorn. Svara som en person"
        " för att se svaret räknas i lägesbilden.</p>"
        '<form class="search" method="get" action="/sandbox" role="search">'
        '<label for="q">Sök på namn, nummer, e-post eller enhet</label>'
        f'<input id="q" name="q" type="search" value="{_e(query)}" maxlength="100"'
        ' data-search-box><button type="submit">Sök</button></form>'
        f'<p class="count" data-total="{total}">{shown} personer. Personer med meddelanden'
        f" visas först.</p>{nav}{cards}{nav}"
    )
    return _document("Sandlådans telefoner", main)


def person_page(
    person: SandboxPerson,
    threads: Threads,
    *,
    may_answer: bool,
    sms_in_sandbox: bool,
    public_url: str,
    error: str | None = None,
) -> str:
    view = _View(may_answer, sms_in_sandbox, public_url, one_person=True)
    alert = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
    heading = f"<h1>{_e(person.shown_name)}</h1>{alert}"
    main = (
        '<p><a href="/sandbox">← Alla telefoner</a></p>'
        f"{_person_card(person, threads, view, heading=heading)}"
    )
    return _document(f"{person.shown_name} — sandlådan", main)
