"""The SMTP e-mail channel against a real aiosmtpd server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dispatcher.channels import Outcome, OutgoingEmail
from dispatcher.channels.smtp_email import SmtpEmailChannel
from dispatcher.settings import EmailSettings, settings_from_mapping
from tests.fakes.smtp_server import (
    PERMANENT_REFUSAL,
    TEMPORARY_REFUSAL,
    SmtpServer,
    free_port,
    running_smtp_server,
)

ANNA = "anna.oberg@example.se"
SUBJECT = "Inkallelse: kris i Exempelkommun – Åsa, Örjan och Ängelholms förskola"
TEXT = "Hej Anna!\nDu kallas till Centrumskolan, Storgatan 1.\nSvara JA om du kommer."
HTML = "<p>Hej Anna!</p><p>Du kallas till <b>Centrumskolan</b>.</p>"


def email_settings(port: int, **email: Any) -> EmailSettings:
    section = {
        "provider": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "from_address": "kris@exempelkommun.se",
        "timeout_seconds": 5.0,
        **email,
    }
    return settings_from_mapping({"email": section}, {}).email


def callup(to: str = ANNA, html: str | None = HTML) -> OutgoingEmail:
    return OutgoingEmail(message_id=7, to=to, subject=SUBJECT, text=TEXT, html=html)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


async def test_text_and_html_alternative_with_a_swedish_subject(smtp: SmtpServer) -> None:
    result = await SmtpEmailChannel(email_settings(smtp.port)).send(callup())
    [received] = smtp.messages_to(ANNA)
    assert result.outcome is Outcome.SENT
    assert result.provider_id == received["Message-ID"]
    assert received["Subject"] == SUBJECT
    assert received["From"] == "kris@exempelkommun.se"
    assert received.get_content_type() == "multipart/alternative"
    plain, html = received.get_body(("plain",)), received.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().rstrip("\n") == TEXT
    assert html.get_content().rstrip("\n") == HTML
    assert str(result.provider_id).startswith("<krisdispatch.7.")
    assert str(result.provider_id).endswith("@exempelkommun.se>")
    assert smtp.handler.envelopes == [("kris@exempelkommun.se", [ANNA])]


async def test_text_only_is_a_single_part(smtp: SmtpServer) -> None:
    result = await SmtpEmailChannel(email_settings(smtp.port)).send(callup(html=None))
    [received] = smtp.messages
    assert result.outcome is Outcome.SENT
    assert received.get_content_type() == "text/plain"
    assert received.get_content().rstrip("\n") == TEXT


async def test_each_message_gets_its_own_message_id(smtp: SmtpServer) -> None:
    channel = SmtpEmailChannel(email_settings(smtp.port))
    first, second = await channel.send(callup()), await channel.send(callup())
    assert first.provider_id != second.provider_id


@pytest.mark.parametrize(
    ("reply", "outcome", "code"),
    [(PERMANENT_REFUSAL, Outcome.PERMANENT, "550"), (TEMPORARY_REFUSAL, Outcome.TEMPORARY, "451")],
)
async def test_refused_recipient_is_classified_by_reply_code(
    smtp: SmtpServer, reply: str, outcome: Outcome, code: str
) -> None:
    smtp.refuse(ANNA, reply)
    result = await SmtpEmailChannel(email_settings(smtp.port)).send(callup())
    assert (result.outcome, result.error_code) == (outcome, code)
    assert smtp.messages == []


async def test_server_down_is_temporary() -> None:
    result = await SmtpEmailChannel(email_settings(free_port())).send(callup())
    assert (result.outcome, result.error_code) == (Outcome.TEMPORARY, "connection")


async def test_starttls_the_server_lacks_is_a_temporary_configuration_fault(
    smtp: SmtpServer,
) -> None:
    settings = email_settings(smtp.port, security="starttls")
    result = await SmtpEmailChannel(settings).send(callup())
    assert result.outcome is Outcome.TEMPORARY
    assert smtp.messages == []
