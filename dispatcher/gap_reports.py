"""Gap reports to the crisis team: an SMS summary and the detail by e-mail.

For every active activation, every `gap_report_every_minutes` (the first one period after
it became active), and once as soon as every unit is covered (once more each time a gap
opens and closes again). Who gets them follows the activation's options
(`dispatcher.activation_options`): a crisis's go to the crisis team (and anyone in its
`report_to`); a drill's only when asked, to its exercise leaders (`report_to`), or to the
crisis team when it names nobody.

The `gap_reports` table is the truth: `send_due_reports(now)` decides from it what is due,
and queues the messages and records the report in one transaction, so it may run any
number of times, at any moment, and after a restart it neither repeats a report nor skips
one that fell due while the service was down (one report catches up, not one per missed
period). A timer only wakes it: `start()` runs it once, then every `TICK_SECONDS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]  # APScheduler 3 ships no type hints

from dispatcher.activation_options import gap_report_members, sends_gap_reports
from dispatcher.callup_messages import CallUpMessages
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.domain.coverage import Coverage, compute_coverage
from dispatcher.domain.escalation import gap_report_due
from dispatcher.domain.messages import (
    GapReportText,
    RenderedEmail,
    RenderedSms,
    UnitGap,
    render_gap_report_email,
    render_gap_report_sms,
)
from dispatcher.domain.roster import PhoneKind
from dispatcher.roster_import import normalise_phone
from dispatcher.settings import CrisisTeamMember
from dispatcher.store import answers, outbox, status
from dispatcher.store import gap_reports as store
from dispatcher.store.database import Database
from dispatcher.store.gap_reports import LastReport, ReportedActivation
from dispatcher.store.outbox import NewMessage

log = structlog.get_logger(__name__)

LOCAL_TIME = ZoneInfo("Europe/Stockholm")
TICK_SECONDS = 15.0  # how often the timer looks; a report goes out at most this late
JOB_ID = "gap_reports"
PURPOSE = "gap_report"


@dataclass(frozen=True, slots=True)
class Recipient:
    """A crisis team member as reports reach them: a mobile in E.164 and/or an e-mail."""

    name: str
    sms_number: str | None
    email: str | None


def crisis_team_recipients(
    members: Iterable[CrisisTeamMember],
) -> tuple[list[Recipient], list[str]]:
    """The configured crisis team, phones normalised; and a problem per unusable phone.

    A phone that is not a valid mobile number gets no SMS (its owner still gets the
    e-mail, if they have one); each such phone is named in the problems.
    """
    recipients: list[Recipient] = []
    problems: list[str] = []
    for member in members:
        number: str | None = None
        if member.phone.strip():
            try:
                phone = normalise_phone(member.phone)
            except ValueError as error:
                problems.append(f"{member.name}: phone {member.phone!r}: {error}")
            else:
                if phone.kind is PhoneKind.MOBILE:
                    number = phone.e164
                else:
                    problems.append(f"{member.name}: phone {member.phone!r}: not a mobile")
        email = member.email.strip() or None
        if number or email:
            recipients.append(Recipient(member.name, number, email))
    return recipients, problems


@dataclass(frozen=True, slots=True)
class GapReport:
    """A report sent (queued and recorded)."""

    activation_id: str
    kind: str  # periodic | covered
    summary: str  # the SMS text
    sent_at: datetime
    messages: int  # SMS and e-mails queued


@dataclass(frozen=True, slots=True)
class _Look:
    """What the store said about one activation, and the coverage counted for it."""

    activation: ReportedActivation
    last: LastReport | None
    coverage: Coverage
    reopened: bool


class GapReporter:
    """Sends due gap reports. `start()` inside the running loop; `stop()` on shutdown."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        messages: CallUpMessages,
        crisis_team: Sequence[CrisisTeamMember],
        *,
        every: timedelta,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._every = every
        self._wake = wake
        self._crisis_team = tuple(crisis_team)
        self.recipients, problems = crisis_team_recipients(crisis_team)
        for problem in problems:
            log.error("crisis team phone unusable: no SMS gap reports to it", problem=problem)
        self._lock = asyncio.Lock()
        # Per activation: (its revision, the last report's id) and what was seen then.
        self._looks: dict[str, tuple[tuple[int, int | None], _Look]] = {}
        self._scheduler: AsyncIOScheduler | None = None

    # -- the timer -------------------------------------------------------------------

    async def start(self, *, tick_seconds: float = TICK_SECONDS) -> None:
        """Send what is due now (catching up after a restart), then look every tick."""
        await self.send_due_reports(self._clock.now())
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=tick_seconds,
            id=JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        async with self._lock:  # let a tick under way finish its transaction
            pass

    async def tick(self) -> None:
        """The timer's job: send what is due at the clock's `now`."""
        structlog.contextvars.clear_contextvars()  # jobs inherit whoever scheduled them
        await self.send_due_reports(self._clock.now())

    # -- deciding and sending ------------------------------------------------------

    async def send_due_reports(self, now: datetime) -> list[GapReport]:
        """Queue and record every report due at `now`; return them. Safe to call any time."""
        sent: list[GapReport] = []
        async with self._lock:
            active = await store.active_activations(self._db.reader)
            self._looks = {a.id: self._looks[a.id] for a in active if a.id in self._looks}
            for activation in active:
                if not sends_gap_reports(activation.kind, activation.options):
                    continue
                recipients = self.recipients_for(activation)
                if not recipients:
                    continue
                look = await self._look(activation)
                kind = self._due(look, now)
                if kind is None:
                    continue
                report = await self._send(look, kind, now, recipients)
                if report is not None:
                    sent.append(report)
        if sent:
            self._wake()
        return sent

    def recipients_for(self, activation: ReportedActivation) -> list[Recipient]:
        """Who gets this activation's reports (the crisis team's phones checked once, at
        start; a `report_to` phone was checked when the activation was declared)."""
        members = gap_report_members(activation.kind, activation.options, self._crisis_team)
        if members == list(self._crisis_team):
            return self.recipients
        return crisis_team_recipients(members)[0]

    async def _look(self, activation: ReportedActivation) -> _Look:
        """Coverage and the last report; counted again only when either changed."""
        reader = self._db.reader
        last = await store.last_report(reader, activation.id)
        key = (activation.revision, None if last is None else last.id)
        cached = self._looks.get(activation.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        coverage = compute_coverage(await status.unit_tallies(self._db, activation.id))
        reopened = (
            last is not None
            and last.kind == "covered"
            and coverage.gap == 0
            and await store.gap_reopened_since(reader, activation.id, last.sent_at)
        )
        look = _Look(activation, last, coverage, reopened)
        self._looks[activation.id] = (key, look)
        return look

    def _due(self, look: _Look, now: datetime) -> str | None:
        """Which report is due: "covered", "periodic" or None (see `gap_report_due`)."""
        all_covered = look.coverage.gap == 0
        last = look.last
        covered_reported = last is not None and last.kind == "covered" and not look.reopened
        last_at = look.activation.started_at if last is None else last.sent_at
        due = gap_report_due(from_millis(last_at), now, self._every, all_covered, covered_reported)
        if not due:
            return None
        return "covered" if all_covered else "periodic"

    async def _send(
        self, look: _Look, kind: str, now: datetime, recipients: Sequence[Recipient]
    ) -> GapReport | None:
        activation = look.activation
        text = self._text(activation, look.coverage, now)
        sms = render_gap_report_sms(self._messages.templates, text)
        email = render_gap_report_email(self._messages.templates, text)
        now_ms = to_millis(now)
        async with self._db.transaction() as conn:
            # Checked again under the write lock: another process or tick may have sent it.
            last = await store.last_report(conn, activation.id)
            if last != look.last or not await store.is_active(conn, activation.id):
                return None
            opted_out = await answers.opted_out_numbers(conn)
            queued = self._addressed(activation.id, recipients, sms, email, opted_out)
            await outbox.enqueue(conn, queued, now_ms)
            await store.record_report(
                conn, activation.id, kind=kind, summary=sms.text, sent_at=now_ms
            )
        log.info(
            "gap report",
            activation_id=activation.id,
            kind=kind,
            gap=look.coverage.gap,
            messages=len(queued),
        )
        return GapReport(activation.id, kind, sms.text, now, len(queued))

    def _addressed(
        self,
        activation_id: str,
        recipients: Sequence[Recipient],
        sms: RenderedSms,
        email: RenderedEmail,
        opted_out: frozenset[str],
    ) -> list[NewMessage]:
        """The report to every recipient: SMS to a mobile that has not opted out, and e-mail."""
        queued: list[NewMessage] = []
        for person in recipients:
            if person.sms_number and person.sms_number not in opted_out:
                queued.append(
                    NewMessage(
                        activation_id,
                        None,
                        "sms",
                        PURPOSE,
                        person.sms_number,
                        sms.text,
                        segments=sms.segments,
                    )
                )
            if person.email:
                queued.append(
                    NewMessage(
                        activation_id,
                        None,
                        "email",
                        PURPOSE,
                        person.email,
                        email.text,
                        subject=email.subject,
                    )
                )
        return queued

    def _text(
        self, activation: ReportedActivation, coverage: Coverage, now: datetime
    ) -> GapReportText:
        return GapReportText(
            activation=self._messages.activation_text(activation.kind, activation.title, ""),
            at=now.astimezone(LOCAL_TIME),
            needed=coverage.needed,
            called=coverage.called,
            confirmed=coverage.total("confirmed"),
            awaiting=coverage.total("awaiting"),
            declined=coverage.total("declined"),
            no_answer=coverage.total("no_answer"),
            failed=coverage.total("failed"),
            units=tuple(
                UnitGap(u.name, u.needed, u.confirmed, u.awaiting, u.declined, u.no_answer)
                for u in coverage.units
            ),
        )
