"""Message texts: the kinds, their templates, validation, and rendering from plain data.

Templates use `str.format` fields by name only (`{unit_name}`): no positions, attribute or
index access, conversions or format specs. Optional parts expand to nothing when absent:

- `{code}` is empty, or a space and the reply code (" B3"), so `JA{code}` reads "JA" or
  "JA B3";
- `{message}` in an SMS is empty, or a space and the leader's extra message as a sentence;
  in e-mails it (and `{answer_link}`) is a paragraph built from a `*_text`/`*_html` part
  template, or nothing, and empty paragraphs are removed.

Rendering, not the templates, marks drills: every SMS and e-mail subject of a drill starts
with `ÖVNING: ` (English: `ÖVNING (EXERCISE): `) and every e-mail body opens with a notice
saying it is a drill. SMS text goes through `to_gsm7`; HTML values are escaped.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from dispatcher.domain.roster import Unit
from dispatcher.domain.sms_text import (
    GSM7_PART,
    gsm7_length,
    is_gsm7,
    non_gsm7_characters,
    sms_segments,
    to_gsm7,
)


class MessageKind(StrEnum):
    """One key per template file entry. The last group are parts other messages embed."""

    CALLUP_SMS = "callup_sms"
    CALLUP_EMAIL_SUBJECT = "callup_email_subject"
    CALLUP_EMAIL_TEXT = "callup_email_text"
    CALLUP_EMAIL_HTML = "callup_email_html"
    REMINDER_SMS = "reminder_sms"
    REMINDER_EMAIL_SUBJECT = "reminder_email_subject"
    REMINDER_EMAIL_TEXT = "reminder_email_text"
    CONFIRMATION_SMS = "confirmation_sms"
    CONFIRMATION_NO_ETA_SMS = "confirmation_no_eta_sms"
    DECLINE_SMS = "decline_sms"
    RELEASED_SMS = "released_sms"
    HELP_SMS = "help_sms"
    CODE_NEEDED_SMS = "code_needed_sms"
    NOT_ACTIVE_SMS = "not_active_sms"
    UNKNOWN_SENDER_SMS = "unknown_sender_sms"
    STAND_DOWN_SMS = "stand_down_sms"
    STAND_DOWN_EMAIL_SUBJECT = "stand_down_email_subject"
    STAND_DOWN_EMAIL_TEXT = "stand_down_email_text"
    GAP_REPORT_SMS = "gap_report_sms"
    GAP_REPORT_EMAIL_SUBJECT = "gap_report_email_subject"
    GAP_REPORT_EMAIL_TEXT = "gap_report_email_text"
    MESSAGE_TEXT = "message_text"
    MESSAGE_HTML = "message_html"
    ANSWER_LINK_TEXT = "answer_link_text"
    ANSWER_LINK_HTML = "answer_link_html"
    GAP_LINE_TEXT = "gap_line_text"
    GAP_MORE = "gap_more"
    NO_GAPS = "no_gaps"

    @property
    def is_sms(self) -> bool:
        return self.value.endswith("_sms")


K = MessageKind
_ACT = ("municipality", "title")
_UNIT = ("unit_name", "unit_address")
_COUNTS = ("confirmed", "needed", "called", "awaiting", "declined", "no_answer", "failed")
_CALLUP_EMAIL = (
    (*_ACT, *_UNIT, "person_name", "code", "message", "answer_link"),
    (*_UNIT, "code", "message", "answer_link"),
)
_LINK = (("answer_url",), ("answer_url",))
# Kind -> (fields it may use, fields it must use because leaving them out loses information).
PLACEHOLDERS: Mapping[MessageKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    K.CALLUP_SMS: ((*_ACT, *_UNIT, "code", "message"), (*_UNIT, "code", "message")),
    K.CALLUP_EMAIL_SUBJECT: ((*_ACT, "unit_name"), ()),
    K.CALLUP_EMAIL_TEXT: _CALLUP_EMAIL,
    K.CALLUP_EMAIL_HTML: _CALLUP_EMAIL,
    K.REMINDER_SMS: ((*_ACT, *_UNIT, "code"), ("unit_name", "code")),
    K.REMINDER_EMAIL_SUBJECT: ((*_ACT, "unit_name"), ()),
    K.REMINDER_EMAIL_TEXT: (
        (*_ACT, *_UNIT, "person_name", "code", "answer_link"),
        (*_UNIT, "code", "answer_link"),
    ),
    K.CONFIRMATION_SMS: ((*_ACT, *_UNIT, "code", "eta_minutes"), ("unit_name", "eta_minutes")),
    K.CONFIRMATION_NO_ETA_SMS: ((*_ACT, *_UNIT, "code"), ("unit_name",)),
    K.DECLINE_SMS: ((*_ACT, "unit_name", "code"), ()),
    K.RELEASED_SMS: ((*_ACT, "unit_name", "code"), ("unit_name",)),
    K.HELP_SMS: (_ACT, ()),
    K.CODE_NEEDED_SMS: (("municipality", "codes", "example"), ("codes",)),
    K.NOT_ACTIVE_SMS: (_ACT, ()),
    K.UNKNOWN_SENDER_SMS: (("municipality",), ()),
    K.STAND_DOWN_SMS: ((*_ACT, "unit_name"), ()),
    K.STAND_DOWN_EMAIL_SUBJECT: (_ACT, ()),
    K.STAND_DOWN_EMAIL_TEXT: ((*_ACT, "unit_name", "person_name"), ()),
    K.GAP_REPORT_SMS: ((*_ACT, "time", *_COUNTS, "gaps"), ("gaps",)),
    K.GAP_REPORT_EMAIL_SUBJECT: ((*_ACT, "time", *_COUNTS), ()),
    K.GAP_REPORT_EMAIL_TEXT: ((*_ACT, "time", *_COUNTS, "gaps"), ("gaps",)),
    K.MESSAGE_TEXT: (("message",), ("message",)),
    K.MESSAGE_HTML: (("message",), ("message",)),
    K.ANSWER_LINK_TEXT: _LINK,
    K.ANSWER_LINK_HTML: _LINK,
    K.GAP_LINE_TEXT: (
        ("unit_name", "gap", "needed", "confirmed", "awaiting", "declined", "no_answer"),
        ("unit_name", "gap"),
    ),
    K.GAP_MORE: (("count",), ("count",)),
    K.NO_GAPS: ((), ()),
}

MAX_SMS_SEGMENTS = 2  # issue 3: a call-up SMS stays within two segments
MAX_SMS_SEPTETS = MAX_SMS_SEGMENTS * GSM7_PART

# Drill marking per language: the SMS/subject marker and the e-mail notice.
DRILL_MARKERS: Mapping[str, tuple[str, str]] = {
    "sv": ("ÖVNING", "ÖVNING – detta är en övning, inte en verklig kris."),
    "en": ("ÖVNING (EXERCISE)", "ÖVNING (EXERCISE) – this is an exercise, not a real crisis."),
}


@dataclass(frozen=True, slots=True)
class Templates:
    """The texts of one language, keyed by `MessageKind` value."""

    language: str
    texts: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # where the texts came from, for logs

    def __post_init__(self) -> None:
        object.__setattr__(self, "texts", MappingProxyType(dict(self.texts)))


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    kind: str
    problem: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ActivationText:
    """What every message about one activation may mention."""

    municipality: str
    title: str
    drill: bool = False
    message: str = ""  # the leader's optional extra message, shown in call-ups


@dataclass(frozen=True, slots=True)
class CallUpText:
    activation: ActivationText
    person_name: str
    unit_name: str
    unit_address: str
    reply_code: str = ""  # give it only when the person has several open call-ups
    answer_url: str = ""  # the signed e-mail answer link; "" leaves the link out


@dataclass(frozen=True, slots=True)
class UnitGap:
    unit_name: str
    needed: int
    confirmed: int
    awaiting: int = 0
    declined: int = 0
    no_answer: int = 0

    @property
    def gap(self) -> int:
        return max(0, self.needed - self.confirmed)


@dataclass(frozen=True, slots=True)
class GapReportText:
    activation: ActivationText
    at: datetime  # local wall-clock time (the caller converts to Europe/Stockholm)
    needed: int
    called: int
    confirmed: int
    awaiting: int
    declined: int
    no_answer: int
    failed: int
    units: tuple[UnitGap, ...]


@dataclass(frozen=True, slots=True)
class RenderedSms:
    text: str
    segments: int
    is_gsm7: bool


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None = None


# ---------------------------------------------------------------- rendering helpers


def _fill(templates: Templates, kind: MessageKind, values: Mapping[str, object]) -> str:
    return templates.texts[kind].format_map({k: str(v) for k, v in values.items()})


def _marker(templates: Templates, drill: bool) -> str:
    return DRILL_MARKERS[templates.language][0] + ": " if drill else ""


def _sms(
    templates: Templates, kind: MessageKind, values: Mapping[str, object], drill: bool
) -> RenderedSms:
    text = to_gsm7(_marker(templates, drill) + _fill(templates, kind, values)).strip()
    return RenderedSms(text=text, segments=sms_segments(text), is_gsm7=is_gsm7(text))


def _tidy(text: str) -> str:
    """Drop spaces at line ends and the empty paragraphs left by absent parts."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _email(
    templates: Templates,
    kinds: tuple[MessageKind, MessageKind, MessageKind | None],
    values: Mapping[str, object],
    html_parts: Mapping[str, str],
    drill: bool,
) -> RenderedEmail:
    subject_kind, text_kind, html_kind = kinds
    subject = " ".join((_marker(templates, drill) + _fill(templates, subject_kind, values)).split())
    notice = DRILL_MARKERS[templates.language][1] + "\n\n" if drill else ""
    text = _tidy(notice + _fill(templates, text_kind, values))
    if html_kind is None:
        return RenderedEmail(subject=subject, text=text)
    escaped = {k: html.escape(str(v)) for k, v in values.items()} | dict(html_parts)
    banner = (
        '<p style="background:#ffd400;color:#000;font-weight:bold;padding:8px 12px">'
        f"{html.escape(DRILL_MARKERS[templates.language][1])}</p>\n"
        if drill
        else ""
    )
    document = (
        f'<!DOCTYPE html>\n<html lang="{html.escape(templates.language)}"><head>'
        f'<meta charset="utf-8"><title>{html.escape(subject)}</title></head>\n'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;'
        'line-height:1.5;color:#111">\n'
        f"{banner}{_fill(templates, html_kind, escaped).strip()}\n</body></html>\n"
    )
    return RenderedEmail(subject=subject, text=text, html=document)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text + "." if text and text[-1] not in ".!?" else text


