"""Who may do what: access roles, access tokens and the rules about them.

Pure: no I/O. A token is a random secret shown once; only its SHA-256 hash is stored, and
a presented token is found by looking its hash up, so no secret is ever compared
character by character.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

# Marks a krisdispatch token, so a leaked one is recognisable (secret scanners can match it).
TOKEN_PREFIX = "kd_"  # noqa: S105 - a public prefix, not a password

MAX_TOKEN_NAME_LENGTH = 100

# A presented token longer than this cannot be one of ours; it is refused before hashing.
MAX_TOKEN_LENGTH = 128


class AccessRole(StrEnum):
    """A token's role. Members are listed from least to most allowed: viewer < leader < admin.

    Comparisons between roles follow that order (not the alphabetical order a plain
    `str` would use); comparing a role with anything else is not supported.
    """

    VIEWER = "viewer"  # reads status
    LEADER = "leader"  # also declares, approves and stands down
    ADMIN = "admin"  # also manages the roster and tokens

    @property
    def rank(self) -> int:
        return list(AccessRole).index(self)

    def allows(self, required: AccessRole) -> bool:
        """Whether a token with this role may do what needs `required`."""
        return self.rank >= required.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AccessRole):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, AccessRole):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, AccessRole):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, AccessRole):
            return NotImplemented
        return self.rank >= other.rank


ROLE_NAMES: tuple[str, ...] = tuple(role.value for role in AccessRole)


def parse_role(value: object) -> AccessRole:
    """The role named by `value`; ValueError saying what is allowed otherwise."""
    if isinstance(value, str) and value in ROLE_NAMES:
        return AccessRole(value)
    raise ValueError(f"must be one of {', '.join(ROLE_NAMES)}")


def clean_token_name(name: str) -> str:
    """The name with surrounding spaces removed; ValueError if it is not a usable name."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("must not be empty")
    if len(cleaned) > MAX_TOKEN_NAME_LENGTH:
        raise ValueError(f"must be at most {MAX_TOKEN_NAME_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise ValueError("must not contain control characters")
    return cleaned


def generate_token_secret() -> str:
    """A new random token: the prefix and 32 random bytes, URL-safe (47 characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    """The stored form of a token: SHA-256, hex. Tokens are random, so no salt is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def could_be_token(secret: str) -> bool:
    """A cheap check before any lookup: our prefix and a sane length."""
    return secret.startswith(TOKEN_PREFIX) and len(secret) <= MAX_TOKEN_LENGTH


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A stored token as people may see it: never the secret, never its hash."""

    id: int
    name: str
    role: AccessRole
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_json(self) -> dict[str, Any]:
        """The token's fields for the API and `token list --json`; times in ISO 8601, UTC."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "last_used_at": _iso(self.last_used_at),
        }


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever made a request: the token it authenticated with (audit records `name`)."""

    token_id: int
    name: str
    role: AccessRole


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
