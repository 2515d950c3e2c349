"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

    with running_smtp_server() as smtp:
        settings = {"email": {"provider": "smtp", "host": smtp.host, "port": smtp.port}}
        ...
        assert smtp.messages_to("anna@example.se")[0]["Subject"] == "…"

`smtp.refuse(address, "550 5.1.1 No such user")` makes it refuse one recipient at RCPT.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

PERMANENT_REFUSAL = "550 5.1.1 Mailbox unavailable"
TEMPORARY_REFUSAL = "451 4.3.0 Try again later"


@dataclass
class RecordingHandler:
    """aiosmtpd handler: refuses the addresses in `refused`, records every accepted message."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)  # (MAIL FROM, RCPT TO)
    refused: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply

    async def handle_RCPT(  # aiosmtpd calls the hooks by these names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = (envelope.original_content or envelope.content).replace(b"\r\n", b"\n")
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def refuse(self, address: str, reply: str = PERMANENT_REFUSAL) -> None:
        self.handler.refused[address] = reply


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (aiosmtpd's readiness probe cannot use port 0)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp_server(host: str = "127.0.0.1") -> Iterator[SmtpServer]:
    """Start an SMTP server in its own thread for the duration of the block."""
    handler = RecordingHandler()
    port = free_port(host)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    try:
        yield SmtpServer(host, port, handler)
    finally:
        controller.stop()
