"""Signed answer links in call-up e-mails: the link itself is the right to answer one call-up.

A token names a call-up by (activation id, person id). That pair is unique per call-up (the
`callups` table's UNIQUE constraint, also for reserves called later) and is known before
the call-up row exists, so a declaration renders its e-mails, links included, before the
insert, and the fallback and reminder e-mails sign the same pair from the call-up snapshot.
The page resolves the pair to the call-up when it is used.

Token: URL-safe base64 (no padding) of `version | len(activation_id) | activation_id |
person_id | tag`, where tag is HMAC-SHA256 under the service key over a purpose label and
everything before it, truncated to 128 bits (the usual length for a MAC tag: forging one
takes ~2^128 tries). The ids are readable, not secret (the person id is an employee
number: the roster import refuses personal identity numbers); without the key nobody can
make a token for another call-up. Anything that is not exactly a token we made (tampered,
truncated, another key, another version, a non-canonical encoding) verifies as None.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field

VERSION = 1
TAG_BYTES = 16
MAX_TOKEN_CHARS = 400  # far above any real token; longer input is not even decoded
ANSWER_PATH = "/answer/"

_LINK_PURPOSE = b"krisdispatch answer link\x00"
_FORM_PURPOSE = b"krisdispatch answer form\x00"  # the hidden field on the answer page
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class AnswerRef:
    """The call-up a token answers: one person in one activation."""

    activation_id: str
    person_id: str


def _tag(key: bytes, purpose: bytes, data: bytes) -> bytes:
    if not key:
        raise ValueError("the answer link key must not be empty")
    return hmac.new(key, purpose + data, hashlib.sha256).digest()[:TAG_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(token: str) -> bytes | None:
    """The bytes of a canonical unpadded URL-safe base64 string, else None."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS or not _TOKEN_SHAPE.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # The last character may carry unused bits: only the one spelling we make is accepted,
    # so a changed character never decodes to the same token.
    return raw if _encode(raw) == token else None


def sign(activation_id: str, person_id: str, key: bytes) -> str:
    """The token for one person's call-up in one activation."""
    activation = activation_id.encode("utf-8")
    person = person_id.encode("utf-8")
    if not 0 < len(activation) < 256 or not person:
        raise ValueError("an answer link needs an activation id (1–255 bytes) and a person id")
    payload = bytes((VERSION, len(activation))) + activation + person
    return _encode(payload + _tag(key, _LINK_PURPOSE, payload))


def verify(token: str, key: bytes) -> AnswerRef | None:
    """The call-up a token names, or None if the token is not one `sign` made with `key`."""
    raw = _decode(token)
    if raw is None or len(raw) < 2 + TAG_BYTES:
        return None
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(key, _LINK_PURPOSE, payload)):
        return None
    version, length = payload[0], payload[1]
    if version != VERSION or length == 0 or len(payload) <= 2 + length:
        return None
    try:
        activation = payload[2 : 2 + length].decode("utf-8")
        person = payload[2 + length :].decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - `sign` only signs valid UTF-8
        return None
    return AnswerRef(activation, person)


def form_proof(token: str, key: bytes) -> str:
    """The value of the answer page's hidden field for this token (see `proof_matches`)."""
    return _encode(_tag(key, _FORM_PURPOSE, token.encode("utf-8")))


def proof_matches(token: str, proof: str, key: bytes) -> bool:
    """Whether a posted form carries the hidden field the answer page put in it."""
    return hmac.compare_digest(proof.encode("utf-8"), form_proof(token, key).encode("ascii"))


@dataclass(frozen=True, slots=True)
class AnswerLinks:
    """Answer links under one public address and key: made for e-mails, read by the page."""

    public_url: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("the answer link key must not be empty")

    def url(self, activation_id: str, person_id: str) -> str:
        """`{public_url}/answer/{token}`: the link a call-up e-mail carries."""
        token = sign(activation_id, person_id, self.key)
        return self.public_url.rstrip("/") + ANSWER_PATH + token

    def read(self, token: str) -> AnswerRef | None:
        return verify(token, self.key)

    def form_proof(self, token: str) -> str:
        return form_proof(token, self.key)

    def proof_matches(self, token: str, proof: str) -> bool:
        return proof_matches(token, proof, self.key)
