"""SMS through Twilio's REST API, with the real `twilio` library's async client.

`RoutedTwilioHttpClient` adds what the library lacks: every request goes to the
configured `api_base` (scheme and host replaced, path kept, so neither a test fake nor
`TWILIO_REGION`/`TWILIO_EDGE` can send it anywhere else); every request has a deadline
(the library's own timeout is never applied, tech-notes); and Basic auth is sent as a
header we build, because the library's `aiohttp.BasicAuth` is deprecated since aiohttp 3.14
(a DeprecationWarning per request). Its retries are never used: a retried POST can send
an SMS twice; the dispatcher decides what to retry.
"""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from dispatcher.channels.base import (
    Outcome,
    OutgoingSms,
    ProviderUnavailable,
    SendResult,
)
from dispatcher.channels.twilio_errors import classify_twilio_error, is_credentials_error
from dispatcher.settings import TwilioSettings

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
CREDENTIALS_REJECTED = (
    "Twilio rejected the credentials: check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN"
)
_TWILIO_ERRORS = (TwilioRestException, TwilioServiceException)

log = structlog.get_logger(__name__)


@dataclass
class _ResponseCapture:
    headers: Mapping[str, str] | None = None


# The library's exceptions drop the response headers, but 429's Retry-After is in them.
# `send` puts a fresh capture in this context variable; the HTTP client, awaited in the
# same task, fills it in. A context variable (not an attribute) keeps concurrent sends apart.
_LAST_RESPONSE: ContextVar[_ResponseCapture | None] = ContextVar("twilio_response", default=None)


class RoutedTwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio has no type hints
    """The library's aiohttp client, sent to `api_base` and bounded by `timeout_seconds`.

    Uses `session` if given (and leaves it open), otherwise opens its own and closes it in
    `close()`. Create it inside the running loop.
    """

    def __init__(
        self, api_base: str, timeout_seconds: float, session: aiohttp.ClientSession | None = None
    ) -> None:
        super().__init__(pool_connections=False)  # no session of its own: we supply one
        self._owns_session = session is None
        self.session = session if session is not None else aiohttp.ClientSession()
        base = urlsplit(api_base)
        self._scheme, self._netloc = base.scheme, base.netloc
        self._deadline = timeout_seconds

    async def request(  # noqa: PLR0917  # the library's signature, called positionally
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # ignored: our deadline applies
        allow_redirects: bool = False,
    ) -> Response:
        routed = urlunsplit(urlsplit(url)._replace(scheme=self._scheme, netloc=self._netloc))
        headers = dict(headers or {})
        if auth is not None:  # the library would build aiohttp.BasicAuth, deprecated in 3.14
            headers["Authorization"] = _basic_authorization(*auth)
        async with asyncio.timeout(self._deadline):
            response: Response = await super().request(
                method, routed, params, data, headers, None, None, allow_redirects
            )
        capture = _LAST_RESPONSE.get()
        if capture is not None:
            capture.headers = response.headers
        return response

    async def close(self) -> None:
        if self._owns_session:
            await self.session.close()


def _basic_authorization(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


class TwilioSmsChannel:
    """`SmsChannel` over Twilio. Create inside the running loop; `await close()` on shutdown."""

    def __init__(
        self,
        settings: TwilioSettings,
        public_url: str,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._timeout = settings.timeout_seconds
        self._http = RoutedTwilioHttpClient(settings.api_base, settings.timeout_seconds, session)
        client = Client(settings.account_sid, settings.auth_token, http_client=self._http)
        client.edge = client.region = None  # ignore TWILIO_EDGE / TWILIO_REGION
        self._messages: Any = client.messages
        self._fields: dict[str, object] = {
            "status_callback": public_url.rstrip("/") + STATUS_CALLBACK_PATH,
            "validity_period": settings.validity_period_seconds,
        }
        if settings.from_number:
            self._fields["from_"] = settings.from_number
        else:
            self._fields["messaging_service_sid"] = settings.messaging_service_sid

    async def send(self, sms: OutgoingSms) -> SendResult:
        """Create the message at Twilio; classify whatever goes wrong (see `base`).

        A timeout or a connection lost after the request went out is TEMPORARY with
        `may_have_sent`: Twilio may have created the message, so the dispatcher asks
        `find_sent` before sending it again.
        """
        capture = _ResponseCapture()
        token = _LAST_RESPONSE.set(capture)
        try:
            message = await self._messages.create_async(to=sms.to, body=sms.body, **self._fields)
        except _TWILIO_ERRORS as error:
            return _error_result(error.status, error.code, str(error.msg), capture.headers)
        except TimeoutError:
            return SendResult.temporary(
                f"no answer from Twilio within {self._timeout:g} s",
                error_code="timeout",
                may_have_sent=True,
            )
        except aiohttp.ClientConnectorError as error:  # never connected: nothing was sent
            return SendResult.temporary(f"cannot reach Twilio: {error}", error_code="connect")
        except (aiohttp.ClientError, OSError, ValueError) as error:  # ValueError: bad JSON
            return SendResult.temporary(
                f"Twilio request failed: {type(error).__name__}: {error}"[:300],
                error_code="connection",
                may_have_sent=True,
            )
        finally:
            _LAST_RESPONSE.reset(token)
        return SendResult.sent(str(message.sid), str(message.status))

    async def find_sent(self, to: str, since: datetime) -> list[str]:
        """SIDs of messages to `to` that Twilio created at or after `since`.

        Twilio filters lists by `DateSent`, which stays empty while a message is queued,
        so the most recent messages to the number are read as well; both are then
        filtered on `date_created`. Twilio's times are whole seconds on Twilio's clock:
        `since` is rounded down to the second; callers allow for clock skew.
        """
        start = since.astimezone(UTC).replace(microsecond=0)
        try:
            by_date = await self._messages.list_async(
                to=to, date_sent_after=start, limit=100, page_size=100
            )
            recent = await self._messages.list_async(to=to, limit=20, page_size=20)
        except (TwilioException, TimeoutError, aiohttp.ClientError, OSError, ValueError) as error:
            detail = f"Twilio cannot answer: {type(error).__name__}: {error}"[:300]
            raise ProviderUnavailable(detail) from error
        found: dict[str, None] = {}  # ordered set
        for message in [*by_date, *recent]:
            created = message.date_created
            # Only messages we created through the API: Twilio's own TwiML replies to the
            # person's answers ("outbound-reply") are not call-ups.
            direction = str(getattr(message, "direction", "") or "outbound-api")
            if direction == "outbound-api" and isinstance(created, datetime) and created >= start:
                found[str(message.sid)] = None
        return list(found)

    async def close(self) -> None:
        await self._http.close()


def _error_result(
    status: int, code: int | str | None, message: str, headers: Mapping[str, str] | None
) -> SendResult:
    detail = f"Twilio {status} {code}: {message}"[:300]
    error_code = str(code) if code is not None else str(status)
    if is_credentials_error(status, code):  # our configuration, not the number: say it loudly
        log.error(CREDENTIALS_REJECTED, status=status, error_code=error_code)
    if classify_twilio_error(status, code) is Outcome.PERMANENT:
        return SendResult.permanent(detail, error_code=error_code)
    retry_after = parse_retry_after(headers.get("Retry-After") if headers else None)
    return SendResult.temporary(detail, error_code=error_code, retry_after=retry_after)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
