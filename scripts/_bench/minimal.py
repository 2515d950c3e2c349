"""The baselines of `scripts/bench_replies`: minimal aiohttp servers, each its own process.

`python -m _bench.minimal replies --database F --auth-token T --public-url U`
answers `POST /webhooks/twilio/sms` with the least an inbound SMS webhook must do: read
the form, check `X-Twilio-Signature`, parse the reply (`dispatcher.domain.replies`),
INSERT one row and commit (aiosqlite, WAL, synchronous=NORMAL), answer with TwiML.

`python -m _bench.minimal status --body-file F --etag E` answers
`GET /api/activations/{id}/status` with a fixed JSON body (304 for a matching
`If-None-Match`), with no token check and nothing read.

Both listen on a free port of 127.0.0.1, print their URL once they do, and stop on
SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
from aiohttp import web
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from dispatcher.domain.replies import parse_reply

INBOUND_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/api/activations/{id}/status"
_TWIML = str(MessagingResponse().message("Tack, ditt svar är registrerat."))
_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    id           INTEGER PRIMARY KEY,
    provider_id  TEXT UNIQUE,
    sender       TEXT NOT NULL,
    body         TEXT NOT NULL,
    meaning      TEXT NOT NULL,
    received_at  INTEGER NOT NULL
)
"""
DATABASE = web.AppKey("database", aiosqlite.Connection)


def replies_app(database: Path, auth_token: str, public_url: str) -> web.Application:
    validator = RequestValidator(auth_token)

    async def inbound(request: web.Request) -> web.Response:
        form = await request.post()
        url = public_url.rstrip("/") + request.rel_url.raw_path_qs
        if not validator.validate(url, form, request.headers.get(SIGNATURE_HEADER, "")):
            raise web.HTTPForbidden()
        body = str(form.get("Body", ""))
        reply = parse_reply(body)
        db = request.app[DATABASE]
        await db.execute(
            "INSERT INTO inbound (provider_id, sender, body, meaning, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider_id) DO NOTHING",
            (
                form.get("MessageSid"),
                form.get("From"),
                body,
                reply.meaning.value,
                time.time_ns() // 1_000_000,
            ),
        )
        await db.commit()
        return web.Response(text=_TWIML, content_type="application/xml")

    async def open_database(app: web.Application) -> AsyncIterator[None]:
        db = await aiosqlite.connect(database)
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
            await db.execute(pragma)
        await db.execute(_SCHEMA)
        await db.commit()
        app[DATABASE] = db
        yield
        await db.close()

    app = web.Application()
    app.cleanup_ctx.append(open_database)
    app.router.add_post(INBOUND_PATH, inbound)
    return app


def status_app(body: bytes, etag: str) -> web.Application:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}

    async def status(request: web.Request) -> web.Response:
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get(STATUS_PATH, status)
    return app


async def _serve(args: argparse.Namespace) -> None:
    if args.kind == "replies":
        app = replies_app(args.database, args.auth_token, args.public_url)
    else:
        app = status_app(args.body_file.read_bytes(), args.etag)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}", flush=True)
        await stopped.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m _bench.minimal", description=__doc__)
    parser.add_argument("kind", choices=("replies", "status"))
    parser.add_argument("--database", type=Path)
    parser.add_argument("--auth-token", default="")
    parser.add_argument("--public-url", default="")
    parser.add_argument("--body-file", type=Path)
    parser.add_argument("--etag", default="")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
