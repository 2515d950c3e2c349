"""Twilio's error codes, classified once (see tech-notes: "Error classes").

Pure: no I/O, no twilio import. Used for API answers (`classify_twilio_error`) and for
the error code of an `undelivered`/`failed` status callback
(`is_permanent_delivery_error`).
"""

from __future__ import annotations

from dispatcher.channels.base import Outcome

# Worth trying again: 20429 concurrency limit, 21611 / 30001 queue full,
# 30003 handset unreachable for now, 30008 unknown (the dispatcher limits the retries).
TEMPORARY_CODES: frozenset[int] = frozenset({20429, 21611, 30001, 30003, 30008})

# 20003 (HTTP 401): Twilio rejected our credentials. A fault in our configuration, not in
# the recipient's number: temporary, so messages wait for the fix instead of every number
# being listed as bad. The channel logs it as an error (`is_credentials_error`).
CREDENTIALS_CODE = 20003

# A retry to this number will fail too: 21211 invalid To, 21610 recipient sent STOP,
# 21614 not SMS-capable, 21635 landline, 30005 unknown handset,
# 30006 landline or unreachable carrier, 30007 carrier filtering.
PERMANENT_CODES: frozenset[int] = frozenset({21211, 21610, 21614, 21635, 30005, 30006, 30007})


def _as_code(code: int | str | None) -> int | None:
    if code is None or isinstance(code, int):
        return code
    text = code.strip()
    return int(text) if text.isdigit() else None


def classify_twilio_error(status: int, code: int | str | None) -> Outcome:
    """The outcome of a Twilio API error answer with HTTP `status` and Twilio `code`.

    Known codes decide first; then 401 (bad credentials), 429 and 5xx are temporary, any
    other 4xx permanent, and anything else (no status, a redirect) temporary.
    """
    number = _as_code(code)
    if number in PERMANENT_CODES:
        return Outcome.PERMANENT
    if number in TEMPORARY_CODES or is_credentials_error(status, number):
        return Outcome.TEMPORARY
    if status == 429 or status >= 500:
        return Outcome.TEMPORARY
    if 400 <= status < 500:
        return Outcome.PERMANENT
    return Outcome.TEMPORARY


def is_credentials_error(status: int, code: int | str | None) -> bool:
    """Whether Twilio refused the request because our account SID or auth token is wrong."""
    return status == 401 or _as_code(code) == CREDENTIALS_CODE


def is_permanent_delivery_error(code: int | str | None) -> bool:
    """Whether a status callback's `ErrorCode` means this number will never work."""
    return _as_code(code) in PERMANENT_CODES
