"""Signed inbound SMS as Twilio posts them, and the proof that each answered one is stored.

`ReplyMaker.requests(count)` builds a run's requests before any timing: form fields as
Twilio sends them (and as `tests/fakes/twilio_api.py` does), signed with
`RequestValidator(auth_token).compute_signature(public_url + path, params)`, from the
people actually called (their E.164 numbers, read from the call-ups), in a seeded mix of
`JA`, `ja 45`, `nej sjuk`, garbage, and repeats of an earlier request with the same
`MessageSid` (Twilio retrying a webhook). Each request is tagged with its `MessageSid`.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from _bench.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from _bench.minimal import INBOUND_PATH
from _bench.served import SERVICE_NUMBER
from dispatcher.domain.sms_text import sms_segments

GARBAGE = ("Vad gäller det?", "ok", "Hej! Ring mig", "???", "jag vet inte 🙂", "Tack")
DUPLICATE = "duplicate"
# (what is sent, share of requests)
MIX: tuple[tuple[str, int], ...] = (
    ("JA", 40),
    ("ja 45", 20),
    ("nej sjuk", 20),
    ("garbage", 10),
    (DUPLICATE, 10),
)
# A repeat goes at least this many requests after its original (Twilio retries after a
# timeout), so that with 64 connections the original has usually been answered.
DUPLICATE_DISTANCE = 200


def senders(database: Path, activation_id: str) -> list[str]:
    """The E.164 numbers of everyone called by SMS in the activation, in call-up order."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT sms_number FROM callups WHERE activation_id = ? AND sms_number IS NOT NULL"
            " ORDER BY id",
            (activation_id,),
        ).fetchall()
    return [str(row[0]) for row in rows]


@dataclass
class ReplyMaker:
    """Makes the signed requests of successive runs; the people answer in a seeded random
    order, each in turn, so a later run is everyone changing their mind once more."""

    numbers: list[str]
    public_url: str
    seed: int = 2026

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._rng.shuffle(self.numbers)
        self._next_sender = 0
        self._url = self.public_url.rstrip("/") + INBOUND_PATH
        self._validator = RequestValidator(AUTH_TOKEN)
        self._kinds = [kind for kind, _ in MIX]
        self._weights = [share for _, share in MIX]

    def requests(self, count: int) -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = []
        for index in range(count):
            kind = self._rng.choices(self._kinds, self._weights)[0]
            if kind == DUPLICATE and index >= DUPLICATE_DISTANCE:
                made.append(made[self._rng.randrange(index - DUPLICATE_DISTANCE + 1)])
                continue
            if kind in (DUPLICATE, "garbage"):
                kind = self._rng.choice(GARBAGE)
            made.append(self._signed(self._sender(), kind))
        return made

    def _sender(self) -> str:
        number = self.numbers[self._next_sender % len(self.numbers)]
        self._next_sender += 1
        return number

    def _signed(self, sender: str, body: str) -> dict[str, Any]:
        sid = f"SM{self._rng.getrandbits(128):032x}"
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": sender,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(sms_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": SERVICE_NUMBER,
        }
        signature = self._validator.compute_signature(self._url, params)
        return {
            "method": "POST",
            "path": INBOUND_PATH,
            "headers": {
                SIGNATURE_HEADER: signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "body": urlencode(params),
            "tag": sid,
        }


@dataclass(frozen=True, slots=True)
class Stored:
    """What the service's database holds of the inbound messages."""

    missing: list[str]  # answered with 200 but not in inbound_messages
    outcomes: Counter[str]


def check_stored(database: Path, answered: Iterable[str]) -> Stored:
    """Every `MessageSid` answered with 200 must be in `inbound_messages`. Opened for
    writing, as a restarted service would: after a SIGKILL, SQLite recovers the WAL."""
    with closing(sqlite3.connect(database)) as connection:
        stored = {
            str(row[0]) for row in connection.execute("SELECT provider_id FROM inbound_messages")
        }
        outcomes = Counter(
            {
                str(outcome): int(count)
                for outcome, count in connection.execute(
                    "SELECT outcome, COUNT(*) FROM inbound_messages GROUP BY outcome"
                )
            }
        )
    return Stored(sorted(set(answered) - stored), outcomes)
