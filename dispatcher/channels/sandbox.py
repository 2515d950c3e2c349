"""The sandbox channels (the default): every message is stored, nothing leaves the machine.

What they "sent" is in table `sandbox_messages`, listed by `list_sandbox_messages` (for
`dispatcher sandbox messages`) and, merged with what people answered, by `sandbox_threads`
(for the sandbox phones page). Each send is its own transaction.

Answers typed on the sandbox phones page get provider ids `SBIN` + 32 hex digits; the
automatic reply to one is recorded as a sandbox SMS with the same digits after `SBRE`
(`record_sandbox_reply`), so a thread shows each answer right before its reply. Ordinary
sends are `SB` + lowercase hex and never look like either.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias

from dispatcher.channels.base import OutgoingEmail, OutgoingSms, SendResult
from dispatcher.channels.smtp_email import make_message_id
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.store.database import Database

INBOUND_PREFIX = "SBIN"
REPLY_PREFIX = "SBRE"

_INSERT = (
    "INSERT INTO sandbox_messages (channel, recipient, subject, body, html, provider_id,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    id: int
    channel: Literal["sms", "email"]
    recipient: str
    subject: str | None
    body: str
    html: str | None
    provider_id: str
    created_at: datetime


class SandboxSmsChannel:
    """`SmsChannel` that records each SMS with a made-up SID `SB` + 32 hex digits."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def send(self, sms: OutgoingSms) -> SendResult:
        provider_id = "SB" + secrets.token_hex(16)
        now = to_millis(self._clock.now())
        async with self._db.transaction() as connection:
            await connection.execute(
                _INSERT, ("sms", sms.to, None, sms.body, None, provider_id, now)
            )
        return SendResult.sent(provider_id, "sent")

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        rows = await self._db.fetch_all(
            "SELECT provider_id FROM sandbox_messages WHERE channel = 'sms'"
            " AND recipient = ? AND created_at >= ? AND provider_id NOT LIKE ? ORDER BY id",
            (to, to_millis(since), REPLY_PREFIX + "%"),  # automatic replies are no call-ups
        )
        return [str(row["provider_id"]) for row in rows]

    async def close(self) -> None:
        """Nothing to close: the database belongs to the caller."""


class SandboxEmailChannel:
    """`EmailChannel` that records each e-mail under a unique Message-ID."""

    def __init__(self, db: Database, clock: Clock, from_address: str) -> None:
        self._db = db
        self._clock = clock
        self._from_address = from_address

    async def send(self, email: OutgoingEmail) -> SendResult:
        provider_id = make_message_id(email.message_id, self._from_address)
        now = to_millis(self._clock.now())
        async with self._db.transaction() as connection:
            await connection.execute(
                _INSERT,
                ("email", email.to, email.subject, email.text, email.html, provider_id, now),
            )
        return SendResult.sent(provider_id, "accepted")

    async def close(self) -> None:
        """Nothing to close: the database belongs to the caller."""


async def list_sandbox_messages(
    db: Database, recipient: str | None = None, limit: int = 100
) -> list[SandboxMessage]:
    """What the sandbox has "sent", newest first, optionally to one recipient only."""
    where, parameters = ("WHERE recipient = ?", [recipient]) if recipient is not None else ("", [])
    rows = await db.fetch_all(
        "SELECT id, channel, recipient, subject, body, html, provider_id, created_at"
        f" FROM sandbox_messages {where} ORDER BY id DESC LIMIT ?",
        [*parameters, limit],
    )
    return [
        SandboxMessage(
            id=row["id"],
            channel=row["channel"],
            recipient=row["recipient"],
            subject=row["subject"],
            body=row["body"],
            html=row["html"],
            provider_id=row["provider_id"],
            created_at=from_millis(row["created_at"]),
        )
        for row in rows
    ]


def new_inbound_id() -> str:
    """A provider id for an answer typed on the sandbox phones page (like Twilio's MessageSid)."""
    return INBOUND_PREFIX + secrets.token_hex(16)


