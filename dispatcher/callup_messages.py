"""Turning call-ups into outbox messages: the one place that renders a call-up for a channel.

Used at declaration (the first message of each call-up) and by the dispatcher when a
channel fails for good (the e-mail that replaces a refused SMS), so both read the same.
Every call-up e-mail carries the person's signed answer link when links are configured.
"""

from __future__ import annotations

import functools
import string

from dispatcher.domain.answer_links import AnswerLinks
from dispatcher.domain.messages import (
    ActivationText,
    CallUpText,
    MessageKind,
    RenderedEmail,
    RenderedSms,
    Templates,
    render_callup_email,
    render_callup_sms,
)
from dispatcher.store.callups import CallUpSnapshot
from dispatcher.store.outbox import NewMessage


class CallUpMessages:
    """Renders call-up messages with the configured templates and municipality."""

    def __init__(
        self, templates: Templates, municipality: str, *, answer_links: AnswerLinks | None = None
    ) -> None:
        self._templates = templates
        self._municipality = municipality
        self._answer_links = answer_links
        # Call-ups to one unit read the same unless a template names the person: render each
        # distinct text once (100,000 call-ups to 4,000 units render 4,000 SMS, not 100,000).
        self._sms = functools.lru_cache(maxsize=65536)(self._render_sms)
        self._email = functools.lru_cache(maxsize=4096)(self._render_email)
        self._sms_names_person = "person_name" in _fields(templates.texts[MessageKind.CALLUP_SMS])

    def _render_sms(self, text: CallUpText) -> RenderedSms:
        return render_callup_sms(self._templates, text)

    def _render_email(self, text: CallUpText) -> RenderedEmail:
        return render_callup_email(self._templates, text)

    @property
    def templates(self) -> Templates:
        return self._templates

    @property
    def municipality(self) -> str:
        return self._municipality

    @property
    def answer_links(self) -> AnswerLinks | None:
        return self._answer_links

    def answer_url(self, activation_id: str, person_id: str) -> str:
        """The person's answer link for an e-mail about this call-up; "" without links."""
        if self._answer_links is None:
            return ""
        return self._answer_links.url(activation_id, person_id)

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
        person_id: str,
        person_name: str,
        unit_name: str,
        unit_address: str,
        reply_code: str,
        channel: str,
        address: str,
    ) -> NewMessage:
        if channel == "sms":
            # Without the person's name in it, the SMS reads the same for everyone at the unit.
            name = person_name if self._sms_names_person else ""
            sms = self._sms(CallUpText(activation, name, unit_name, unit_address, reply_code))
            return NewMessage(
                activation_id, callup_id, "sms", "callup", address, sms.text, segments=sms.segments
            )
        email = self._email(
            CallUpText(
                activation,
                person_name,
                unit_name,
                unit_address,
                reply_code,
                self.answer_url(activation_id, person_id),
            )
        )
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
            person_id=callup.person_id,
            person_name=callup.person_name,
            unit_name=callup.unit_name,
            unit_address=callup.unit_address,
            reply_code=callup.reply_code,
            channel=channel,
            address=address,
        )


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