def _code(reply_code: str) -> str:
    return f" {reply_code}" if reply_code else ""


def _callup_values(c: CallUpText) -> dict[str, object]:
    a = c.activation
    return {
        "municipality": a.municipality,
        "title": a.title,
        "person_name": c.person_name,
        "unit_name": c.unit_name,
        "unit_address": c.unit_address,
        "code": _code(c.reply_code),
    }


def _callup_email_parts(
    templates: Templates, c: CallUpText, *, with_message: bool
) -> tuple[dict[str, object], dict[str, str]]:
    values = _callup_values(c)
    lines = c.activation.message.strip().splitlines() if with_message else []
    message = "\n".join(" ".join(line.split()) for line in lines)
    url = c.answer_url
    values["message"] = _fill(templates, K.MESSAGE_TEXT, {"message": message}) if message else ""
    values["answer_link"] = _fill(templates, K.ANSWER_LINK_TEXT, {"answer_url": url}) if url else ""
    html_parts = {
        "message": _fill(
            templates, K.MESSAGE_HTML, {"message": html.escape(message).replace("\n", "<br>")}
        )
        if message
        else "",
        "answer_link": _fill(templates, K.ANSWER_LINK_HTML, {"answer_url": html.escape(url)})
        if url
        else "",
    }
    return values, html_parts


