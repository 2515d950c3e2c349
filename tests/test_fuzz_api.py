"""Schemathesis against the live app: every operation in /api/openapi.json, with requests
made from the document (valid and invalid ones), sent over loopback to the real app on a
real port, with a real SQLite database holding a small roster and one crisis awaiting approval.

Each request carries a fresh token of exactly the role the operation documents (a fresh
one, as the fuzzer may revoke any token id it guesses); requests to Twilio's webhooks are
signed as Twilio would sign them, so the handlers behind the signature check are fuzzed
too. Every response must be no 5xx, have a documented status code and content type, and a
body and headers that match the document. Deterministic: a fixed seed, derandomized
Hypothesis, no example database.

The app runs on its own event loop in a thread: Schemathesis calls it synchronously.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import zlib
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest
import requests
import schemathesis
from aiohttp import web
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.settings import settings_from_mapping
from dispatcher.store.roster_store import replace_roster
from dispatcher.web import ACCESS_TOKENS, DATABASE
from dispatcher.web.app import create_app
from dispatcher.web.openapi import openapi_document
from tests.api_support import ROSTER, api_settings, twilio_signature
from tests.conftest import START
from tests.fakes.twilio_api import FakeTwilio

T = TypeVar("T")

pytestmark = pytest.mark.slow  # about 550 requests: a few seconds

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260302,
        "cache": {"enabled": False},
        "generation": {
            "mode": "all",
            "max-examples": 8,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
        # Strings harvested from the code come in set order, which differs between runs.
        "analysis": {"constants": {"enabled": False}},
        "warnings": False,
    }
)


@dataclass
class LiveApp:
    """The app serving on loopback from its own thread, and a way into that thread's loop."""

    loop: asyncio.AbstractEventLoop
    app: web.Application
    base_url: str
    activation_id: str = ""

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    def token(self, role: AccessRole) -> str:
        return self.run(self.app[ACCESS_TOKENS].create(f"fuzz {role.value}", role)).secret


class SignedForTwilio(requests.Session):
    """A session that signs what it sends to /webhooks/ as Twilio would: the generated
    `X-Twilio-Signature` is replaced by the right one (a request without it stays so)."""

    def __init__(self, public_url: str) -> None:
        super().__init__()
        self.public_url = public_url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        path_qs = request.path_url
        if path_qs.startswith("/webhooks/") and "X-Twilio-Signature" in request.headers:
            body = request.body
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
            fields = parse_qsl(text, keep_blank_values=True)
            request.headers["X-Twilio-Signature"] = twilio_signature(
                self.public_url, path_qs, fields
            )
        return super().send(request, **kwargs)


async def _start(tmp_path: Path, listener: socket.socket) -> tuple[LiveApp, list[web.AppRunner]]:
    fake = FakeTwilio()
    fake.auto_deliver = True  # it calls back the app's status webhook, signed
    twilio = web.AppRunner(fake.app)
    await twilio.setup()
    twilio_site = web.TCPSite(twilio, "127.0.0.1", 0)
    await twilio_site.start()
    twilio_port = twilio.addresses[0][1]
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = api_settings(
        tmp_path / "fuzz.sqlite3",
        base_url,
        f"http://127.0.0.1:{twilio_port}",
        two_person_approval=True,  # crises wait for approval: approving has work to do
    )
    app = create_app(settings, clock=ManualClock(START))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, listener).start()
    await replace_roster(
        app[DATABASE], ROSTER, imported_by="fuzz", source="fuzz", warnings=0, imported_at_ms=0
    )
    return LiveApp(asyncio.get_running_loop(), app, base_url), [runner, twilio]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    """One live app for every operation's test: what one operation's requests change, the
    next one's meet, as on a real server."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-app", daemon=True)
    thread.start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    runners: list[web.AppRunner] = []
    try:
        live, runners = asyncio.run_coroutine_threadsafe(_start(tmp_path, listener), loop).result(
            30
        )
        response = requests.post(
            live.base_url + "/api/activations",
            json={"kind": "crisis", "title": "Storm Norr", "scope": {"areas": ["Norr"]}},
            headers={"Authorization": "Bearer " + live.token(AccessRole.LEADER)},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "awaiting_approval"
        live.activation_id = response.json()["id"]
        yield live
    finally:
        for runner in runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        listener.close()


@pytest.fixture(scope="module")
def session(live: LiveApp) -> Iterator[requests.Session]:
    with SignedForTwilio(live.base_url) as signed:
        yield signed


# The document the app serves (test_openapi.py checks it is this one), made without starting
# an app: the router alone decides it. (`schemathesis.pytest.from_fixture`, which could load
# it from the live app, does not work with pytest 9.2.)
schema = schemathesis.openapi.from_dict(
    openapi_document(create_app(settings_from_mapping({}, {}))), config=CONFIG
)


@schema.parametrize()
def test_every_response_is_documented_and_no_5xx(
    case: schemathesis.Case[Any], live: LiveApp, session: requests.Session
) -> None:
    role = case.operation.definition.raw.get("x-required-role")
    headers = {} if role is None else {"Authorization": "Bearer " + live.token(AccessRole(role))}
    # About half the activation ids become the real one (chosen by the generated id, so the
    # run stays deterministic): the bodies of found activations get checked too. Schemathesis
    # sees the edit and judges the request as sent.
    path = case.path_parameters
    if (
        path
        and case.path.startswith("/api/activations/{id}")
        and zlib.crc32(str(path.get("id")).encode()) % 2
    ):
        path["id"] = live.activation_id
    response = case.call(base_url=live.base_url, session=session, headers=headers, timeout=10)
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_a_conditional_status_poll_matches_the_document(
    live: LiveApp, session: requests.Session
) -> None:
    """The 304 a dashboard lives on, which no generated `If-None-Match` would ever hit."""
    status = schema["/api/activations/{id}/status"]["GET"]
    headers = {"Authorization": "Bearer " + live.token(AccessRole.VIEWER)}
    first = status.Case(path_parameters={"id": live.activation_id}, headers=headers)
    full = first.call(base_url=live.base_url, session=session, timeout=10)
    first.validate_response(full, checks=CHECKS)
    assert full.status_code == 200

    etag = full.headers["etag"]  # schemathesis's responses: lower-case names, lists of values
    again = status.Case(
        path_parameters={"id": live.activation_id}, headers={**headers, "If-None-Match": etag[0]}
    )
    unchanged = again.call(base_url=live.base_url, session=session, timeout=10)
    again.validate_response(unchanged, checks=CHECKS)
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == etag
