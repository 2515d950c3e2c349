"""Configuration: defaults, environment overrides, and one clear message per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.settings import Settings, SettingsError, load_settings, settings_from_mapping

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dispatcher.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_documented_default_file_equals_built_in_defaults() -> None:
    assert load_settings(ROOT / "config" / "dispatcher.toml", {}) == Settings()


def test_environment_supplies_secrets_and_database(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "[sms]\nprovider = 'twilio'\n[sms.twilio]\nfrom_number = '+46700000000'\n"),
        {
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "secret",
            "DISPATCHER_DATABASE": str(tmp_path / "x.sqlite3"),
            "DISPATCHER_TWILIO_API_BASE": "http://127.0.0.1:9999",
        },
    )
    assert settings.sms.twilio.account_sid == "AC123"
    assert settings.sms.twilio.auth_token == "secret"
    assert settings.sms.twilio.api_base == "http://127.0.0.1:9999"
    assert settings.service.database == tmp_path / "x.sqlite3"


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[service]\nmunicipality = 'Lerum'\n")
    assert load_settings(None, {"DISPATCHER_CONFIG": str(path)}).service.municipality == "Lerum"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[service]\nprot = 80\n", "[service] prot: unknown key"),
        ("[servic]\n", "servic: unknown key"),
        ("[service]\nport = '80'\n", "[service] port: must be a whole number, got '80'"),
        ("[service]\nport = 0\n", "[service] port: must be 1–65535, got 0"),
        ("[service]\nlanguage = 'de'\n", "[service] language: must be one of 'sv', 'en'"),
        ("[service]\npublic_url = 'localhost'\n", "[service] public_url: must be an http(s) URL"),
        ("[sms]\nrate_per_second = 0\n", "[sms] rate_per_second: must be above 0"),
        (
            "[sms]\nprovider = 'twilio'\n",
            "[sms] provider: is 'twilio' but [sms.twilio] account_sid",
        ),
        ("[sms.twilio]\nvalidity_period_seconds = 0\n", "[sms.twilio] validity_period_seconds"),
        ("[escalation]\ntwo_person_approval = 'yes'\n", "must be true or false, got 'yes'"),
        (
            "[escalation]\nremind_after_minutes = 30\nother_channel_after_minutes = 20\n",
            "[escalation] answer_deadline_minutes: must come after",
        ),
        ("[training]\nvalid_terms = 0\n", "[training] valid_terms: must be 1–10"),
        ("service = 3\n", "[service] must be a table"),
        ("[service]\nsecret_key = 'short'\n", "[service] secret_key: must be at least 32"),
        ("crisis_team = 3\n", "[[crisis_team]] must be an array of tables"),
        ("[[crisis_team]]\nname = 'Stab'\n", "[crisis_team[1]] phone: Stab: give a phone"),
        (
            "[[crisis_team]]\nname = 'A'\nphone = '1'\n[[crisis_team]]\nname = ''\nemail = 'x@y'\n",
            "[crisis_team[2]] name: must not be empty",
        ),
        (
            "[[crisis_team]]\nname = 'A'\nemail = 'nope'\n",
            "[crisis_team[1]] email: A: not an e-mail",
        ),
        (
            "[[crisis_team]]\nname = 'A'\nemail = 'a@b.se'\npager = 1\n",
            "[crisis_team[1]] pager: unknown key",
        ),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, {})
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_missing_file_and_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml", {})
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[service\n"), {})


def test_settings_are_frozen() -> None:
    settings = settings_from_mapping({}, {})
    with pytest.raises(AttributeError):
        settings.service.port = 1  # type: ignore[misc]


def test_crisis_team_is_read_in_order(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            "[[crisis_team]]\nname = 'Stab'\nphone = '070-123 45 67'\n"
            "[[crisis_team]]\nname = 'Chef'\nemail = 'chef@example.se'\n",
        ),
        {},
    )
    assert [(m.name, m.phone, m.email) for m in settings.crisis_team] == [
        ("Stab", "070-123 45 67", ""),
        ("Chef", "", "chef@example.se"),
    ]
