"""The channel seam: what a message channel is given, what it answers, and its error contract.

A channel hands one message to a provider and says how it went, as a value:

- `SENT`: the provider has it (`provider_id` is its id). Delivery comes later, if at all.
- `TEMPORARY`: try again later, no sooner than `retry_after` seconds when that is set.
  If `may_have_sent` is true the request reached the provider and its answer was lost
  (a timeout or a dropped connection): the message may exist, so before resending an SMS
  ask `SmsChannel.find_sent`.
- `PERMANENT`: a retry will also fail for this address. Switch channel and tell the
  roster administrators; `error_code` says why.

Channels never raise for a failed send; `find_sent` raises `ProviderUnavailable` when
the provider cannot answer. Provider errors are classified where they are received:
Twilio's in `twilio_errors`, SMTP's in `smtp_email`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Outcome(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    message_id: int  # our outbox row id
    to: str  # E.164
    body: str


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    message_id: int  # our outbox row id
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one hand-off went. `detail` is short and safe to store and log (no secrets)."""

    outcome: Outcome
    provider_id: str | None = None
    provider_status: str | None = None
    retry_after: float | None = None
    error_code: str | None = None
    detail: str = ""
    may_have_sent: bool = False

    @classmethod
    def sent(cls, provider_id: str, provider_status: str | None = None) -> SendResult:
        return cls(Outcome.SENT, provider_id=provider_id, provider_status=provider_status)

    @classmethod
    def temporary(
        cls,
        detail: str,
        *,
        error_code: str | None = None,
        retry_after: float | None = None,
        may_have_sent: bool = False,
    ) -> SendResult:
        return cls(
            Outcome.TEMPORARY,
            retry_after=retry_after,
            error_code=error_code,
            detail=detail,
            may_have_sent=may_have_sent,
        )

    @classmethod
    def permanent(cls, detail: str, *, error_code: str | None = None) -> SendResult:
        return cls(Outcome.PERMANENT, error_code=error_code, detail=detail)


class ProviderUnavailable(RuntimeError):
    """The provider could not answer a question (not a send); try again later."""


class SmsChannel(Protocol):
    async def send(self, sms: OutgoingSms) -> SendResult:
        """Hand one SMS to the provider. Never raises for a provider failure."""
        ...

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        """Provider ids of messages created to `to` at or after `since` (crash recovery).

        Raises ProviderUnavailable if the provider cannot be asked right now.
        """
        ...

    async def close(self) -> None: ...


class EmailChannel(Protocol):
    async def send(self, email: OutgoingEmail) -> SendResult:
        """Hand one e-mail to the server. Never raises for a server failure."""
        ...

    async def close(self) -> None: ...
