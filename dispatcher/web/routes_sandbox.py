"""Sandbox phones: what every person in the roster "received", and answering as them.

Only when a channel is `sandbox` (otherwise the routes do not exist: 404).
`GET /sandbox` lists the roster, people with messages first, a page at a time, with a search
box; each person shows an SMS thread like a phone (what they were sent, what they answered
and the automatic replies) and their e-mails with the answer link. `GET /sandbox/people/{id}`
shows one person. `POST /sandbox/people/{id}/reply` answers as them: the text goes to the
answer desk as an SMS from their number, exactly as Twilio would deliver it, and the
automatic reply is recorded in their thread.

Reading needs a viewer; answering needs a leader, because an answer counts: it changes
coverage and who is expected on site, and a viewer token (a wall screen, an observer) must
not be able to change that. People are named in pages by an opaque id (an HMAC of the
person id), never by name or number; protected people appear as "skyddad person" with
their unit, and their name is blanked out of the messages shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import structlog
from aiohttp import web

from dispatcher.answer_desk import InboundSms
from dispatcher.channels.sandbox import new_inbound_id, record_sandbox_reply, sandbox_threads
from dispatcher.domain.access import AccessRole
from dispatcher.store.database import Database
from dispatcher.web import ANSWER_DESK, ANSWER_LINKS, CLOCK, DATABASE, SETTINGS
from dispatcher.web.auth import caller, public, requires
from dispatcher.web.sandbox_pages import (
    HEADERS,
    SandboxPerson,
    people_page,
    person_page,
)

log = structlog.get_logger(__name__)

PAGE_SIZE = 20
THREAD_LIMIT = 10  # per address on the list (which shows the latest few); a person's page: more
PERSON_THREAD_LIMIT = 200
MAX_REPLY_CHARS = 1600  # Twilio's limit for one inbound message
MAX_QUERY_CHARS = 100

_ID_PURPOSE = b"krisdispatch sandbox person\x00"
_STATIC = {"sandbox.css": "text/css", "sandbox.js": "text/javascript"}

_FROM = (
    " FROM people AS p LEFT JOIN units AS u ON u.unit_id = p.placement"
    " LEFT JOIN units AS r ON r.unit_id = p.reserve_placement"
)
_PEOPLE = (
    "SELECT p.person_id, p.name, p.protected,"
    " CASE WHEN p.phone_kind = 'mobile' THEN p.phone END AS sms_number, p.email,"
    " COALESCE(u.name, r.name || ' (reserv)', 'Ingen placering') AS unit" + _FROM
)
# Protected people are found by their unit only: a name or number search must not reveal them.
_MATCH = (
    " WHERE ?1 = '' OR COALESCE(u.name, r.name, '') LIKE ?2 ESCAPE '\\' OR (p.protected = 0"
    " AND (p.name LIKE ?2 ESCAPE '\\' OR p.phone LIKE ?2 ESCAPE '\\'"
    " OR p.email LIKE ?2 ESCAPE '\\' OR p.person_id LIKE ?2 ESCAPE '\\'))"
)
# The latest message to each person first (one index look-up per address), then by name.
_ORDER = (
    " ORDER BY MAX("
    "COALESCE((SELECT MAX(id) FROM sandbox_messages WHERE recipient = p.phone), 0),"
    " COALESCE((SELECT MAX(id) FROM sandbox_messages WHERE recipient = p.email), 0)) DESC,"
    " CASE WHEN p.protected THEN 'skyddad person' ELSE p.name END COLLATE NOCASE,"
    " p.person_id LIMIT ? OFFSET ?"
)


@dataclass(slots=True)
class PageIds:
    """Opaque page ids for people, and the way back (rebuilt when the roster changes)."""

    key: bytes = b""
    roster_version: int | None = None
    person_ids: dict[str, str] = field(default_factory=dict)

    def page_id(self, person_id: str) -> str:
        tag = hmac.new(self.key, _ID_PURPOSE + person_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(tag[:12]).decode("ascii")

    async def person_id(self, db: Database, page_id: str) -> str | None:
        row = await db.fetch_one("SELECT COALESCE(MAX(id), 0) FROM roster_imports")
        version = int(row[0]) if row else 0
        if version != self.roster_version:
            rows = await db.fetch_all("SELECT person_id FROM people")
            self.person_ids = {self.page_id(r[0]): r[0] for r in rows}
            self.roster_version = version
        return self.person_ids.get(page_id)


PAGE_IDS = web.AppKey("sandbox_page_ids", PageIds)


def _ids(request: web.Request) -> PageIds:
    ids = request.app[PAGE_IDS]
    ids.key = request.app[ANSWER_LINKS].key
    return ids


def _person(row: Any, ids: PageIds) -> SandboxPerson:
    return SandboxPerson(
        page_id=ids.page_id(row["person_id"]),
        name=row["name"],
        protected=bool(row["protected"]),
        unit=row["unit"],
        sms_number=row["sms_number"],
        email=row["email"],
    )


def _sms_in_sandbox(request: web.Request) -> bool:
    return request.app[SETTINGS].sms.provider == "sandbox"


def _addresses(people: list[SandboxPerson]) -> list[str]:
    return [a for p in people for a in (p.sms_number, p.email) if a]


@requires(AccessRole.VIEWER)
async def show_people(request: web.Request) -> web.Response:
    """One page of the roster, people with messages first, each with what they received."""
    db, ids = request.app[DATABASE], _ids(request)
    query = " ".join(request.query.get("q", "").split())[:MAX_QUERY_CHARS]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if query:
        count = await db.fetch_one("SELECT COUNT(*)" + _FROM + _MATCH, (query, like))
    else:
        count = await db.fetch_one("SELECT COUNT(*) FROM people")
    total = int(count[0]) if count else 0
    rows = await db.fetch_all(
        _PEOPLE + _MATCH + _ORDER, (query, like, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    )
    people = [_person(row, ids) for row in rows]
    threads = await sandbox_threads(db, _addresses(people), THREAD_LIMIT)
    body = people_page(
        people,
        threads,
        query=query,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        first=(page - 1) * PAGE_SIZE + 1,
        may_answer=caller(request).role.allows(AccessRole.LEADER),
        sms_in_sandbox=_sms_in_sandbox(request),
        public_url=request.app[SETTINGS].service.public_url,
    )
    return web.Response(text=body, content_type="text/html", headers=HEADERS)


async def _found(request: web.Request) -> SandboxPerson:
    db, ids = request.app[DATABASE], _ids(request)
    person_id = await ids.person_id(db, request.match_info["person_id"])
    row = None
    if person_id is not None:
        row = await db.fetch_one(_PEOPLE + " WHERE p.person_id = ?", (person_id,))
    if row is None:
        raise web.HTTPNotFound(text="Personen finns inte i bemanningslistan.")
    return _person(row, ids)


async def _person_response(
    request: web.Request, person: SandboxPerson, *, error: str | None = None, status: int = 200
) -> web.Response:
    threads = await sandbox_threads(
        request.app[DATABASE], _addresses([person]), PERSON_THREAD_LIMIT
    )
    body = person_page(
        person,
        threads,
        may_answer=caller(request).role.allows(AccessRole.LEADER),
        sms_in_sandbox=_sms_in_sandbox(request),
        public_url=request.app[SETTINGS].service.public_url,
        error=error,
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


@requires(AccessRole.VIEWER)
async def show_person(request: web.Request) -> web.Response:
    """One person's phone and inbox, with all their messages."""
    return await _person_response(request, await _found(request))


