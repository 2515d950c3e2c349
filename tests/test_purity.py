"""The domain core does no I/O: it imports no framework, driver or provider library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parent.parent / "dispatcher" / "domain"
FORBIDDEN = {
    "aiohttp",
    "aiosqlite",
    "sqlite3",
    "apscheduler",
    "twilio",
    "structlog",
    "aiosmtplib",
    "asyncio",
    "socket",
    "requests",
    "dispatcher.store",
    "dispatcher.web",
    "dispatcher.channels",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_nothing_with_io(path: Path) -> None:
    bad = {
        name
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"
