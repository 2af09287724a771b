"""The abuse-limit settings: their defaults, their forms, and one line for a bad value."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from bot.engine.limits import Rate
from bot.engine.quota import Limits


def test_the_defaults_are_20_and_120_a_minute_and_no_token_budget() -> None:
    settings = load_settings(_env_file=None)
    assert settings.quota_limits() == Limits(Rate(20, 60), Rate(120, 60), None)


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONBOT_USER_RATE_LIMIT", " 3 / 90 ")
    monkeypatch.setenv("SESSIONBOT_GUILD_RATE_LIMIT", "1000/3600")
    monkeypatch.setenv("SESSIONBOT_GUILD_DAILY_TOKENS", "200_000")
    limits = load_settings(_env_file=None).quota_limits()
    assert limits == Limits(Rate(3, 90), Rate(1000, 3600), 200_000)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("SESSIONBOT_USER_RATE_LIMIT", "20 per minute", "write N/SECONDS with N >= 1, e.g. 20/60"),
        ("SESSIONBOT_GUILD_RATE_LIMIT", "0/60", "write N/SECONDS with N >= 1, e.g. 20/60"),
        ("SESSIONBOT_GUILD_DAILY_TOKENS", "lots", "write a whole number >= 1, e.g. 200000"),
        ("SESSIONBOT_GUILD_DAILY_TOKENS", "0", "write a whole number >= 1, e.g. 200000"),
    ],
)
def test_a_bad_limit_is_one_line_naming_the_variable_and_the_form(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert message.startswith(f"{variable}: {value!r} is not a ")
    assert words in message and "\n" not in message


def test_a_blank_token_budget_means_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSIONBOT_GUILD_DAILY_TOKENS", " ")
    assert load_settings(_env_file=None).guild_daily_tokens is None
