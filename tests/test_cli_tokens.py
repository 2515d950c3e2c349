"""`dispatcher token create|list|revoke`, through `dispatcher.cli.main` on a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from dispatcher.cli import main
from dispatcher.settings import load_settings
from dispatcher.web.app import create_app


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config file with the database in this test's folder; nothing from the environment."""
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "dispatcher.toml"
    path.write_text(f"[service]\ndatabase = '{tmp_path / 'cli.sqlite3'}'\n", encoding="utf-8")
    return path


def run(config: Path, *arguments: str) -> int:
    return main(["--config", str(config), "token", *arguments])


def create(config: Path, capsys: pytest.CaptureFixture[str], role: str, name: str) -> str:
    assert run(config, "create", "--role", role, "--name", name) == 0
    return capsys.readouterr().out.splitlines()[-1]


async def test_create_prints_the_token_alone_on_the_last_line_and_it_works(
    config: Path, capsys: pytest.CaptureFixture[str], aiohttp_client: AiohttpClient
) -> None:
    # main() runs its own event loop, so it runs in a thread beside this test's loop.
    status = await asyncio.to_thread(
        run, config, "create", "--role", "leader", "--name", "Krisledare Eva"
    )
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    token = lines[-1]
    assert token.startswith("kd_")
    assert token == token.strip()
    assert " " not in token
    assert lines[-2] == "Token for Krisledare Eva (leader) — shown once, store it now:"

    client = await aiohttp_client(create_app(load_settings(config, {})))
    response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    body = await response.json()
    assert (body["name"], body["role"]) == ("Krisledare Eva", "leader")


def test_list_shows_a_table_or_json_and_never_a_secret(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "list") == 0
    assert "No access tokens" in capsys.readouterr().out

    admin = create(config, capsys, "admin", "Drift")
    viewer = create(config, capsys, "viewer", "Skärm")
    assert run(config, "revoke", "2") == 0
    capsys.readouterr()

    assert run(config, "list") == 0
    table = capsys.readouterr().out
    header, *rows = table.splitlines()
    assert header.split() == ["ID", "NAME", "ROLE", "CREATED", "LAST", "USED", "REVOKED"]
    assert rows[0].split()[:3] == ["1", "Drift", "admin"]
    assert rows[0].split()[-1] == "-"  # not revoked
    assert rows[1].split()[:3] == ["2", "Skärm", "viewer"]
    assert rows[1].split()[-1].endswith("Z")  # revoked, with the time

    assert run(config, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["id"], t["name"], t["role"]) for t in listed] == [
        (1, "Drift", "admin"),
        (2, "Skärm", "viewer"),
    ]
    assert listed[0]["revoked_at"] is None
    assert listed[1]["revoked_at"] is not None
    for output in (table, json.dumps(listed)):
        assert admin not in output
        assert viewer not in output


def test_revoke_is_repeatable_and_an_unknown_id_is_a_user_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(config, capsys, "viewer", "Surfplatta")
    assert run(config, "revoke", "1") == 0
    assert "Revoked token 1: Surfplatta (viewer)." in capsys.readouterr().out
    assert run(config, "revoke", "1") == 0
    capsys.readouterr()

    assert run(config, "revoke", "99") == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("dispatcher: error: no access token with id 99")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "--name: must not be empty"),
        ("x" * 101, "--name: must be at most 100 characters"),
    ],
)
def test_create_refuses_a_bad_name(
    config: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    assert run(config, "create", "--role", "admin", "--name", name) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines()[-1] == f"dispatcher: error: {message}"


def test_an_unknown_role_is_a_usage_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(config, "create", "--role", "root", "--name", "x")
    assert exit_info.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err
