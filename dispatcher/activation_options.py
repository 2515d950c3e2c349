"""Per-activation options: whether it calls reserves and who gets its gap reports.

`POST /api/activations` takes them as `"options"`; `dispatcher activate` as flags. They
are stored resolved (every key present) in the activation's `options`:

| kind   | reserves (default) | gap reports (default)                                  |
|--------|--------------------|--------------------------------------------------------|
| crisis | yes                | yes: the crisis team, and `report_to` besides           |
| drill  | no                 | to the exercise leader(s) in `report_to`; none without |

A drill with `gap_reports: true` and no `report_to` reports to the crisis team.
Activations stored before options existed have `{}`: the kind's defaults apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dispatcher.domain.roster import PhoneKind
from dispatcher.roster_import import normalise_phone
from dispatcher.settings import CrisisTeamMember

OPTION_KEYS = ("reserves", "gap_reports", "report_to")
RECIPIENT_KEYS = ("name", "phone", "email")
MAX_RECIPIENTS = 10
MAX_NAME = 100


class OptionsError(ValueError):
    """A bad option; `field` names it (`options.report_to[0].phone`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class ReportRecipient:
    """An exercise leader (or anyone else) who gets the gap reports: a mobile and/or e-mail."""

    name: str
    phone: str = ""  # E.164
    email: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "email": self.email}


@dataclass(frozen=True, slots=True)
class ActivationOptions:
    """What was asked for; `None` = the kind's default (see `resolved`)."""

    reserves: bool | None = None
    gap_reports: bool | None = None
    report_to: tuple[ReportRecipient, ...] = ()

    @classmethod
    def from_json(cls, body: object) -> ActivationOptions:
        """Validate the API's `options` object (absent or null = defaults)."""
        if body is None:
            return cls()
        if not isinstance(body, Mapping):
            raise OptionsError("options", "must be an object")
        unknown = sorted(set(body) - set(OPTION_KEYS))
        if unknown:
            raise OptionsError(f"options.{unknown[0]}", "unknown option")
        return cls(
            _flag(body, "reserves"),
            _flag(body, "gap_reports"),
            _recipients(body.get("report_to")),
        )

    def resolved(self, kind: str) -> dict[str, Any]:
        """The options as stored: every key present, defaults filled in for `kind`."""
        crisis = kind == "crisis"
        reserves = crisis if self.reserves is None else self.reserves
        gap_reports = (
            (crisis or bool(self.report_to)) if self.gap_reports is None else (self.gap_reports)
        )
        return {
            "reserves": reserves,
            "gap_reports": gap_reports,
            "report_to": [r.as_json() for r in self.report_to],
        }


def _flag(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise OptionsError(f"options.{name}", "must be true or false")
    return value


def _recipients(value: object) -> tuple[ReportRecipient, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_RECIPIENTS:
        raise OptionsError("options.report_to", f"must be a list of at most {MAX_RECIPIENTS}")
    return tuple(_recipient(item, f"options.report_to[{i}]") for i, item in enumerate(value))


def _recipient(item: object, field: str) -> ReportRecipient:
    if not isinstance(item, Mapping):
        raise OptionsError(field, "must be an object with name and phone or email")
    unknown = sorted(set(item) - set(RECIPIENT_KEYS))
    if unknown:
        raise OptionsError(f"{field}.{unknown[0]}", "unknown field")
    name, phone, email = (item.get(key) for key in RECIPIENT_KEYS)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise OptionsError(f"{field}.name", f"must be a non-empty string of at most {MAX_NAME}")
    for key, text in (("phone", phone), ("email", email)):
        if text is not None and not isinstance(text, str):
            raise OptionsError(f"{field}.{key}", "must be a string")
    number = _mobile(phone.strip(), f"{field}.phone") if phone and phone.strip() else ""
    address = email.strip() if email else ""
    if address and ("@" not in address or any(c.isspace() for c in address)):
        raise OptionsError(f"{field}.email", "must be an e-mail address")
    if not number and not address:
        raise OptionsError(field, "needs a phone or an email")
    return ReportRecipient(" ".join(name.split()), number, address)


def _mobile(phone: str, field: str) -> str:
    try:
        parsed = normalise_phone(phone)
    except ValueError as error:
        raise OptionsError(field, str(error)) from None
    if parsed.kind is not PhoneKind.MOBILE or parsed.e164 is None:
        raise OptionsError(field, "must be a mobile number (the reports go by SMS)")
    return parsed.e164


def parse_report_to(text: str) -> dict[str, str]:
    """`NAME:PHONE_OR_EMAIL` (the command line's `--report-to`) as a `report_to` item."""
    name, colon, contact = text.rpartition(":")
    if not colon or not name.strip() or not contact.strip():
        raise OptionsError("options.report_to", f"expected NAME:PHONE_OR_EMAIL, got {text!r}")
    key = "email" if "@" in contact else "phone"
    return {"name": name.strip(), key: contact.strip()}


def sends_gap_reports(kind: str, options: Mapping[str, Any]) -> bool:
    """Whether an activation gets gap reports: crises do, drills when asked or given a
    `report_to` (stored options are resolved; `{}` is an activation from before options)."""
    default = kind == "crisis" or bool(options.get("report_to"))
    return options.get("gap_reports", default) is True


def gap_report_members(
    kind: str, options: Mapping[str, Any], crisis_team: Sequence[CrisisTeamMember]
) -> list[CrisisTeamMember]:
    """Who gets an activation's gap reports: a crisis's go to the crisis team and anyone in
    `report_to`; a drill's to `report_to` only, or the crisis team when it names nobody."""
    extra = [
        CrisisTeamMember(str(r["name"]), str(r.get("phone") or ""), str(r.get("email") or ""))
        for r in options.get("report_to") or ()
    ]
    if kind == "crisis":
        return [*crisis_team, *extra]
    return extra or list(crisis_team)
