"""A small world for the API-wide tests (test_fuzz_api.py, test_role_matrix.py): settings
with Twilio as the SMS provider (so the webhooks check real signatures), a roster of a few
people, and Twilio's signature over a webhook request."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from dispatcher.domain.roster import Person, PhoneKind, Role, Roster, TrainingWeek, Unit
from dispatcher.domain.terms import term_of
from dispatcher.settings import Settings, settings_from_mapping
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

UNITS = (
    Unit("U1", "Solgården", "äldreomsorg", "Norr", "Solvägen 1", 2),
    Unit("U2", "Ekbackens skola", "grundskola", "Söder", "Ekvägen 3", None),
)


def _person(
    pid: str, unit: str, phone: str | None, email: str | None, *, protected: bool = False
) -> Person:
    return Person(
        person_id=pid,
        name=f"Namn {pid}",
        phone=phone,
        phone_kind=PhoneKind.MOBILE if phone else PhoneKind.NONE,
        email=email,
        role=Role.MANAGER,
        pay_pct=100,
        department="Ekonomi",
        placement=unit,
        reserve_placement="U2" if unit == "U1" else None,
        protected=protected,
    )


ROSTER = Roster(
    UNITS,
    (
        _person("P1", "U1", "+46701000001", "p1@example.se"),
        _person("P2", "U1", None, "p2@example.se"),
        _person("P3", "U2", "+46701000003", None, protected=True),
        _person("P4", "U2", None, None),  # nobody can reach P4
    ),
    (TrainingWeek("P1", "U1", term_of(date(2026, 2, 2)), date(2026, 2, 2)),),
)
E_MAIL_ONLY = Roster(UNITS, tuple(p for p in ROSTER.people if p.phone is None))
"""Nobody with a phone: declaring sends no SMS, so Twilio's API is never called."""


def api_settings(
    database: Path, public_url: str, twilio_api: str, *, two_person_approval: bool = False
) -> Settings:
    """Twilio SMS (its API at `twilio_api`), sandbox e-mail, the app at `public_url`."""
    return settings_from_mapping(
        {
            "service": {"database": str(database), "public_url": public_url},
            "escalation": {"two_person_approval": two_person_approval},
            "sms": {
                "provider": "twilio",
                "rate_per_second": 100,
                "twilio": {
                    "account_sid": DEFAULT_ACCOUNT_SID,
                    "auth_token": DEFAULT_AUTH_TOKEN,
                    "from_number": "+46766860000",
                    "api_base": twilio_api,
                },
            },
            "email": {"provider": "sandbox", "rate_per_second": 100},
        },
        {},
    )


def twilio_signature(public_url: str, path_qs: str, fields: Iterable[tuple[str, str]]) -> str:
    """What Twilio would send as `X-Twilio-Signature` for these form fields at this path."""
    validator = RequestValidator(DEFAULT_AUTH_TOKEN)
    return str(validator.compute_signature(public_url.rstrip("/") + path_qs, MultiDict(fields)))
