"""Fixtures shared by the whole suite: settings on a temporary database, the real app and a
client for it, access tokens per role, and logging put back the way each test found it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from dispatcher.clock import ManualClock
from dispatcher.domain.access import AccessRole
from dispatcher.settings import Settings, settings_from_mapping
from dispatcher.web import ACCESS_TOKENS
from dispatcher.web.app import create_app

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday morning in VT2026


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`configure_logging` (which `cli.main` runs) replaces the root handler with one bound to
    the current standard error and reconfigures structlog; undo both after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "dispatcher.sqlite3"


@pytest.fixture
def settings(database_path: Path) -> Settings:
    """Default settings, with the database in this test's temporary folder."""
    return settings_from_mapping({"service": {"database": str(database_path)}}, {})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> web.Application:
    """The real app on the test's settings and clock, not yet started."""
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, app: web.Application
) -> TestClient[web.Request, web.Application]:
    """A client for `app`, which is started (database open) once this fixture is ready."""
    return await aiohttp_client(app)


@pytest.fixture
async def tokens(
    client: TestClient[web.Request, web.Application], app: web.Application
) -> dict[str, str]:
    """One live token per role, made through the store: `tokens["viewer"]` is the secret."""
    store = app[ACCESS_TOKENS]
    return {
        role.value: (await store.create(f"test {role.value}", role)).secret for role in AccessRole
    }
