"""Discord settings: defaults, validation and the token only `run` needs."""

from __future__ import annotations

import pytest

from bot.config import DISCORD_API_BASE, ConfigError, Settings, load_settings

VARIABLES = [
    "DISCORD_TOKEN",
    "DISCORD_API_BASE",
    "DISCORD_GATEWAY_URL",
    "SESSIONBOT_ALLOW_DMS",
    "SESSIONBOT_DEV_GUILD",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_discord_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_api_base == DISCORD_API_BASE
    assert settings.discord_gateway_url is None
    assert settings.allow_dms is True
    assert settings.dev_guild is None


def test_discord_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9999/api/v10/")
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "ws://127.0.0.1:9999/gateway")
    monkeypatch.setenv("SESSIONBOT_ALLOW_DMS", "false")
    monkeypatch.setenv("SESSIONBOT_DEV_GUILD", "123456789012345678")
    settings = load_settings(_env_file=None)
    assert settings.discord_secret() == "abc.def"
    assert settings.discord_api_base == "http://127.0.0.1:9999/api/v10"
    assert settings.discord_gateway_url == "ws://127.0.0.1:9999/gateway"
    assert settings.allow_dms is False
    assert settings.dev_guild == 123456789012345678


def test_the_token_is_required_only_when_asked_for() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"^DISCORD_TOKEN is not set; .*README") as info:
        settings.discord_secret()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DISCORD_API_BASE", "discord.com/api", "DISCORD_API_BASE: must start with http"),
        ("DISCORD_GATEWAY_URL", "http://x", "DISCORD_GATEWAY_URL: must start with ws"),
        ("SESSIONBOT_DEV_GUILD", "general", "SESSIONBOT_DEV_GUILD: "),
        ("SESSIONBOT_ALLOW_DMS", "maybe", "SESSIONBOT_ALLOW_DMS: "),
    ],
)
def test_bad_discord_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_blank_optional_settings_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_GATEWAY_URL", "")
    monkeypatch.setenv("SESSIONBOT_DEV_GUILD", " ")
    monkeypatch.setenv("DISCORD_API_BASE", "")
    settings = load_settings(_env_file=None)
    assert settings.discord_gateway_url is None
    assert settings.dev_guild is None
    assert settings.discord_api_base == DISCORD_API_BASE
