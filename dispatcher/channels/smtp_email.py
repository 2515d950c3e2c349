"""E-mail through an SMTP server with aiosmtplib: one connection per message.

Errors are classified here: a recipient or message refused with 5xx is PERMANENT (with
the reply code); 4xx, timeouts and connection trouble are TEMPORARY. Refusals that are
not about the recipient (our login, our sender address, the server's greeting) are
TEMPORARY too: they are configuration faults, and marking every address as bad for them
would fill the roster administrators' list with good addresses.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from dispatcher.channels.base import OutgoingEmail, SendResult
from dispatcher.settings import EmailSettings

# Refusals that concern the recipient or the message, not our own set-up.
_ABOUT_THE_RECIPIENT = (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)


def make_message_id(message_id: int, from_address: str) -> str:
    """`<krisdispatch.{our id}.{random}@{sender's domain}>`.

    The random part keeps a new database's message 1 from being taken (and dropped by
    the recipient's mail service) as a duplicate of an old message 1.
    """
    domain = from_address.rpartition("@")[2]
    return f"<krisdispatch.{message_id}.{secrets.token_hex(8)}@{domain}>"


def build_email(email: OutgoingEmail, from_address: str, now: datetime) -> EmailMessage:
    """The MIME message: plain text, plus an HTML alternative when there is one."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = email.to
    message["Subject"] = email.subject  # the default policy encodes Swedish as RFC 2047
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = make_message_id(email.message_id, from_address)
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


class SmtpEmailChannel:
    """`EmailChannel` over SMTP (`security`: none, starttls or tls)."""

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings

    async def send(self, email: OutgoingEmail) -> SendResult:
        settings = self._settings
        message = build_email(email, settings.from_address, datetime.now(UTC))
        message_id = str(message["Message-ID"])
        try:
            async with asyncio.timeout(settings.timeout_seconds):
                await aiosmtplib.send(
                    message,
                    hostname=settings.host,
                    port=settings.port,
                    username=settings.username or None,
                    password=settings.password or None,
                    use_tls=settings.security == "tls",
                    start_tls=settings.security == "starttls",
                    timeout=settings.timeout_seconds,
                )
        except aiosmtplib.SMTPRecipientsRefused as error:
            refusal = error.recipients[0]
            return _refused(refusal.code, refusal.message)
        except _ABOUT_THE_RECIPIENT as error:
            return _refused(error.code, error.message)
        except aiosmtplib.SMTPResponseException as error:
            return SendResult.temporary(
                f"SMTP server refused us: {error.code} {error.message}"[:300],
                error_code=str(error.code),
            )
        except TimeoutError:  # aiosmtplib.SMTPTimeoutError is one too
            return SendResult.temporary(
                f"no answer from the SMTP server within {settings.timeout_seconds:g} s",
                error_code="timeout",
                may_have_sent=True,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            return SendResult.temporary(
                f"SMTP failed: {type(error).__name__}: {error}"[:300], error_code="connection"
            )
        return SendResult.sent(message_id, "accepted")

    async def close(self) -> None:
        """Nothing to close: each message opens and closes its own connection."""


def _refused(code: int, text: str) -> SendResult:
    detail = f"SMTP {code} {text}"[:300]
    if 500 <= code < 600:
        return SendResult.permanent(detail, error_code=str(code))
    return SendResult.temporary(detail, error_code=str(code))
