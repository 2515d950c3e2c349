"""Turning call-ups into outbox messages: the one place that renders a call-up for a channel.

Used at declaration (the first message of each call-up) and by the dispatcher when a
channel fails for good (the e-mail that replaces a refused SMS), so both read the same.
"""

from __future__ import annotations

from dispatcher.domain.messages import (
    ActivationText,
    CallUpText,
    Templates,
    render_callup_email,
    render_callup_sms,
)
from dispatcher.store.callups import CallUpSnapshot
from dispatcher.store.outbox import NewMessage


class CallUpMessages:
    """Renders call-up messages with the configured templates and municipality."""

    def __init__(self, templates: Templates, municipality: str) -> None:
        self._templates = templates
        self._municipality = municipality

    @property
    def templates(self) -> Templates:
        return self._templates

    def activation_text(self, kind: str, title: str, message: str) -> ActivationText:
        return ActivationText(
            municipality=self._municipality, title=title, drill=kind == "drill", message=message
        )

    def render(
        self,
        activation: ActivationText,
        *,
        activation_id: str,
        callup_id: int,
        person_name: str,
        unit_name: str,
        unit_address: str,
        reply_code: str,
        channel: str,
        address: str,
    ) -> NewMessage:
        text = CallUpText(activation, person_name, unit_name, unit_address, reply_code)
        if channel == "sms":
            sms = render_callup_sms(self._templates, text)
            return NewMessage(
                activation_id, callup_id, "sms", "callup", address, sms.text, segments=sms.segments
            )
        email = render_callup_email(self._templates, text)
        return NewMessage(
            activation_id,
            callup_id,
            "email",
            "callup",
            address,
            email.text,
            subject=email.subject,
            html=email.html,
        )

    def compose(self, callup: CallUpSnapshot, channel: str) -> NewMessage | None:
        """The call-up message for `channel`, or None when the person has no such address."""
        address = callup.sms_number if channel == "sms" else callup.email
        if not address:
            return None
        activation = self.activation_text(
            callup.activation_kind, callup.activation_title, callup.activation_message
        )
        return self.render(
            activation,
            activation_id=callup.activation_id,
            callup_id=callup.id,
            person_name=callup.person_name,
            unit_name=callup.unit_name,
            unit_address=callup.unit_address,
            reply_code=callup.reply_code,
            channel=channel,
            address=address,
        )