# ---------------------------------------------------------------- renderers


def render_callup_sms(templates: Templates, callup: CallUpText) -> RenderedSms:
    values = _callup_values(callup)
    message = _sentence(callup.activation.message)
    values["message"] = f" {message}" if message else ""
    return _sms(templates, K.CALLUP_SMS, values, callup.activation.drill)


def render_callup_email(templates: Templates, callup: CallUpText) -> RenderedEmail:
    values, html_parts = _callup_email_parts(templates, callup, with_message=True)
    kinds = (K.CALLUP_EMAIL_SUBJECT, K.CALLUP_EMAIL_TEXT, K.CALLUP_EMAIL_HTML)
    return _email(templates, kinds, values, html_parts, callup.activation.drill)


def render_reminder_sms(templates: Templates, callup: CallUpText) -> RenderedSms:
    return _sms(templates, K.REMINDER_SMS, _callup_values(callup), callup.activation.drill)


def render_reminder_email(templates: Templates, callup: CallUpText) -> RenderedEmail:
    values, _ = _callup_email_parts(templates, callup, with_message=False)
    kinds = (K.REMINDER_EMAIL_SUBJECT, K.REMINDER_EMAIL_TEXT, None)
    return _email(templates, kinds, values, {}, callup.activation.drill)


def render_confirmation_sms(
    templates: Templates, callup: CallUpText, eta_minutes: int | None
) -> RenderedSms:
    """The answer to a yes: unit, address, when, whom to report to."""
    values = _callup_values(callup)
    if eta_minutes is None:
        return _sms(templates, K.CONFIRMATION_NO_ETA_SMS, values, callup.activation.drill)
    values["eta_minutes"] = eta_minutes
    return _sms(templates, K.CONFIRMATION_SMS, values, callup.activation.drill)


