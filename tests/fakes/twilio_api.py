"""A fake Twilio REST API that speaks the real protocol, for tests and benchmarks.

In-process: `server = await aiohttp_server(fake.app)`, then point `sms.twilio.api_base` at
`str(server.make_url("")).rstrip("/")`. As its own process:
`python -m tests.fakes.twilio_api --port 0 --account-sid AC… --auth-token …` prints its URL
and is driven over the `/_fake/…` control endpoints (see `_control_routes`).

It checks Basic auth, creates, lists and fetches Messages with Twilio's JSON shapes,
records everything, fails on request (429 with Retry-After, random 500s from a seeded RNG,
hangs, permanent codes per number), and sends signed status callbacks and inbound SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import secrets
import signal
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
API_VERSION = "2010-04-01"

PERMANENT_MESSAGES = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21635: "The 'To' phone number provided is a landline and cannot receive SMS messages.",
}
_OPT_OUT = {
    "STOP": "STOP",
    "STOPALL": "STOP",
    "UNSUBSCRIBE": "STOP",
    "CANCEL": "STOP",
    "END": "STOP",
    "QUIT": "STOP",
    "START": "START",
    "UNSTOP": "START",
    "HELP": "HELP",
}
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """SMS segments as Twilio counts them: GSM-7 160/153, otherwise UCS-2 70/67."""
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in body):
        units, single, part = len(body) + sum(c in _GSM7_EXTENDED for c in body), 160, 153
    else:
        units, single, part = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / part)


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    validity_period: int | None
    status: str
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None
    error_code: int | None = None
    direction: str = "outbound-api"


@dataclass(frozen=True)
class WebhookAnswer:
    """What our service answered to a callback or inbound message the fake sent."""

    url: str
    params: dict[str, str]
    status: int
    text: str


@dataclass
class Faults:
    rate_limited: int = 0  # the next N API requests answer 429 / 20429
    retry_after: int = 1
    error_ratio: float = 0.0  # this share of API requests answers 500
    hang: bool = False  # API requests wait until release()
    hang_after_create: bool = False  # …but a create records its message first
    refused: dict[str, int] = field(default_factory=dict)  # number -> permanent code
    undeliverable: dict[str, int] = field(default_factory=dict)  # number -> delivery error


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _error(status: int, code: int, message: str, **headers: str) -> web.Response:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    payload = {"code": code, "message": message, "more_info": more_info, "status": status}
    return web.json_response(payload, status=status, headers=headers or None)


def _filter_moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class FakeTwilio:
    """The fake's state and its aiohttp `app`. Faults are set by methods or `/_fake/faults`."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        seed: int = 0,
        service_number: str = "+46766860000",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.service_number = service_number  # the sender for a MessagingServiceSid
        self.messages: list[FakeMessage] = []
        self._by_sid: dict[str, FakeMessage] = {}
        self.inbound: list[WebhookAnswer] = []
        self.callbacks: list[WebhookAnswer] = []
        self.faults = Faults()
        self.hanging = 0
        self.auto_deliver = False  # sent, then delivered, `auto_delay` s apart
        self.auto_delay = 0.05
        self._rng = random.Random(seed)
        self._released = asyncio.Event()
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account_sid}}"
        self.app.router.add_post(f"{base}/Messages.json", self._create)
        self.app.router.add_get(f"{base}/Messages.json", self._list)
        self.app.router.add_get(f"{base}/Messages/{{sid}}.json", self._fetch)
        self.app.add_routes(_control_routes(self))
        self.app.on_shutdown.append(lambda _app: self._on_shutdown())
        self.app.on_cleanup.append(lambda _app: self.close())

    # ---- telling it what to do ---------------------------------------------------------

    def rate_limit(self, count: int, retry_after: int = 1) -> None:
        self.faults.rate_limited, self.faults.retry_after = count, retry_after

    def fail_randomly(self, ratio: float, seed: int | None = None) -> None:
        self.faults.error_ratio = ratio
        if seed is not None:
            self._rng = random.Random(seed)

    def hang(self, *, after_create: bool = False) -> None:
        self.faults.hang, self.faults.hang_after_create = True, after_create
        if self._released.is_set():
            self._released = asyncio.Event()

    def release(self) -> None:
        self.faults.hang = self.faults.hang_after_create = False
        self._released.set()

    def refuse(self, number: str, code: int = 21211) -> None:
        self.faults.refused[number] = code

    def undeliverable(self, number: str, code: int = 30006) -> None:
        self.faults.undeliverable[number] = code

    def reset(self) -> None:
        """Forget every message and fault; release hung requests."""
        self.release()
        self.faults = Faults()
        self.messages.clear()
        self._by_sid.clear()
        self.inbound.clear()
        self.callbacks.clear()
        self.auto_deliver = False

    # ---- looking at what happened -------------------------------------------------------

    def messages_to(self, number: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.to == number]

    def message(self, sid: str) -> FakeMessage:
        return self._by_sid[sid]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (without polling) until `condition()` holds after some change in the fake."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---- webhooks to our service ---------------------------------------------------------

    async def deliver(
        self,
        sid: str,
        status: str = "delivered",
        error_code: int | None = None,
        *,
        forged: bool = False,
    ) -> WebhookAnswer:
        """Post a signed status callback for message `sid` (any status, any number of times)."""
        message = self.message(sid)
        if not message.status_callback:
            raise LookupError(f"{sid} has no StatusCallback")
        message.status, message.error_code, message.date_updated = status, error_code, _now()
        if status in ("sent", "delivered", "undelivered") and message.date_sent is None:
            message.date_sent = message.date_updated
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or self.service_number,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        answer = await self._post_signed(message.status_callback, params, forged=forged)
        self.callbacks.append(answer)
        await self._notify()
        return answer

    async def send_inbound(
        self, from_: str, body: str, url: str, *, to: str | None = None, forged: bool = False
    ) -> WebhookAnswer:
        """Post a signed inbound SMS to `url`; `<Message>`s in the TwiML answer are recorded
        as messages sent back to `from_`."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(count_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to or self.service_number,
        }
        if (opt_out := _OPT_OUT.get(body.strip().upper())) is not None:
            params["OptOutType"] = opt_out
        answer = await self._post_signed(url, params, forged=forged)
        self.inbound.append(answer)
        if answer.status == 200 and answer.text.strip():
            for element in ET.fromstring(answer.text).iter("Message"):
                self._record(
                    to=from_,
                    body="".join(element.itertext()),
                    from_=params["To"],
                    service=None,
                    callback=None,
                    validity=None,
                    status="sent",
                    direction="outbound-reply",  # as Twilio marks a TwiML reply
                )
        await self._notify()
        return answer

    async def _post_signed(
        self, url: str, params: dict[str, str], *, forged: bool
    ) -> WebhookAnswer:
        token = "not-" + self.auth_token if forged else self.auth_token
        signature = RequestValidator(token).compute_signature(url, params)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"X-Twilio-Signature": signature}
        async with self._session.post(url, data=params, headers=headers) as response:
            return WebhookAnswer(url, params, response.status, await response.text())

    async def _deliver_later(self, message: FakeMessage) -> None:
        try:
            await asyncio.sleep(self.auto_delay)  # Twilio's pace, not test synchronisation
            await self.deliver(message.sid, "sent")
            await asyncio.sleep(self.auto_delay)
            code = self.faults.undeliverable.get(message.to)
            await self.deliver(message.sid, "undelivered" if code else "delivered", code)
        except (aiohttp.ClientError, OSError):
            pass  # our service is down: Twilio gives up on a callback too

    # ---- the REST API ---------------------------------------------------------------------

    async def _gate(self, request: web.Request, *, creating: bool = False) -> web.Response | None:
        """Auth, then the faults in order: hang, 429, random 500. None lets the request on."""
        try:
            auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            auth = None
        if auth is None or (auth.login, auth.password) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.match_info["account_sid"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if self.faults.hang and not (creating and self.faults.hang_after_create):
            await self._hold()
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            retry_after = str(self.faults.retry_after)
            return _error(429, 20429, "Too Many Requests", **{"Retry-After": retry_after})
        if self.faults.error_ratio and self._rng.random() < self.faults.error_ratio:
            return _error(500, 20500, "An internal server error has occurred")
        return None

    async def _hold(self) -> None:
        released = self._released
        self.hanging += 1
        await self._notify()
        try:
            await released.wait()
        finally:
            self.hanging -= 1

    def _record(
        self,
        *,
        to: str,
        body: str,
        from_: str | None,
        service: str | None,
        callback: str | None,
        validity: int | None,
        status: str,
        direction: str = "outbound-api",
    ) -> FakeMessage:
        now = _now()
        message = FakeMessage(
            sid="SM" + secrets.token_hex(16),
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            status_callback=callback,
            validity_period=validity,
            status=status,
            date_created=now,
            date_updated=now,
            date_sent=now if status == "sent" else None,
            direction=direction,
        )
        self.messages.append(message)
        self._by_sid[message.sid] = message
        return message

    async def _create(self, request: web.Request) -> web.Response:
        if (refusal := await self._gate(request, creating=True)) is not None:
            return refusal
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        from_, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if (code := self.faults.refused.get(to)) is not None:
            text = PERMANENT_MESSAGES.get(code, "Message cannot be sent to this number")
            return _error(400, code, text.format(to=to))
        validity = form.get("ValidityPeriod")
        message = self._record(
            to=to,
            body=body,
            from_=str(from_) if from_ else None,
            service=str(service) if service else None,
            callback=str(form["StatusCallback"]) if form.get("StatusCallback") else None,
            validity=int(str(validity)) if validity else None,
            status="accepted" if service and not from_ else "queued",
        )
        await self._notify()
        if self.faults.hang and self.faults.hang_after_create:
            await self._hold()
        if self.auto_deliver and message.status_callback:
            task = asyncio.create_task(self._deliver_later(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(self.message_json(message), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if (refusal := await self._gate(request)) is not None:
            return refusal
        query = request.query
        try:
            after = _filter_moment(query.get("DateSent>"))
            before = _filter_moment(query.get("DateSent<"))
            on = _filter_moment(query.get("DateSent"))
            page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
        except ValueError as error:
            return _error(400, 20001, f"Invalid parameter: {error}")

        def wanted(m: FakeMessage) -> bool:
            sent = m.date_sent
            return (
                query.get("To", m.to) == m.to
                and query.get("From", m.from_) == m.from_
                and (after is None or (sent is not None and sent >= after))
                and (before is None or (sent is not None and sent <= before))
                and (on is None or (sent is not None and sent.date() == on.date()))
            )

        selected = [m for m in reversed(self.messages) if wanted(m)]  # most recent first
        start = page * page_size
        chunk = selected[start : start + page_size]

        def page_uri(number: int) -> str:
            params = {k: v for k, v in query.items() if k not in ("Page", "PageToken")}
            params.update({"PageSize": str(page_size), "Page": str(number)})
            return f"{request.path}?{urlencode(params)}"

        more = start + page_size < len(selected)
        return web.json_response(
            {
                "end": start + max(len(chunk) - 1, 0),
                "first_page_uri": page_uri(0),
                "messages": [self.message_json(m) for m in chunk],
                "next_page_uri": page_uri(page + 1) + f"&PageToken=PA{page + 1}" if more else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page),
            }
        )

    async def _fetch(self, request: web.Request) -> web.Response:
        if (refusal := await self._gate(request)) is not None:
            return refusal
        try:
            return web.json_response(self.message_json(self.message(request.match_info["sid"])))
        except KeyError:
            return _error(404, 20404, f"The requested resource {request.path} was not found")

    def message_json(self, m: FakeMessage) -> dict[str, Any]:
        """A Message resource as Twilio's API returns it."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m.sid}"

        def when(moment: datetime | None) -> str | None:
            return format_datetime(moment) if moment else None

        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": m.body,
            "date_created": when(m.date_created),
            "date_sent": when(m.date_sent),
            "date_updated": when(m.date_updated),
            "direction": m.direction,
            "error_code": m.error_code,
            "error_message": None,
            "from": m.from_,
            "messaging_service_sid": m.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(count_segments(m.body)),
            "price": None,
            "price_unit": "USD",
            "sid": m.sid,
            "status": m.status,
            "to": m.to,
            "uri": uri + ".json",
            "subresource_uris": {"media": uri + "/Media.json"},
        }

    # ---- lifecycle -------------------------------------------------------------------------

    async def _on_shutdown(self) -> None:
        self.release()  # hung handlers finish instead of holding the server's shutdown

    async def close(self) -> None:
        self.release()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def _control_routes(fake: FakeTwilio) -> list[web.RouteDef]:
    """`/_fake/…`: the same controls over HTTP, for a fake in another process (no auth)."""

    async def faults(request: web.Request) -> web.Response:
        spec: dict[str, Any] = await request.json()
        if "rate_limit" in spec:
            fake.rate_limit(
                int(spec["rate_limit"]["count"]), int(spec["rate_limit"].get("retry_after", 1))
            )
        if "error_ratio" in spec:
            fake.fail_randomly(float(spec["error_ratio"]), spec.get("seed"))
        if spec.get("hang"):
            fake.hang(after_create=bool(spec.get("hang_after_create")))
        for number, code in spec.get("refuse", {}).items():
            fake.refuse(number, int(code))
        for number, code in spec.get("undeliverable", {}).items():
            fake.undeliverable(number, int(code))
        if "auto_deliver" in spec:
            fake.auto_deliver = bool(spec["auto_deliver"])
            fake.auto_delay = float(spec.get("auto_delay", fake.auto_delay))
        return web.json_response({"ok": True})

    async def messages(request: web.Request) -> web.Response:
        to = request.query.get("to")
        chosen = fake.messages_to(to) if to else fake.messages
        listed = [
            {
                **fake.message_json(m),
                "status_callback": m.status_callback,
                "validity_period": m.validity_period,
            }
            for m in chosen
        ]
        return web.json_response({"messages": listed, "hanging": fake.hanging})

    async def deliver(request: web.Request) -> web.Response:
        spec = await request.json()
        answer = await fake.deliver(
            spec["sid"], spec.get("status", "delivered"), spec.get("error_code")
        )
        return web.json_response({"status": answer.status, "text": answer.text})

    async def inbound(request: web.Request) -> web.Response:
        spec = await request.json()
        answer = await fake.send_inbound(spec["from"], spec["body"], spec["url"], to=spec.get("to"))
        return web.json_response({"status": answer.status, "text": answer.text})

    async def release(_request: web.Request) -> web.Response:
        fake.release()
        return web.json_response({"ok": True})

    async def reset(_request: web.Request) -> web.Response:
        fake.reset()
        return web.json_response({"ok": True})

    return [
        web.post("/_fake/faults", faults),
        web.get("/_fake/messages", messages),
        web.post("/_fake/deliver", deliver),
        web.post("/_fake/inbound", inbound),
        web.post("/_fake/release", release),
        web.post("/_fake/reset", reset),
    ]


async def _serve(arguments: argparse.Namespace) -> None:
    fake = FakeTwilio(arguments.account_sid, arguments.auth_token, seed=arguments.seed)
    runner = web.AppRunner(fake.app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, arguments.host, arguments.port).start()
    host, port = runner.addresses[0][:2]
    print(f"http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Twilio REST API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
