"""A real headless Chromium for the browser tests: Debian's `chromium`, driven by Playwright.

Playwright never downloads a browser here: it starts the system's Chromium through
`executable_path`. Without Chromium the browser tests are skipped on a developer's machine
and fail in CI (`.ci/run` installs it and sets KRISDISPATCH_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# As the machine's own probe starts it: no background traffic to hosts this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("KRISDISPATCH_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (KRISDISPATCH_REQUIRE_BROWSER) but missing")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
