"""Configuration: one TOML file read into a frozen, typed settings object.

Every key has a default here, the documented defaults live in `config/dispatcher.toml`,
and secrets (plus the database path) may come from the environment instead of a file.
An unknown key, a wrong type or an impossible value stops start-up with one message
naming the key. Nothing here reads the environment at import time: `load_settings`
takes the environment as an argument.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

DEFAULT_CONFIG_PATH = Path("config/dispatcher.toml")

# Environment variable -> (section path, key). Secrets never need to be in a file.
ENVIRONMENT_OVERRIDES: Mapping[str, tuple[tuple[str, ...], str]] = {
    "DISPATCHER_DATABASE": (("service",), "database"),
    "DISPATCHER_PUBLIC_URL": (("service",), "public_url"),
    "DISPATCHER_SECRET_KEY": (("service",), "secret_key"),
    "TWILIO_ACCOUNT_SID": (("sms", "twilio"), "account_sid"),
    "TWILIO_AUTH_TOKEN": (("sms", "twilio"), "auth_token"),
    "DISPATCHER_TWILIO_API_BASE": (("sms", "twilio"), "api_base"),
    "DISPATCHER_SMTP_USERNAME": (("email",), "username"),
    "DISPATCHER_SMTP_PASSWORD": (("email",), "password"),
}


class SettingsError(ValueError):
    """A configuration problem, with the key it concerns in the message."""


class _InvalidValue(ValueError):
    """Raised by a section's checks; the loader adds the section and key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise _InvalidValue(key, message)


def _check_url(key: str, value: str) -> None:
    parts = urlsplit(value)
    _require(
        parts.scheme in ("http", "https") and bool(parts.netloc),
        key,
        f"must be an http(s) URL, got {value!r}",
    )


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    database: Path = Path("var/dispatcher.sqlite3")
    municipality: str = "Exempelkommun"
    language: Literal["sv", "en"] = "sv"
    max_request_kb: int = 1024
    secret_key: str = (
        ""  # signs answer links in e-mails; generated and kept in the database if empty
    )

    def __post_init__(self) -> None:
        _require(0 < self.port < 65536, "port", f"must be 1–65535, got {self.port}")
        _check_url("public_url", self.public_url)
        _require(bool(self.municipality.strip()), "municipality", "must not be empty")
        _require(self.max_request_kb > 0, "max_request_kb", "must be positive")
        _require(
            not self.secret_key or len(self.secret_key) >= 32,
            "secret_key",
            "must be at least 32 characters (or empty: a random key is made and kept)",
        )


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    account_sid: str = ""
    auth_token: str = ""
    from_number: str = ""
    messaging_service_sid: str = ""
    api_base: str = "https://api.twilio.com"
    timeout_seconds: float = 10.0
    validity_period_seconds: int = 3600

    def __post_init__(self) -> None:
        _check_url("api_base", self.api_base)
        _require(self.timeout_seconds > 0, "timeout_seconds", "must be positive")
        _require(
            1 <= self.validity_period_seconds <= 36000,
            "validity_period_seconds",
            f"must be 1–36000 (Twilio's limit), got {self.validity_period_seconds}",
        )


@dataclass(frozen=True, slots=True)
class SmsSettings:
    provider: Literal["sandbox", "twilio"] = "sandbox"
    rate_per_second: float = 10.0
    twilio: TwilioSettings = field(default_factory=TwilioSettings)

    def __post_init__(self) -> None:
        _require(
            0 < self.rate_per_second <= 1000,
            "rate_per_second",
            f"must be above 0 and at most 1000, got {self.rate_per_second}",
        )
        if self.provider == "twilio":
            _require(
                bool(self.twilio.account_sid and self.twilio.auth_token),
                "provider",
                "is 'twilio' but [sms.twilio] account_sid and auth_token are not set "
                "(set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)",
            )
            _require(
                bool(self.twilio.from_number or self.twilio.messaging_service_sid),
                "provider",
                "is 'twilio' but neither [sms.twilio] from_number nor messaging_service_sid is set",
            )


@dataclass(frozen=True, slots=True)
class EmailSettings:
    provider: Literal["sandbox", "smtp"] = "sandbox"
    host: str = "localhost"
    port: int = 25
    from_address: str = "kris@example.se"
    username: str = ""
    password: str = ""
    security: Literal["none", "starttls", "tls"] = "none"
    timeout_seconds: float = 30.0
    rate_per_second: float = 20.0

    def __post_init__(self) -> None:
        _require(0 < self.port < 65536, "port", f"must be 1–65535, got {self.port}")
        _require("@" in self.from_address, "from_address", "must be an e-mail address")
        _require(self.timeout_seconds > 0, "timeout_seconds", "must be positive")
        _require(self.rate_per_second > 0, "rate_per_second", "must be positive")


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    remind_after_minutes: int = 10
    other_channel_after_minutes: int = 20
    answer_deadline_minutes: int = 60
    gap_report_every_minutes: int = 15
    two_person_approval: bool = False
    surplus: Literal["welcome", "release"] = "welcome"  # a late yes to a full unit

    def __post_init__(self) -> None:
        for key in (
            "remind_after_minutes",
            "other_channel_after_minutes",
            "answer_deadline_minutes",
            "gap_report_every_minutes",
        ):
            _require(getattr(self, key) > 0, key, "must be a positive number of minutes")
        _require(
            self.remind_after_minutes
            <= self.other_channel_after_minutes
            <= self.answer_deadline_minutes,
            "answer_deadline_minutes",
            "must come after other_channel_after_minutes, which must come after "
            "remind_after_minutes",
        )


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    valid_terms: int = 2

    def __post_init__(self) -> None:
        _require(1 <= self.valid_terms <= 10, "valid_terms", "must be 1–10")


