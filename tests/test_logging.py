"""Logging: JSON lines (structlog events and standard-library records alike) or readable
console output, and the web app's access log and request context as structured fields."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from dispatcher.logs import configure_logging
from dispatcher.web.auth import public


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_mode_renders_structlog_events_and_stdlib_records_as_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    structlog.get_logger("dispatcher.test").info("call-up sent", callup_id=7, unit="Ängsgården")
    logging.getLogger("some.library").warning("disk %s full", "/var")

    first, second = json_lines(capsys.readouterr().err)
    assert first["event"] == "call-up sent"
    assert (first["callup_id"], first["unit"]) == (7, "Ängsgården")
    assert second["event"] == "disk /var full"
    assert (first["level"], second["level"]) == ("info", "warning")
    assert second["logger"] == "some.library"
    for line in (first, second):
        assert line["timestamp"].endswith("Z")  # ISO 8601, UTC


def test_json_mode_keeps_non_ascii_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    structlog.get_logger("dispatcher.test").info("svar", text="ja, kör")
    assert '"ja, kör"' in capsys.readouterr().err


def test_bound_context_is_in_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=True)
    structlog.contextvars.bind_contextvars(activation_id="a1")
    structlog.get_logger("dispatcher.test").info("reply stored")
    logging.getLogger("aiohttp.server").error("stdlib too")
    assert [line["activation_id"] for line in json_lines(capsys.readouterr().err)] == ["a1", "a1"]


def test_the_level_filters_events(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", json=True)
    structlog.get_logger("dispatcher.test").info("not shown")
    structlog.get_logger("dispatcher.test").warning("shown")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]


def test_console_mode_is_readable_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json=False)
    structlog.get_logger("dispatcher.test").info("call-up sent", callup_id=7)
    output = capsys.readouterr().err
    assert "call-up sent" in output
    assert "callup_id" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


async def test_the_access_log_is_one_structured_event_per_request(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", json=True)
    client = await aiohttp_client(app)
    response = await client.get("/healthz?token=do-not-log-me", headers={"X-Request-Id": "req-1"})
    assert response.status == 200
    missing = await client.get("/nowhere")
    await client.get("/answer/secret-answer-token")  # a capability in the path
    await client.close()  # every handler, and its access log line, is done

    output = capsys.readouterr().err
    assert "do-not-log-me" not in output
    assert "secret-answer-token" not in output
    access = [line for line in json_lines(output) if line["logger"] == "aiohttp.access"]
    assert [(a["method"], a["path"], a["status"]) for a in access] == [
        ("GET", "/healthz", 200),
        ("GET", "/nowhere", 404),
        ("GET", "/answer/…", 404),
    ]
    assert access[0]["request_id"] == "req-1"
    assert access[1]["request_id"] == missing.headers["X-Request-Id"]
    assert all(isinstance(a["duration_ms"], float) and a["duration_ms"] >= 0 for a in access)
    assert all({"timestamp", "level", "event"} <= set(a) for a in access)


async def test_a_crash_is_logged_with_its_request_id_and_never_sent(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    capsys: pytest.CaptureFixture[str],
) -> None:
    @public
    async def crash(request: web.Request) -> web.Response:
        raise RuntimeError("hunter2 is the password")

    app.router.add_get("/crash", crash)
    configure_logging("info", json=True)
    client = await aiohttp_client(app)
    response = await client.get("/crash", headers={"X-Request-Id": "req-500"})
    body = await response.text()
    await client.close()

    assert response.status == 500
    assert "hunter2" not in body
    errors = [line for line in json_lines(capsys.readouterr().err) if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["event"] == "unhandled error"
    assert errors[0]["request_id"] == "req-500"
    assert errors[0]["path"] == "/crash"
    assert "RuntimeError: hunter2 is the password" in errors[0]["exception"]
