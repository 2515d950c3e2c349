"""The e-mail answer page: `GET /answer/{token}` shows the call-up, `POST` records the answer.

The signed token in the path (`dispatcher.domain.answer_links`) is the only credential.
Mail security scanners open every link in an e-mail, so the GET only reads: it shows the
activation, the unit and the current answer, with two buttons. The buttons POST a form;
the answer desk records it and the browser is sent back (303) to the page, which then
shows what was recorded. After stand-down the page says so and has no buttons; a POST
records nothing.

Cross-site POSTs: there is no cookie or other ambient credential to abuse, so the classic
CSRF attack does not apply; still, the form must carry a hidden field equal to a second
HMAC of the token (made only when the page is shown), so a blind POST to a link (from a
scanner, or a form on another site that only knows the URL) is refused, and a browser's
`Sec-Fetch-Site` naming another site is refused too. An `Origin` check is not used: with
`Referrer-Policy: no-referrer` (kept so the token never leaks to other sites) browsers
send `Origin: null` even for our own form.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from aiohttp import web

from dispatcher.answer_desk import LinkAnswer
from dispatcher.domain.answer_links import ANSWER_PATH
from dispatcher.domain.messages import DRILL_MARKERS
from dispatcher.domain.replies import MAX_ETA_MINUTES, MAX_REASON_CHARS
from dispatcher.store.answer_links import LinkedCallUp, linked_callup
from dispatcher.web import ANSWER_DESK, ANSWER_LINKS, DATABASE, SETTINGS
from dispatcher.web.auth import public

log = structlog.get_logger(__name__)

PATH = ANSWER_PATH + "{token}"

_STYLE = (
    "body{margin:0;font:17px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:#1b1b1b;background:#f3f5f7}"
    "main{max-width:32rem;margin:0 auto;padding:1.25rem 1rem 2rem;background:#fff;"
    "min-height:100vh;box-sizing:border-box}"
    "h1{font-size:1.35rem;margin:.2rem 0 1rem}"
    ".muni{color:#555;margin:0}"
    ".drill{background:#fff3cd;border-left:4px solid #b58100;padding:.5rem .75rem}"
    ".unit{font-size:1.15rem}"
    ".note{background:#e7f1fb;border-left:4px solid #0b5cad;padding:.6rem .75rem}"
    ".error{background:#fdecea;border-left:4px solid #b3261e;padding:.6rem .75rem}"
    "form{margin:1.25rem 0;padding:1rem;border:1px solid #d5dbe1;border-radius:8px}"
    "label{display:block;margin-bottom:.75rem}"
    "input{display:block;width:100%;box-sizing:border-box;margin-top:.3rem;padding:.6rem;"
    "font-size:1rem;border:1px solid #8a96a3;border-radius:6px}"
    "button{width:100%;padding:.9rem;font-size:1.1rem;font-weight:600;border:0;"
    "border-radius:6px;color:#fff;cursor:pointer}"
    ".yes{background:#1e7b34}.no{background:#b3261e}"
    ".small{color:#555;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
}

_FROM_OUR_PAGE = ("same-origin", "none")  # Sec-Fetch-Site values our own form can send


@dataclass(frozen=True, slots=True)
class PageTexts:
    lang: str
    called_to: str
    minutes_label: str
    yes_button: str
    reason_label: str
    no_button: str
    can_change: str
    no_answer_yet: str
    thanks: str
    coming: str
    coming_eta: str  # {eta}
    not_coming: str
    released: str  # {unit}
    over: str
    refused: str
    bad_answer: str
    bad_minutes: str  # {max}
    not_found_title: str
    not_found: str


TEXTS: Mapping[str, PageTexts] = {
    "sv": PageTexts(
        lang="sv",
        called_to="Du är kallad till din krisplacering:",
        minutes_label="Om hur många minuter är du framme? (valfritt)",
        yes_button="Ja, jag kommer",
        reason_label="Varför kan du inte? (valfritt)",
        no_button="Nej, jag kan inte",
        can_change="Du kan ändra ditt svar så länge utlarmningen pågår.",
        no_answer_yet="Du har inte svarat ännu.",
        thanks="Tack!",
        coming="Vi har registrerat att du kommer.",
        coming_eta="Vi har registrerat att du kommer och är framme om ca {eta} min.",
        not_coming="Vi har registrerat att du inte kan komma.",
        released="Tack för att du kan! {unit} har redan tillräckligt med folk, "
        "så du behöver inte komma.",
        over="Utlarmningen är avslutad. Svar tas inte längre emot.",
        refused="Svaret kunde inte tas emot. Öppna länken i e-posten igen och svara på nytt.",
        bad_answer="Välj Ja eller Nej.",
        bad_minutes="Skriv antal minuter som en siffra mellan 1 och {max}, eller lämna tomt.",
        not_found_title="Länken gäller inte",
        not_found="Länken är inte giltig. Kontrollera att du har öppnat hela länken i e-posten.",
    ),
    "en": PageTexts(
        lang="en",
        called_to="You are called to your crisis placement:",
        minutes_label="In how many minutes will you be there? (optional)",
        yes_button="Yes, I am coming",
        reason_label="Why can you not come? (optional)",
        no_button="No, I cannot come",
        can_change="You can change your answer while the call-up lasts.",
        no_answer_yet="You have not answered yet.",
        thanks="Thank you!",
        coming="We have recorded that you are coming.",
        coming_eta="We have recorded that you are coming, there in about {eta} min.",
        not_coming="We have recorded that you cannot come.",
        released="Thank you for being available! {unit} already has enough people, "
        "so you do not need to come.",
        over="This call-up is over. Answers are no longer taken.",
        refused="Your answer could not be taken. Open the link in the e-mail again and answer.",
        bad_answer="Choose Yes or No.",
        bad_minutes="Write the minutes as a number from 1 to {max}, or leave it empty.",
        not_found_title="This link is not valid",
        not_found="This link is not valid. Check that you opened the whole link in the e-mail.",
    ),
}


def _texts(request: web.Request) -> PageTexts:
    return TEXTS[request.app[SETTINGS].service.language]


def _response(body: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS
    )


def _document(t: PageTexts, title: str, main: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{t.lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{main}</main></body></html>\n"
    )


def _not_found(t: PageTexts) -> web.Response:
    main = f"<h1>{html.escape(t.not_found_title)}</h1><p>{html.escape(t.not_found)}</p>"
    return _response(_document(t, t.not_found_title, main), status=404)


def _answer_sentence(t: PageTexts, linked: LinkedCallUp) -> str | None:
    """What the page says about the current answer (plain text), if there is one."""
    if linked.state == "confirmed":
        if linked.eta_minutes:
            return t.coming_eta.format(eta=linked.eta_minutes)
        return t.coming
    if linked.state == "declined":
        if linked.last_answer == "yes":  # a yes to a unit already covered, released
            return t.released.format(unit=linked.unit_name)
        if linked.reason:
            return f"{t.not_coming} ({linked.reason})"
        return t.not_coming
    return None


def _forms(t: PageTexts, proof: str) -> str:
    hidden = f'<input type="hidden" name="proof" value="{html.escape(proof)}">'
    return (
        f'<form method="post">{hidden}<input type="hidden" name="answer" value="yes">'
        f"<label>{html.escape(t.minutes_label)}"
        f'<input name="minutes" type="number" inputmode="numeric" min="1"'
        f' max="{MAX_ETA_MINUTES}"></label>'
        f'<button class="yes" type="submit">{html.escape(t.yes_button)}</button></form>'
        f'<form method="post">{hidden}<input type="hidden" name="answer" value="no">'
        f"<label>{html.escape(t.reason_label)}"
        f'<input name="reason" type="text" maxlength="{MAX_REASON_CHARS}"></label>'
        f'<button class="no" type="submit">{html.escape(t.no_button)}</button></form>'
        f'<p class="small">{html.escape(t.can_change)}</p>'
    )


def _page(
    request: web.Request,
    token: str,
    linked: LinkedCallUp,
    *,
    saved: bool = False,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    t = _texts(request)
    marker, notice = DRILL_MARKERS[t.lang]
    drill = linked.activation_kind == "drill"
    title = f"{marker}: {linked.activation_title}" if drill else linked.activation_title
    municipality = request.app[SETTINGS].service.municipality
    parts = [
        f'<p class="muni">{html.escape(municipality)}</p>',
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="drill">{html.escape(notice)}</p>' if drill else "",
        f"<p>{html.escape(t.called_to)}</p>",
        f'<p class="unit"><strong>{html.escape(linked.unit_name)}</strong><br>'
        f"{html.escape(linked.unit_address)}</p>",
    ]
    if error:
        parts.append(f'<p class="error" role="alert">{html.escape(error)}</p>')
    sentence = _answer_sentence(t, linked)
    if sentence and saved and linked.open:
        sentence = f"{t.thanks} {sentence}"
    parts.append(f'<p class="note" role="status">{html.escape(sentence or t.no_answer_yet)}</p>')
    if linked.open:
        parts.append(_forms(t, request.app[ANSWER_LINKS].form_proof(token)))
    else:
        parts.append(f'<p class="error">{html.escape(t.over)}</p>')
    return _response(_document(t, f"{municipality}: {title}", "".join(parts)), status=status)


async def _linked(request: web.Request) -> tuple[str, LinkedCallUp] | None:
    """The token and the call-up it names; None for a bad token or an unknown call-up."""
    token = request.match_info["token"]
    ref = request.app[ANSWER_LINKS].read(token)
    if ref is None:
        return None
    linked = await linked_callup(request.app[DATABASE], ref.activation_id, ref.person_id)
    return None if linked is None else (token, linked)


@public  # the signed token in the path is the credential
async def show(request: web.Request) -> web.Response:
    """The call-up and its answer buttons. Reads only: scanners open this link too."""
    found = await _linked(request)
    if found is None:
        return _not_found(_texts(request))
    token, linked = found
    return _page(request, token, linked, saved=request.query.get("saved") == "1")


def _read_answer(form: Mapping[str, object], t: PageTexts) -> LinkAnswer | str:
    """The answer the form gives for call-up 0 (the caller fills in the id), or the error."""
    answer, minutes, reason = (form.get(name, "") for name in ("answer", "minutes", "reason"))
    if answer == "no" and isinstance(reason, str):
        reason = " ".join(reason.split())[:MAX_REASON_CHARS].rstrip()
        return LinkAnswer(0, yes=False, reason=reason or None)
    if answer != "yes" or not isinstance(minutes, str):
        return t.bad_answer
    minutes = minutes.strip()
    if not minutes:
        return LinkAnswer(0, yes=True)
    if not (minutes.isascii() and minutes.isdigit()) or not 0 < int(minutes) <= MAX_ETA_MINUTES:
        return t.bad_minutes.format(max=MAX_ETA_MINUTES)
    return LinkAnswer(0, yes=True, eta_minutes=int(minutes))


@public  # the signed token in the path is the credential; the form must come from the page
async def answer(request: web.Request) -> web.Response:
    """Record a yes or no from the page's form, then send the browser back to the page."""
    found = await _linked(request)
    t = _texts(request)
    if found is None:
        return _not_found(t)
    token, linked = found
    form = await request.post()
    proof = form.get("proof", "")
    fetch_site = request.headers.get("Sec-Fetch-Site", "none")
    if (
        fetch_site not in _FROM_OUR_PAGE
        or not isinstance(proof, str)
        or not request.app[ANSWER_LINKS].proof_matches(token, proof)
    ):
        log.warning("answer link form refused", callup_id=linked.callup_id, site=fetch_site)
        return _page(request, token, linked, error=t.refused, status=403)
    given = _read_answer(form, t)
    if isinstance(given, str):
        return _page(request, token, linked, error=given, status=400)
    given = LinkAnswer(linked.callup_id, given.yes, given.eta_minutes, given.reason)
    handled = await request.app[ANSWER_DESK].handle_link(given)
    log.info("answer link used", callup_id=linked.callup_id, outcome=handled.outcome.value)
    # Relative to /answer/{token}: works behind a proxy that mounts the app under a prefix.
    raise web.HTTPSeeOther(f"{token}?saved=1", headers=HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, show)
    app.router.add_post(PATH, answer)
