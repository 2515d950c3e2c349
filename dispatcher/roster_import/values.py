"""Single roster cells: whole numbers, percentages, roles, yes/no, and identity-number checks.

Each parser takes the stripped cell text and returns the value or raises ValueError with
the message for the import report.
"""

from __future__ import annotations

import re

from dispatcher.domain.roster import Role

# Role names as written in exports, after lower-casing and spaces/dashes → "_".
ROLE_NAMES: dict[str, Role] = {
    "admin": Role.ADMIN,
    "administrator": Role.ADMIN,
    "administratör": Role.ADMIN,
    "manager": Role.MANAGER,
    "chef": Role.MANAGER,
    "politician": Role.POLITICIAN,
    "politiker": Role.POLITICIAN,
    "volunteer_politician": Role.VOLUNTEER_POLITICIAN,
    "fritidspolitiker": Role.VOLUNTEER_POLITICIAN,
}
ROLE_CHOICES = "admin, manager, politician or volunteer_politician"

_YES = frozenset({"yes", "y", "ja", "j", "1", "true", "x"})
_NO = frozenset({"no", "n", "nej", "0", "false", ""})
_PERCENT = re.compile(r"(\d{1,3})(?:[.,](\d+))?")
_SPACING = re.compile(r"[\s\-]+")
# YYMMDD-XXXX, YYMMDD+XXXX, YYYYMMDD-XXXX, YYYYMMDDXXXX, YYMMDDXXXX.
_IDENTITY_NUMBER = re.compile(r"((?:18|19|20)\d{2}|\d{2})(\d{2})(\d{2})([-+]?)(\d{4})")


def parse_whole(text: str) -> int | None:
    """A whole number ≥ 0; None when empty."""
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise ValueError("must be a whole number, 0 or more (or empty)")
    return int(text)


def parse_pay_pct(text: str) -> float | None:
    """`100`, `37,5`, `50 %` → a number from 0 to 100; None when empty."""
    compact = "".join(text.split()).removesuffix("%")
    if not compact:
        return None
    match = _PERCENT.fullmatch(compact)
    value = float(compact.replace(",", ".")) if match and compact.isascii() else -1.0
    if not 0 <= value <= 100:
        raise ValueError("must be a number from 0 to 100 (or empty)")
    return value


def parse_role(text: str) -> Role:
    """A role by its name or Swedish alias, any case: `Chef` → manager."""
    if not text:
        raise ValueError(f"must not be empty; use {ROLE_CHOICES}")
    role = ROLE_NAMES.get(_SPACING.sub("_", text.lower()))
    if role is None:
        raise ValueError(f"unknown role; use {ROLE_CHOICES}")
    return role


def parse_yes_no(text: str) -> bool:
    """yes/no, ja/nej, 1/0, true/false (any case); empty is no."""
    lowered = text.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    raise ValueError("must be yes or no (ja/nej, 1/0)")


def looks_like_identity_number(text: str) -> bool:
    """True for a Swedish personnummer or samordningsnummer in any of its usual forms.

    A date part is required to be a real month and day (samordningsnummer add 60 to the
    day); ten bare digits must also pass the Luhn check, so that plain ten-digit employee
    numbers are not taken for identity numbers.
    """
    match = _IDENTITY_NUMBER.fullmatch(text.replace(" ", ""))
    if match is None:
        return False
    year, month, day, separator, tail = match.groups()
    day_number = int(day) - 60 if int(day) > 60 else int(day)
    if not (1 <= int(month) <= 12 and 1 <= day_number <= 31):
        return False
    if len(year) == 4 or separator:
        return True
    return _luhn_valid(year + month + day + tail)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0
