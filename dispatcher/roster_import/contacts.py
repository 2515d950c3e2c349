"""Phone numbers and e-mail addresses as HR exports write them, normalised or refused.

`normalise_phone` and `normalise_email` raise `ValueError` with a message for the import
report; a usable value that deserves a word (a fixed-line number) comes back with a note.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

from dispatcher.domain.roster import PhoneKind

DEFAULT_REGION = "SE"

# Digits, spaces, and the punctuation people write numbers with: `+46 (0)70-123 45 67`.
_PHONE_CHARACTERS = re.compile(r"[\d\s+().\-/]+")
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_NOT_MOBILE_LABELS = {
    PhoneNumberType.FIXED_LINE: "fixed-line number",
    PhoneNumberType.VOIP: "IP-telephony number",
    PhoneNumberType.PERSONAL_NUMBER: "personal (forwarding) number",
    PhoneNumberType.TOLL_FREE: "toll-free number",
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
    PhoneNumberType.UAN: "company switchboard number",
    PhoneNumberType.PAGER: "pager number",
    PhoneNumberType.VOICEMAIL: "voicemail number",
}
_PARSE_FAILURES = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}
_IMPOSSIBLE_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "wrong number of digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


@dataclass(frozen=True, slots=True)
class Phone:
    """A normalised number: E.164 (None when none was given), what it is good for, and a note."""

    e164: str | None
    kind: PhoneKind
    note: str | None = None


NO_PHONE = Phone(None, PhoneKind.NONE)


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> Phone:
    """`070-123 45 67`, `0046 70…`, `+46 (0)70…`, `46 70…` → `+46701234567` (a mobile).

    A valid number that cannot take SMS is kept for phoning, with a note saying so.
    Raises ValueError for anything that is not a valid number, letters included
    (phonenumbers would read them as keypad digits).
    """
    text = text.strip()
    if not text:
        return NO_PHONE
    if not _PHONE_CHARACTERS.fullmatch(text) or not any(c.isdigit() for c in text):
        if any(c.isalpha() for c in text):
            raise ValueError("not a phone number (it contains letters)")
        raise ValueError("not a phone number")
    # number_type is UNKNOWN exactly when is_valid_number is False: asking once halves
    # the cost of the check, which with parsing dominates a 100,000-person import.
    number = _parse_national_form(text) if region == DEFAULT_REGION else None
    number_type = PhoneNumberType.UNKNOWN if number is None else phonenumbers.number_type(number)
    if number is None or number_type == PhoneNumberType.UNKNOWN:  # phonenumbers decides
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException as error:
            reason = _PARSE_FAILURES.get(error.error_type)
            raise ValueError(
                f"not a phone number ({reason})" if reason else "not a phone number"
            ) from None
        number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        reason = _IMPOSSIBLE_REASONS.get(phonenumbers.is_possible_number_with_reason(number))
        raise ValueError(
            f"not a valid phone number ({reason})" if reason else "not a valid phone number"
        )
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if number_type in _SMS_TYPES:
        return Phone(e164, PhoneKind.MOBILE)
    label = _NOT_MOBILE_LABELS.get(number_type, "not a mobile number")
    return Phone(e164, PhoneKind.FIXED_LINE, f"{label}: kept for phoning, not used for SMS")


_SPACE = re.compile(r"\s")


def _parse_national_form(text: str) -> PhoneNumber | None:
    """The Swedish national form (`070-123 45 67`) without phonenumbers.parse, else None.

    phonenumbers.parse costs ~17 µs, most of a 100,000-person import. For a trunk
    prefix `0` followed by digits, spaces and dashes it drops the `0` and takes the
    country code from the region; doing the same directly gives the identical number
    whenever that number is valid (tests compare the two over generated inputs). An
    invalid result goes back through phonenumbers.parse, which may then keep the `0`.
    """
    match = _NATIONAL_FORM.fullmatch(text.translate(_SEPARATORS))
    if match is None:
        return None
    return PhoneNumber(country_code=_SWEDEN, national_number=int(match.group(1)))


_SEPARATORS = str.maketrans(dict.fromkeys(" -\u00a0\u202f\t"))
_NATIONAL_FORM = re.compile(r"0([1-9][0-9]{6,11})")
_SWEDEN = phonenumbers.country_code_for_region(DEFAULT_REGION)

_EMAIL_LOCAL = re.compile(r"[^\s@<>()\[\]\\,;:\"]+")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")
_TOP_LEVEL = re.compile(r"[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59}")


def normalise_email(text: str) -> str | None:
    """A checked address with its domain in lower case; None when empty.

    The check is for the mistakes HR exports contain (a missing @, a space, a name in
    front, a domain without a dot), not the whole of RFC 5322. Raises ValueError.
    """
    text = text.strip()
    if not text:
        return None
    if _SPACE.search(text):
        raise ValueError("not an e-mail address (it contains a space)")
    if text.count("@") != 1:
        raise ValueError(
            "not an e-mail address (no @)"
            if "@" not in text
            else "not an e-mail address (more than one @)"
        )
    local, domain = text.split("@")
    if not local or not domain:
        raise ValueError(f"not an e-mail address (nothing {'before' if not local else 'after'} @)")
    if (
        len(local) > 64
        or not _EMAIL_LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise ValueError("not an e-mail address (the part before @ is not valid)")
    domain = domain.lower()
    if not _valid_domain(domain):
        raise ValueError(f"not an e-mail address (the domain '{domain}' is not valid)")
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=1024)  # a municipality's staff share a handful of domains
def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    return (
        len(labels) >= 2
        and len(domain) <= 253
        and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        and _TOP_LEVEL.fullmatch(labels[-1]) is not None
    )
