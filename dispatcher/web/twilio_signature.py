"""Checking that a webhook request really comes from Twilio (`X-Twilio-Signature`).

Twilio signs the URL it called plus the sorted POST parameters with the account's auth
token (HMAC-SHA1, base64). The URL is rebuilt from the configured `public_url` and the
request's path and query as they arrived, never from `request.url`: behind a proxy the
scheme and host the service sees are not the ones Twilio called (tech-notes, "Twilio
webhooks"). Used by every Twilio webhook: `form = await twilio_form(request)`.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from dispatcher.web import SETTINGS
from dispatcher.web.middleware import bad_request, json_error

log = structlog.get_logger(__name__)


def signed_url(public_url: str, path_qs: str) -> str:
    """The URL Twilio signed: the configured public address plus the path and query called.

    `path_qs` is the raw (still percent-encoded) form, as Twilio sent it on the request line:
    Twilio signs the URL string it was given, so a decoded `%2B` would no longer match.
    """
    return public_url.rstrip("/") + path_qs


def _forbidden(reason: str, request: web.Request, **details: str) -> web.HTTPForbidden:
    log.warning("twilio webhook refused", reason=reason, path=request.path, **details)
    return json_error(web.HTTPForbidden, reason)


async def twilio_form(request: web.Request) -> MultiDictProxy[str]:
    """The webhook's form parameters, once its signature is proven; otherwise raise a JSON 403.

    Nothing is changed by a refused request: callers act only on what this returns.
    """
    settings = request.app[SETTINGS]
    if settings.sms.provider != "twilio":  # no auth token to check a signature against
        raise _forbidden("webhooks need [sms] provider = 'twilio'", request)
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not signature:
        raise _forbidden(f"missing {SIGNATURE_HEADER}", request)
    try:
        posted = await request.post()
    except web.HTTPException:  # too large: aiohttp's own answer (413) stands
        raise
    except Exception:  # a broken body (e.g. multipart without a boundary): not Twilio's
        raise bad_request("body", "not a form-encoded Twilio webhook") from None
    form: MultiDict[str] = MultiDict()
    for name, value in posted.items():
        if not isinstance(value, str):  # an uploaded file: Twilio posts plain form fields
            raise _forbidden("not a Twilio webhook (file upload)", request)
        form.add(name, value)
    url = signed_url(settings.service.public_url, request.rel_url.raw_path_qs)
    if not RequestValidator(settings.sms.twilio.auth_token).validate(url, form, signature):
        # The URL goes to the log, where an operator can compare it with Twilio's console.
        raise _forbidden(f"{SIGNATURE_HEADER} does not match", request, signed_url=url)
    return MultiDictProxy(form)
