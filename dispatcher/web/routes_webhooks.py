"""Twilio's webhooks: `POST /webhooks/twilio/status` (a message's delivery status) and
`POST /webhooks/twilio/sms` (an inbound SMS: an answer to a call-up, or not).

Authenticated by Twilio's signature (`twilio_signature`), not by a token. The handler
records the report in one small transaction and answers at once with empty TwiML (Twilio
waits at most 15 s); what the report sets off (an e-mail instead of a refused SMS) is
left to the dispatcher, which is woken for it.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from dispatcher.answer_desk import InboundSms
from dispatcher.channels.twilio_sms import STATUS_CALLBACK_PATH
from dispatcher.clock import to_millis
from dispatcher.store.message_status import Change, StatusReport, record_status_report
from dispatcher.web import ANSWER_DESK, CALLUP_MESSAGES, CLOCK, DATABASE, DISPATCHER
from dispatcher.web.auth import public
from dispatcher.web.middleware import bad_request
from dispatcher.web.twilio_signature import twilio_form

log = structlog.get_logger(__name__)

INBOUND_SMS_PATH = "/webhooks/twilio/sms"


def twiml(response: MessagingResponse | None = None) -> web.Response:
    """A TwiML answer; an empty `<Response/>` makes Twilio send nothing."""
    body = str(response if response is not None else MessagingResponse())
    return web.Response(text=body, content_type="application/xml")


@public  # the X-Twilio-Signature check in twilio_form is the authentication
async def message_status(request: web.Request) -> web.Response:
    """Record a status callback; 200 with empty TwiML whatever it changed (even nothing)."""
    form = await twilio_form(request)
    fields = {name: form.get(name, "").strip() for name in ("MessageSid", "MessageStatus")}
    for name, value in fields.items():
        if not value:
            raise bad_request(name, "missing")
    report = StatusReport(
        fields["MessageSid"],
        fields["MessageStatus"].lower(),
        form.get("ErrorCode", "").strip() or None,
    )
    app = request.app
    result = await record_status_report(
        app[DATABASE],
        report,
        now_ms=to_millis(app[CLOCK].now()),
        composer=app[CALLUP_MESSAGES],
    )
    if result.fallback_queued:
        app[DISPATCHER].wake()  # the e-mail replacing a refused SMS goes now
    event = log.warning if result.change is Change.UNKNOWN_MESSAGE else log.info
    event(
        "twilio status callback",
        message_sid=report.provider_id,
        message_id=result.message_id,
        callup_id=result.callup_id,
        activation_id=result.activation_id,
        status=report.status,
        error_code=report.error_code,
        change=result.change.value,
        previous=result.previous.value if result.previous is not None else None,
        fallback_queued=result.fallback_queued,
    )
    return twiml()


@public  # the X-Twilio-Signature check in twilio_form is the authentication
async def inbound_sms(request: web.Request) -> web.Response:
    """Store, apply and answer an inbound SMS. The TwiML answer goes back only after the
    message (and the answer it records) is committed."""
    form = await twilio_form(request)
    fields = {name: form.get(name, "").strip() for name in ("MessageSid", "From")}
    for name, value in fields.items():
        if not value:
            raise bad_request(name, "missing")
    sms = InboundSms(
        provider_id=fields["MessageSid"],
        sender=fields["From"],
        body=form.get("Body", ""),
        provider_opt=form.get("OptOutType", "").strip() or None,
    )
    handled = await request.app[ANSWER_DESK].handle_sms(sms)
    response = MessagingResponse()
    if handled.reply:
        response.message(handled.reply)
    return twiml(response)


def add_routes(app: web.Application) -> None:
    app.router.add_post(STATUS_CALLBACK_PATH, message_status)
    app.router.add_post(INBOUND_SMS_PATH, inbound_sms)
