"""`dispatcher demo setup`, `activate`, `status` and `sandbox messages` through `cli.main`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatcher.cli import main


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("DISPATCHER_CONFIG", "DISPATCHER_DATABASE"):
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "dispatcher.toml"
    path.write_text(f"[service]\ndatabase = '{tmp_path / 'var' / 'd.sqlite3'}'\n", encoding="utf-8")
    return path


def run(config: Path, *arguments: str) -> int:
    return main(["--config", str(config), *arguments])


@pytest.fixture
def demo(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The demo municipality loaded as scripts/run does it; returns the admin token."""
    assert run(config, "demo", "setup", "--people", "300") == 0
    out = capsys.readouterr().out
    assert "Loaded the demo municipality" in out
    return out.splitlines()[-1]


def test_demo_setup_loads_once_and_replaces_its_token(
    config: Path, demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.startswith("kd_")
    assert run(config, "demo", "setup") == 0
    out = capsys.readouterr().out
    assert "Loaded" not in out  # the roster is there already
    assert out.splitlines()[-1] != demo
    assert run(config, "token", "list", "--json") == 0
    tokens = json.loads(capsys.readouterr().out)
    live = [t for t in tokens if t["revoked_at"] is None]
    assert [t["name"] for t in live] == ["scripts/run demo admin"]


def test_activate_status_and_sandbox(
    config: Path, demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            config, "activate", "--kind", "drill", "--title", "Storm", "--area", "Norr", "--dry-run"
        )
        == 0
    )
    preview = json.loads(capsys.readouterr().out)
    assert preview["people"] > 0
    assert run(config, "status") == 0
    assert "No activations yet." in capsys.readouterr().out  # the dry run stored nothing

    assert (
        run(config, "activate", "--kind", "drill", "--title", "Storm", "--area", "Norr", "--json")
        == 0
    )
    activation = json.loads(capsys.readouterr().out)
    assert activation["state"] == "active"

    assert run(config, "status", activation["id"], "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["totals"]["called"] == preview["people"]
    assert run(config, "status", activation["id"]) == 0
    table = capsys.readouterr().out
    assert "UNIT" in table and "GAP" in table

    # No service is running: the call-ups wait in the outbox, nothing was "sent" yet.
    assert run(config, "sandbox", "messages") == 0
    assert "The sandbox has sent nothing yet." in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--kind", "drill", "--title", "x", "--area", "Atlantis"), "scope.areas"),
        (("--kind", "drill", "--title", "x" * 61), "--title: must be at most 60"),
        (("--kind", "drill", "--title", "x", "--idempotency-key", ""), "--idempotency-key"),
    ],
)
def test_activate_user_errors_exit_1_with_one_line(
    config: Path,
    demo: str,
    capsys: pytest.CaptureFixture[str],
    arguments: tuple[str, ...],
    message: str,
) -> None:
    assert run(config, "activate", *arguments) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]


def test_status_of_unknown_activation(
    config: Path, demo: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "status", "nope") == 1
    assert "no activation 'nope'" in capsys.readouterr().err
