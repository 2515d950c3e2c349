"""Message channels: one small protocol (`base`), one module per way of reaching people.

`open_channels` picks the SMS and e-mail channel from the settings; the caller closes both.
"""

from __future__ import annotations

import aiohttp

from dispatcher.channels.base import (
    EmailChannel,
    Outcome,
    OutgoingEmail,
    OutgoingSms,
    ProviderUnavailable,
    SendResult,
    SmsChannel,
)
from dispatcher.channels.sandbox import SandboxEmailChannel, SandboxSmsChannel
from dispatcher.channels.smtp_email import SmtpEmailChannel
from dispatcher.channels.twilio_errors import (
    PERMANENT_CODES,
    classify_twilio_error,
    is_permanent_delivery_error,
)
from dispatcher.channels.twilio_sms import TwilioSmsChannel
from dispatcher.clock import Clock, SystemClock
from dispatcher.settings import Settings
from dispatcher.store.database import Database


async def open_channels(
    settings: Settings,
    db: Database,
    session: aiohttp.ClientSession | None = None,
    clock: Clock | None = None,
) -> tuple[SmsChannel, EmailChannel]:
    """The configured SMS and e-mail channels. Call inside the running loop (a startup hook).

    `session` is shared with the Twilio client if given (and then left open by it);
    `clock` stamps sandbox messages.
    """
    clock = clock or SystemClock()
    sms: SmsChannel
    email: EmailChannel
    if settings.sms.provider == "twilio":
        sms = TwilioSmsChannel(settings.sms.twilio, settings.service.public_url, session)
    else:
        sms = SandboxSmsChannel(db, clock)
    if settings.email.provider == "smtp":
        email = SmtpEmailChannel(settings.email)
    else:
        email = SandboxEmailChannel(db, clock, settings.email.from_address)
    return sms, email


__all__ = [
    "PERMANENT_CODES",
    "EmailChannel",
    "Outcome",
    "OutgoingEmail",
    "OutgoingSms",
    "ProviderUnavailable",
    "SendResult",
    "SmsChannel",
    "classify_twilio_error",
    "is_permanent_delivery_error",
    "open_channels",
]