def render_decline_sms(templates: Templates, callup: CallUpText) -> RenderedSms:
    return _sms(templates, K.DECLINE_SMS, _callup_values(callup), callup.activation.drill)


def render_released_sms(templates: Templates, callup: CallUpText) -> RenderedSms:
    """The answer to a late yes to a unit already covered, with `surplus = "release"`."""
    return _sms(templates, K.RELEASED_SMS, _callup_values(callup), callup.activation.drill)


def render_stand_down_sms(templates: Templates, callup: CallUpText) -> RenderedSms:
    return _sms(templates, K.STAND_DOWN_SMS, _callup_values(callup), callup.activation.drill)


def render_stand_down_email(templates: Templates, callup: CallUpText) -> RenderedEmail:
    kinds = (K.STAND_DOWN_EMAIL_SUBJECT, K.STAND_DOWN_EMAIL_TEXT, None)
    return _email(templates, kinds, _callup_values(callup), {}, callup.activation.drill)


def _activation_values(activation: ActivationText) -> dict[str, object]:
    return {"municipality": activation.municipality, "title": activation.title}


def render_help_sms(templates: Templates, activation: ActivationText) -> RenderedSms:
    """The answer to a reply that was not understood, for the one open call-up."""
    return _sms(templates, K.HELP_SMS, _activation_values(activation), activation.drill)


def render_not_active_sms(templates: Templates, activation: ActivationText) -> RenderedSms:
    """The answer to a reply after stand-down."""
    return _sms(templates, K.NOT_ACTIVE_SMS, _activation_values(activation), activation.drill)


def render_unknown_sender_sms(templates: Templates, municipality: str) -> RenderedSms:
    return _sms(templates, K.UNKNOWN_SENDER_SMS, {"municipality": municipality}, drill=False)


def render_code_needed_sms(
    templates: Templates, municipality: str, open_callups: Sequence[CallUpText]
) -> RenderedSms:
    """The answer to a reply without a code from someone with several open call-ups.

    Each open call-up is listed as `B3 = title`; drills carry their marker.
    """
    codes = "; ".join(
        f"{c.reply_code} = {_marker(templates, c.activation.drill)}{c.activation.title}"
        for c in open_callups
    )
    example = open_callups[0].reply_code if open_callups else ""
    values = {"municipality": municipality, "codes": codes, "example": example}
    return _sms(templates, K.CODE_NEEDED_SMS, values, drill=False)


def _gap_values(report: GapReportText) -> dict[str, object]:
    return {
        **_activation_values(report.activation),
        "time": report.at.strftime("%H:%M"),
        "needed": report.needed,
        "called": report.called,
        "confirmed": report.confirmed,
        "awaiting": report.awaiting,
        "declined": report.declined,
        "no_answer": report.no_answer,
        "failed": report.failed,
    }


def _gaps(report: GapReportText) -> list[UnitGap]:
    return sorted((u for u in report.units if u.gap), key=lambda u: (-u.gap, u.unit_name))