@dataclass(frozen=True, slots=True)
class DrillSettings:
    missed_grace_minutes: int = 30  # a scheduled drill later than this (down) is missed

    def __post_init__(self) -> None:
        _require(
            0 <= self.missed_grace_minutes <= 24 * 60,
            "missed_grace_minutes",
            f"must be 0–1440 minutes, got {self.missed_grace_minutes}",
        )


@dataclass(frozen=True, slots=True)
class RosterSettings:
    max_file_mb: int = 16

    def __post_init__(self) -> None:
        _require(1 <= self.max_file_mb <= 1024, "max_file_mb", "must be 1–1024")


@dataclass(frozen=True, slots=True)
class CrisisTeamMember:
    """Someone who gets the gap reports: by SMS (a mobile, any Swedish form) and/or e-mail."""

    name: str
    phone: str = ""
    email: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.name.strip()), "name", "must not be empty")
        _require(
            bool(self.phone or self.email), "phone", f"{self.name}: give a phone, an e-mail or both"
        )
        _require(
            not self.email or ("@" in self.email and " " not in self.email.strip()),
            "email",
            f"{self.name}: not an e-mail address: {self.email!r}",
        )


@dataclass(frozen=True, slots=True)
class Settings:
    service: ServiceSettings = field(default_factory=ServiceSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    roster: RosterSettings = field(default_factory=RosterSettings)
    drills: DrillSettings = field(default_factory=DrillSettings)
    crisis_team: tuple[CrisisTeamMember, ...] = ()  # [[crisis_team]] tables: gap reports


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Read the TOML file at `path` (or `$DISPATCHER_CONFIG`, or the default) and the environment.

    Raises SettingsError with a one-line message naming the file and key.
    """
    if path is None:
        path = Path(environ["DISPATCHER_CONFIG"]) if environ.get("DISPATCHER_CONFIG") else None
    if path is None:
        path = DEFAULT_CONFIG_PATH
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    return settings_from_mapping(raw, environ, source=str(path))


def settings_from_mapping(
    raw: Mapping[str, Any], environ: Mapping[str, str], *, source: str = "settings"
) -> Settings:
    """Build settings from already-parsed TOML plus environment overrides."""
    merged = _apply_environment(raw, environ)
    return _build(Settings, merged, (), source)


def _apply_environment(raw: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = _deep_copy(raw)
    for variable, (sections, key) in ENVIRONMENT_OVERRIDES.items():
        value = environ.get(variable)
        if not value:
            continue
        table = merged
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = value
    return merged


def _deep_copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


_T = typing.TypeVar("_T")


def _build(cls: type[_T], table: Mapping[str, Any], where: tuple[str, ...], source: str) -> _T:
    section = "[" + ".".join(where) + "] " if where else ""
    if not isinstance(table, Mapping):
        raise SettingsError(f"{source}: {section}must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise SettingsError(
                f"{source}: {section}{key}: unknown key (known: {', '.join(sorted(known))})"
            )
    values: dict[str, Any] = {}
    for name in known:
        if name not in table:
            continue
        hint = hints[name]
        if typing.get_origin(hint) is tuple:
            values[name] = _build_list(hint, table[name], (*where, name), source)
        elif dataclasses.is_dataclass(hint):
            values[name] = _build(typing.cast(type, hint), table[name], (*where, name), source)
        else:
            values[name] = _convert(hint, table[name], f"{source}: {section}{name}")
    try:
        return cls(**values)
    except _InvalidValue as error:
        raise SettingsError(f"{source}: {section}{error.key}: {error}") from None


def _build_list(hint: Any, items: Any, where: tuple[str, ...], source: str) -> tuple[Any, ...]:
    """An array of tables (`[[crisis_team]]`) as a tuple of dataclasses; errors name the entry."""
    item_type = typing.get_args(hint)[0]
    label = ".".join(where)
    if not isinstance(items, list):
        raise SettingsError(f"{source}: [[{label}]] must be an array of tables")
    return tuple(
        _build(item_type, item, (f"{label}[{index + 1}]",), source)
        for index, item in enumerate(items)
    )


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Scalar settings types: (accepts the TOML value?, what to say if not, conversion).
_SCALARS: dict[Any, tuple[Any, str, Any]] = {
    bool: (lambda v: isinstance(v, bool), "true or false", bool),
    int: (_is_whole, "a whole number", int),
    float: (_is_number, "a number", float),
    str: (lambda v: isinstance(v, str), "a string", str),
    Path: (lambda v: isinstance(v, str) and bool(v), "a path", Path),
}


def _convert(hint: Any, value: Any, label: str) -> Any:
    if typing.get_origin(hint) is Literal:
        options = typing.get_args(hint)
        if value not in options:
            choices = ", ".join(repr(o) for o in options)
            raise SettingsError(f"{label}: must be one of {choices}, got {value!r}")
        return value
    if hint not in _SCALARS:
        raise TypeError(f"unsupported settings type {hint}")  # pragma: no cover
    accepts, expected, convert = _SCALARS[hint]
    if not accepts(value):
        raise SettingsError(f"{label}: must be {expected}, got {value!r}")
    return convert(value)
