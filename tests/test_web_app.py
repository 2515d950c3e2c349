"""The web app through real HTTP: health, tokens and roles, the JSON error shape, request ids,
and `dispatcher serve` stopping cleanly on a signal."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.domain.access import AccessRole
from dispatcher.settings import settings_from_mapping
from dispatcher.store.migrations import MIGRATIONS
from dispatcher.web import ACCESS_TOKENS, DATABASE
from dispatcher.web.app import create_app
from dispatcher.web.auth import public, requires

Client = TestClient[web.Request, web.Application]

ROOT = Path(__file__).resolve().parent.parent


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- health --------------------------------------------------------------------------------


async def test_healthz_reports_the_database_and_schema_version(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "ok",
        "schema_version": max(m.version for m in MIGRATIONS),
    }


async def test_healthz_is_503_when_the_database_cannot_answer(
    client: Client, app: web.Application
) -> None:
    await app[DATABASE].close()
    response = await client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {"status": "unavailable", "database": "unavailable"}


# --- who may call what ---------------------------------------------------------------------

# (method, path, the role it needs or None if public, body, status on success)
ROUTES: list[tuple[str, str, AccessRole | None, dict[str, Any] | None, int]] = [
    ("GET", "/healthz", None, None, 200),
    ("GET", "/api/me", AccessRole.VIEWER, None, 200),
    ("GET", "/api/tokens", AccessRole.ADMIN, None, 200),
    ("POST", "/api/tokens", AccessRole.ADMIN, {"name": "ny", "role": "viewer"}, 201),
    ("POST", "/api/tokens/{target}/revoke", AccessRole.ADMIN, None, 200),
]
CREDENTIALS = ("none", "malformed", "unknown", "revoked", "viewer", "leader", "admin")


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize(
    ("method", "path", "required", "body", "success"),
    ROUTES,
    ids=[f"{method} {path}" for method, path, *_ in ROUTES],
)
async def test_every_route_checks_token_and_role(
    client: Client,
    app: web.Application,
    tokens: dict[str, str],
    method: str,
    path: str,
    required: AccessRole | None,
    body: dict[str, Any] | None,
    success: int,
    credential: str,
) -> None:
    store = app[ACCESS_TOKENS]
    target = await store.create("to be revoked", AccessRole.VIEWER)
    revoked = await store.create("former admin", AccessRole.ADMIN)
    await store.revoke(revoked.token.id)
    presented = {
        "none": {},
        "malformed": {"Authorization": f"Basic {tokens['admin']}"},
        "unknown": bearer("kd_" + "A" * 43),
        "revoked": bearer(revoked.secret),
    }
    headers = presented[credential] if credential in presented else bearer(tokens[credential])

    response = await client.request(
        method, path.format(target=target.token.id), json=body, headers=headers
    )

    if required is None:
        expected = success
    elif credential in ("none", "malformed", "unknown", "revoked"):
        expected = 401
    else:
        expected = success if AccessRole(credential).allows(required) else 403
    assert response.status == expected, await response.text()
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    if expected >= 400:
        assert set(await response.json()) == {"error"}


async def test_an_unmarked_handler_needs_an_admin(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/forgotten", forgotten)
    client = await aiohttp_client(app)
    store = app[ACCESS_TOKENS]
    leader = (await store.create("leader", AccessRole.LEADER)).secret
    admin = (await store.create("admin", AccessRole.ADMIN)).secret
    assert (await client.get("/forgotten")).status == 401
    assert (await client.get("/forgotten", headers=bearer(leader))).status == 403
    assert (await client.get("/forgotten", headers=bearer(admin))).status == 200


def test_a_handler_takes_one_access_mark_only() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    public(handler)
    with pytest.raises(TypeError, match="already has an access mark"):
        requires(AccessRole.ADMIN)(handler)


async def test_me_names_the_callers_token(client: Client, tokens: dict[str, str]) -> None:
    response = await client.get("/api/me", headers=bearer(tokens["leader"]))
    assert response.status == 200
    body = await response.json()
    assert (body["name"], body["role"]) == ("test leader", "leader")


# --- the token admin API -------------------------------------------------------------------


async def test_tokens_are_created_listed_and_revoked_through_the_api(
    client: Client, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    created = await client.post(
        "/api/tokens", json={"name": " Skärm i ledningsrummet ", "role": "viewer"}, headers=admin
    )
    assert created.status == 201
    assert created.headers["Cache-Control"] == "no-store"
    new = await created.json()
    assert (new["name"], new["role"], new["revoked_at"]) == (
        "Skärm i ledningsrummet",
        "viewer",
        None,
    )
    assert new["token"].startswith("kd_")

    me = await client.get("/api/me", headers=bearer(new["token"]))
    assert (await me.json())["name"] == "Skärm i ledningsrummet"

    listing = await (await client.get("/api/tokens", headers=admin)).json()
    listed = {token["id"]: token for token in listing["tokens"]}
    assert set(listed[new["id"]]) == {
        "id",
        "name",
        "role",
        "created_at",
        "revoked_at",
        "last_used_at",
    }
    assert new["token"] not in json.dumps(listing)

    revoked = await client.post(f"/api/tokens/{new['id']}/revoke", headers=admin)
    assert revoked.status == 200
    assert (await revoked.json())["revoked_at"] is not None
    assert (await client.get("/api/me", headers=bearer(new["token"]))).status == 401
    again = await client.post(f"/api/tokens/{new['id']}/revoke", headers=admin)
    assert again.status == 200

    unknown = await client.post("/api/tokens/999999/revoke", headers=admin)
    assert unknown.status == 404
    assert await unknown.json() == {"error": "no access token with id 999999"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"role": "viewer"}, "name", "must be a string"),
        ({"name": 7, "role": "viewer"}, "name", "must be a string"),
        ({"name": "  ", "role": "viewer"}, "name", "must not be empty"),
        ({"name": "x" * 101, "role": "viewer"}, "name", "must be at most 100 characters"),
        ({"name": "ok"}, "role", "must be one of viewer, leader, admin"),
        ({"name": "ok", "role": "root"}, "role", "must be one of viewer, leader, admin"),
        ({"name": "ok", "role": "admin", "rol": "x"}, "rol", "unknown field"),
    ],
)
async def test_bad_token_requests_are_400_naming_the_field(
    client: Client, tokens: dict[str, str], body: dict[str, Any], field: str, message: str
) -> None:
    response = await client.post("/api/tokens", json=body, headers=bearer(tokens["admin"]))
    assert response.status == 400
    error = await response.json()
    assert error["field"] == field
    assert error["error"].startswith(f"{field}: {message}")


async def test_only_the_hash_is_stored(
    aiohttp_client: AiohttpClient, app: web.Application, database_path: Path
) -> None:
    client = await aiohttp_client(app)
    admin = (await app[ACCESS_TOKENS].create("admin", AccessRole.ADMIN)).secret
    created = await client.post(
        "/api/tokens", json={"name": "n", "role": "viewer"}, headers=bearer(admin)
    )
    secret = (await created.json())["token"]
    await client.close()  # closes the database: everything is on disk

    files = list(database_path.parent.glob(database_path.name + "*"))
    stored = b"".join(path.read_bytes() for path in files)
    for plaintext in (secret, admin):
        assert plaintext.encode() not in stored
        assert plaintext[3:].encode() not in stored  # not even without the prefix


# --- the JSON error shape ------------------------------------------------------------------


async def test_unknown_paths_are_json_404_even_without_a_token(client: Client) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert await response.json() == {"error": "not found"}


async def test_wrong_method_is_json_405_with_allow(client: Client) -> None:
    response = await client.delete("/api/tokens")
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    assert (await response.json())["error"].startswith("method DELETE not allowed")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "body: expected a JSON object, got nothing"),
        (b"{not json", "body: not valid JSON"),
        (b"\xff\xfe\x00", "body: not valid JSON"),
        (b'["a", "list"]', "body: must be a JSON object"),
    ],
)
async def test_malformed_bodies_are_json_400(
    client: Client, tokens: dict[str, str], data: bytes, message: str
) -> None:
    response = await client.post(
        "/api/tokens",
        data=data,
        headers={**bearer(tokens["admin"]), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert await response.json() == {"error": message, "field": "body"}


async def test_a_body_over_the_limit_is_json_413(
    aiohttp_client: AiohttpClient, database_path: Path
) -> None:
    settings = settings_from_mapping(
        {"service": {"database": str(database_path), "max_request_kb": 1}}, {}
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    admin = (await app[ACCESS_TOKENS].create("admin", AccessRole.ADMIN)).secret
    big = {"name": "x" * 2000, "role": "viewer"}
    response = await client.post("/api/tokens", json=big, headers=bearer(admin))
    assert response.status == 413
    assert await response.json() == {"error": "request body too large (limit 1 KB)"}
    small = await client.post(
        "/api/tokens", json={"name": "x", "role": "viewer"}, headers=bearer(admin)
    )
    assert small.status == 201


async def test_a_crash_is_a_bare_500(aiohttp_client: AiohttpClient, app: web.Application) -> None:
    @public
    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("the database password is hunter2")

    app.router.add_get("/crash", crash)
    client = await aiohttp_client(app)
    response = await client.get("/crash")
    assert response.status == 500
    assert await response.json() == {"error": "internal error"}


# --- request ids ---------------------------------------------------------------------------


async def test_a_sane_incoming_request_id_is_echoed(client: Client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "proxy-42.a:b"})
    assert response.headers["X-Request-Id"] == "proxy-42.a:b"


@pytest.mark.parametrize("incoming", [None, "", "has space", "x" * 200, "<script>", "ö"])
async def test_a_missing_or_odd_request_id_is_replaced(
    client: Client, incoming: str | None
) -> None:
    headers = {} if incoming is None else {"X-Request-Id": incoming}
    response = await client.get("/healthz", headers=headers)
    request_id = response.headers["X-Request-Id"]
    assert request_id != incoming
    assert len(request_id) == 32
    assert int(request_id, 16) >= 0


async def test_errors_carry_the_request_id_too(client: Client) -> None:
    response = await client.get("/api/me", headers={"X-Request-Id": "r-401"})
    assert response.status == 401
    assert response.headers["X-Request-Id"] == "r-401"
    missing = await client.get("/nowhere", headers={"X-Request-Id": "r-404"})
    assert missing.headers["X-Request-Id"] == "r-404"


# --- dispatcher serve ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
async def test_serve_answers_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    config = tmp_path / "dispatcher.toml"
    config.write_text(f"[service]\ndatabase = '{tmp_path / 'db.sqlite3'}'\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCHER_", "TWILIO_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatcher",
        "--config",
        str(config),
        "serve",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(30):
            events: list[dict[str, Any]] = []
            while not any(event.get("event") == "serving" for event in events):
                line = await process.stderr.readline()
                assert line, "serve exited before it was serving"
                events.append(json.loads(line))
            assert events[-1]["url"] == f"http://127.0.0.1:{port}"

            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as response,
            ):
                assert response.status == 200

            process.send_signal(stop)
            stdout, rest = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, rest.decode()
    assert stdout == b""
    later = [json.loads(line) for line in rest.decode().splitlines()]
    access = [event for event in later if event.get("event") == "request"]
    assert access[0]["path"] == "/healthz"
    assert access[0]["status"] == 200
    assert later[-1]["event"] == "stopped"