def render_gap_report_sms(templates: Templates, report: GapReportText) -> RenderedSms:
    """`10:15 Storm: 48/60 bekräftade. Luckor: Solgården 3, Björkängen 2`, within 2 segments.

    Units with the largest gaps come first; those that do not fit are counted ("+4 till").
    """
    values = _gap_values(report)
    gaps = _gaps(report)
    drill = report.activation.drill
    if not gaps:
        values["gaps"] = _fill(templates, K.NO_GAPS, {})
        return _sms(templates, K.GAP_REPORT_SMS, values, drill)
    shown = len(gaps)
    while True:
        items = [f"{u.unit_name} {u.gap}" for u in gaps[:shown]]
        if shown < len(gaps):
            items.append(_fill(templates, K.GAP_MORE, {"count": len(gaps) - shown}))
        values["gaps"] = ", ".join(items)
        rendered = _sms(templates, K.GAP_REPORT_SMS, values, drill)
        if rendered.segments <= MAX_SMS_SEGMENTS or shown == 0:
            return rendered
        shown -= 1


def render_gap_report_email(templates: Templates, report: GapReportText) -> RenderedEmail:
    values = _gap_values(report)
    lines = [
        _fill(
            templates,
            K.GAP_LINE_TEXT,
            {
                "unit_name": u.unit_name,
                "gap": u.gap,
                "needed": u.needed,
                "confirmed": u.confirmed,
                "awaiting": u.awaiting,
                "declined": u.declined,
                "no_answer": u.no_answer,
            },
        )
        for u in _gaps(report)
    ]
    values["gaps"] = "\n".join(lines) if lines else _fill(templates, K.NO_GAPS, {})
    kinds = (K.GAP_REPORT_EMAIL_SUBJECT, K.GAP_REPORT_EMAIL_TEXT, None)
    return _email(templates, kinds, values, {}, report.activation.drill)


# ---------------------------------------------------------------- length checks

# Worst-case lengths the templates must fit in two segments (issue 3 item 9).
WORST_CASE_ACTIVATION = ActivationText(
    municipality="Upplands Väsby kommun",
    title="Omfattande elavbrott och stormskador i hela kommunen, dag 2",  # 60 characters
    drill=True,  # the drill marker is the longer variant
)
WORST_CASE_CALLUP = CallUpText(
    activation=WORST_CASE_ACTIVATION,
    person_name="Anna-Karin Johansson Söderberg",
    unit_name="Hemtjänsten i Norra Ekängens och Sjövikens område",  # the demo's longest
    unit_address="Kullens ängsväg 112, 443 38 Lerum",
    reply_code="B3",
)


def callup_sms_segments(
    templates: Templates, activation: ActivationText, units: Iterable[Unit], *, reply_code: str = ""
) -> dict[str, int]:
    """Unit id → segments of the call-up SMS sent there (for the preview)."""
    return {
        u.unit_id: render_callup_sms(
            templates, CallUpText(activation, "", u.name, u.address, reply_code)
        ).segments
        for u in units
    }


def check_callup_length(
    templates: Templates, activation: ActivationText, units: Iterable[Unit]
) -> str | None:
    """Why this declaration's call-up SMS would not fit, or None when it does.

    Checks every unit with a reply code shown (the longest form) and asks for GSM-7 and
    at most two segments. A long extra message is refused here rather than truncated.
    """
    worst: tuple[int, Unit] | None = None
    for unit in units:
        callup = CallUpText(activation, "", unit.name, unit.address, WORST_CASE_CALLUP.reply_code)
        rendered = render_callup_sms(templates, callup)
        if not rendered.is_gsm7:
            bad = "".join(non_gsm7_characters(rendered.text))
            return (
                f"the call-up SMS to {unit.name} would contain characters that SMS cannot "
                f"carry in GSM-7: {bad!r}; remove them"
            )
        length = gsm7_length(rendered.text)
        if rendered.segments > MAX_SMS_SEGMENTS and (worst is None or length > worst[0]):
            worst = (length, unit)
    if worst is None:
        return None
    length, unit = worst
    excess = max(1, length - MAX_SMS_SEPTETS)  # an escape pair can spill even at 306
    what = "shorten the message or the title" if activation.message else "shorten the title"
    return (
        f"the call-up SMS to {unit.name} would be {length} characters, {excess} too many "
        f"for {MAX_SMS_SEGMENTS} SMS segments ({MAX_SMS_SEPTETS} characters): {what}"
    )