@requires(AccessRole.LEADER)  # an answer counts: see the module docstring
async def reply(request: web.Request) -> web.Response:
    """Answer as the person by SMS; the browser goes back (303) to their phone."""
    if request.headers.get("Sec-Fetch-Site", "none") not in ("same-origin", "none"):
        raise web.HTTPForbidden(text="Svaret måste skickas från sandlådans sida.")
    person = await _found(request)
    if not _sms_in_sandbox(request) or person.sms_number is None:
        error = "Personen har inget mobilnummer i sandlådan: svara via länken i e-posten."
        return await _person_response(request, person, error=error, status=409)
    text = (await request.post()).get("text", "")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_CHARS:
        error = f"Skriv ett svar (högst {MAX_REPLY_CHARS} tecken), till exempel JA 20 eller NEJ."
        return await _person_response(request, person, error=error, status=400)
    inbound_id = new_inbound_id()
    handled = await request.app[ANSWER_DESK].handle_sms(
        InboundSms(inbound_id, person.sms_number, text.strip())
    )
    if handled.reply:
        await record_sandbox_reply(
            request.app[DATABASE], request.app[CLOCK], person.sms_number, handled.reply, inbound_id
        )
    log.info(
        "sandbox answer",
        outcome=handled.outcome.value,
        callup_id=handled.callup_id,
        by=caller(request).name,
    )
    raise web.HTTPSeeOther(f"/sandbox/people/{person.page_id}#senaste")


@public  # the pages' style and script: nothing in them is secret
async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    return web.Response(
        body=resources.files("dispatcher.web").joinpath("static", name).read_bytes(),
        content_type=_STATIC[name],
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def add_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    if "sandbox" not in (settings.sms.provider, settings.email.provider):
        return  # real channels: no sandbox pages at all
    app[PAGE_IDS] = PageIds()
    app.router.add_get("/sandbox", show_people)
    app.router.add_get("/sandbox/static/{name}", static_file)
    app.router.add_get("/sandbox/people/{person_id}", show_person)
    app.router.add_post("/sandbox/people/{person_id}/reply", reply)