async def record_sandbox_reply(
    db: Database, clock: Clock, to: str, body: str, inbound_id: str
) -> None:
    """Record the automatic reply to the sandbox answer `inbound_id` as an SMS to `to`.

    With Twilio the reply goes back as TwiML and Twilio sends it; in the sandbox it is
    kept here, so the person's thread reads like their phone.
    """
    if not inbound_id.startswith(INBOUND_PREFIX):
        raise ValueError(f"not a sandbox answer id: {inbound_id!r}")
    provider_id = REPLY_PREFIX + inbound_id.removeprefix(INBOUND_PREFIX)
    async with db.transaction() as connection:
        await connection.execute(
            _INSERT, ("sms", to, None, body, None, provider_id, to_millis(clock.now()))
        )


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One message on a person's sandbox phone or in their sandbox inbox."""

    channel: Literal["sms", "email"]
    from_person: bool  # True: what the person answered; False: what they received
    purpose: str | None  # the outbox purpose (callup, reminder, stand_down, …); "reply" for an
    # automatic reply; None for the person's own message or a message not in the outbox
    subject: str | None
    body: str
    at: datetime


Threads: TypeAlias = dict[str, list[ThreadEntry]]


async def sandbox_threads(db: Database, addresses: list[str], limit: int = 30) -> Threads:
    """Address → its messages, oldest first: the latest `limit` the sandbox sent there and,
    for a phone number, the answers received from it, each before its automatic reply."""
    if not addresses:
        return {}
    marks = ", ".join("?" * len(addresses))
    sent = await db.fetch_all(
        "SELECT s.channel, s.recipient, s.subject, s.body, s.provider_id, s.created_at,"
        " s.id, m.purpose FROM (SELECT *, ROW_NUMBER() OVER"
        " (PARTITION BY recipient ORDER BY id DESC) AS nth"
        f" FROM sandbox_messages WHERE recipient IN ({marks})) AS s"
        " LEFT JOIN messages AS m ON m.provider_id = s.provider_id"
        " WHERE s.nth <= ? ORDER BY s.id",
        [*addresses, limit],
    )
    received = await db.fetch_all(
        "SELECT sender, body, provider_id, reply, received_at, id FROM (SELECT *, ROW_NUMBER()"
        " OVER (PARTITION BY sender ORDER BY id DESC) AS nth FROM inbound_messages"
        f" WHERE channel = 'sms' AND sender IN ({marks})) WHERE nth <= ? ORDER BY id",
        [*addresses, limit],
    )
    # Sort keys: (time, rank, id, half). An answer sits right before its automatic reply;
    # any other answer after everything sent at the same moment.
    keyed: dict[str, list[tuple[tuple[int, int, int, int], ThreadEntry]]] = {}
    reply_keys: dict[str, tuple[int, int, int, int]] = {}
    for row in sent:
        provider_id = str(row["provider_id"])
        is_reply = provider_id.startswith(REPLY_PREFIX)
        purpose = "reply" if is_reply else row["purpose"]
        key = (row["created_at"], 0, row["id"], 1)
        if is_reply:
            reply_keys[INBOUND_PREFIX + provider_id.removeprefix(REPLY_PREFIX)] = key
        entry = ThreadEntry(
            row["channel"], False, purpose, row["subject"], row["body"], from_millis(key[0])
        )
        keyed.setdefault(row["recipient"], []).append((key, entry))
    for row in received:
        thread = keyed.setdefault(row["sender"], [])
        at = from_millis(row["received_at"])
        paired = reply_keys.get(str(row["provider_id"]))
        if paired is not None:
            thread.append(((*paired[:3], 0), ThreadEntry("sms", True, None, None, row["body"], at)))
            continue
        key = (row["received_at"], 1, row["id"], 0)
        thread.append((key, ThreadEntry("sms", True, None, None, row["body"], at)))
        if row["reply"]:  # answered outside the sandbox page (the webhook): reply not recorded
            thread.append(
                ((*key[:3], 1), ThreadEntry("sms", False, "reply", None, row["reply"], at))
            )
    return {
        address: [entry for _, entry in sorted(entries, key=lambda pair: pair[0])]
        for address, entries in keyed.items()
    }