# ---------------------------------------------------------------- validation


def _field_problems(kind: MessageKind, text: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        return [f"not a valid template: {error} (write a literal brace as {{{{ or }}}})"]
    allowed, required = PLACEHOLDERS[kind]
    problems: list[str] = []
    used: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier():
            problems.append(f"{{{name}}}: only named fields like {{unit_name}} are allowed")
        elif spec or conversion:
            problems.append(f"{{{name}}}: write the field as plain {{{name}}}, no ! or :")
        elif name not in allowed:
            known = ", ".join(f"{{{f}}}" for f in allowed) or "none"
            problems.append(f"unknown placeholder {{{name}}} (known here: {known})")
        used.add(name)
    problems += [f"must contain {{{name}}}" for name in required if name not in used]
    if kind.is_sms:
        literal = "".join(part for part, *_ in parsed)
        bad = "".join(non_gsm7_characters(literal))
        if bad:
            problems.append(f"contains characters outside GSM-7: {bad!r}")
    return problems


def _worst_case_sms(templates: Templates) -> dict[MessageKind, RenderedSms]:
    callup, activation = WORST_CASE_CALLUP, WORST_CASE_ACTIVATION
    crisis = ActivationText(activation.municipality, activation.title)
    two_open = [callup, CallUpText(crisis, "", "", "", "C3")]
    unit = UnitGap(callup.unit_name, needed=1000, confirmed=999)
    report = GapReportText(
        activation, datetime(2026, 1, 1, 10, 15), 1000, 1000, 999, 1, 0, 0, 0, (unit,)
    )
    return {
        K.CALLUP_SMS: render_callup_sms(templates, callup),
        K.REMINDER_SMS: render_reminder_sms(templates, callup),
        K.CONFIRMATION_SMS: render_confirmation_sms(templates, callup, 120),
        K.CONFIRMATION_NO_ETA_SMS: render_confirmation_sms(templates, callup, None),
        K.RELEASED_SMS: render_released_sms(templates, callup),
        K.DECLINE_SMS: render_decline_sms(templates, callup),
        K.HELP_SMS: render_help_sms(templates, activation),
        K.CODE_NEEDED_SMS: render_code_needed_sms(templates, activation.municipality, two_open),
        K.NOT_ACTIVE_SMS: render_not_active_sms(templates, activation),
        K.UNKNOWN_SENDER_SMS: render_unknown_sender_sms(templates, activation.municipality),
        K.STAND_DOWN_SMS: render_stand_down_sms(templates, callup),
        K.GAP_REPORT_SMS: render_gap_report_sms(templates, report),
    }


def validate_templates(templates: Templates) -> list[TemplateProblem]:
    """Everything wrong with a set of templates; empty when they are fit to use.

    Every kind present and no unknown ones; fields parse, are known for their kind and the
    essential ones are used; SMS templates are GSM-7 and fit in two segments at the
    worst-case lengths (`WORST_CASE_CALLUP`).
    """
    problems: list[TemplateProblem] = []
    if templates.language not in DRILL_MARKERS:
        known = ", ".join(DRILL_MARKERS)
        problems.append(
            TemplateProblem("language", f"unknown language {templates.language!r} (known: {known})")
        )
    for key in sorted(set(templates.texts) - set(MessageKind)):
        problems.append(TemplateProblem(key, "unknown message kind"))
    for kind in MessageKind:
        text = templates.texts.get(kind)
        if text is None:
            problems.append(TemplateProblem(kind, "missing"))
            continue
        problems += [TemplateProblem(kind, p) for p in _field_problems(kind, text)]
    if problems:
        return problems  # rendering needs well-formed templates
    for kind, rendered in _worst_case_sms(templates).items():
        if not rendered.is_gsm7:
            bad = "".join(non_gsm7_characters(rendered.text))
            problems.append(TemplateProblem(kind, f"renders outside GSM-7: {bad!r}"))
        elif rendered.segments > MAX_SMS_SEGMENTS:
            problems.append(
                TemplateProblem(
                    kind,
                    f"too long: {gsm7_length(rendered.text)} characters and "
                    f"{rendered.segments} segments with the longest names "
                    f"(at most {MAX_SMS_SEGMENTS} segments, {MAX_SMS_SEPTETS} characters)",
                )
            )
    return problems
