"""The sandbox channels (the default): every message is stored, nothing leaves the machine.

What they "sent" is in table `sandbox_messages`, listed by `list_sandbox_messages` (for
`dispatcher sandbox messages` and the sandbox pages). Each send is its own transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from dispatcher.channels.base import OutgoingEmail, OutgoingSms, SendResult
from dispatcher.channels.smtp_email import make_message_id
from dispatcher.clock import Clock, from_millis, to_millis
from dispatcher.store.database import Database

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
            "SELECT provider_id FROM sandbox_messages"
            " WHERE channel = 'sms' AND recipient = ? AND created_at >= ? ORDER BY id",
            (to, to_millis(since)),
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
