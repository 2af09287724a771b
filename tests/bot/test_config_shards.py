"""Sharding settings: which shards this process runs, and one line when they do not add up."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("SESSIONBOT_SHARD_COUNT", "SESSIONBOT_SHARDS"):
        monkeypatch.delenv(variable, raising=False)


def test_not_sharded_by_default() -> None:
    assert load_settings(_env_file=None).shard_ids() is None


@pytest.mark.parametrize(
    ("count", "shards", "expected"),
    [("2", None, [0, 1]), ("4", "3, 1", [1, 3]), ("1", "0", [0]), ("2", " ", [0, 1])],
)
def test_the_process_runs_the_listed_shards_or_all(
    monkeypatch: pytest.MonkeyPatch, count: str, shards: str | None, expected: list[int]
) -> None:
    monkeypatch.setenv("SESSIONBOT_SHARD_COUNT", count)
    if shards is not None:
        monkeypatch.setenv("SESSIONBOT_SHARDS", shards)
    assert load_settings(_env_file=None).shard_ids() == expected


@pytest.mark.parametrize(
    ("count", "shards", "message"),
    [
        (None, "0,1", "SESSIONBOT_SHARDS: needs SESSIONBOT_SHARD_COUNT too"),
        ("2", "0,2", "SESSIONBOT_SHARDS: '0,2': each shard id once, each below"),
        ("2", "1,1", "SESSIONBOT_SHARDS: '1,1': each shard id once"),
        ("2", "one", "SESSIONBOT_SHARDS: 'one' is not a list of shard ids; write e.g. 0,1"),
        ("0", None, "SESSIONBOT_SHARD_COUNT: input should be greater than or equal to 1"),
    ],
)
def test_shards_that_do_not_add_up_are_one_line(
    monkeypatch: pytest.MonkeyPatch, count: str | None, shards: str, message: str
) -> None:
    if count is not None:
        monkeypatch.setenv("SESSIONBOT_SHARD_COUNT", count)
    if shards is not None:
        monkeypatch.setenv("SESSIONBOT_SHARDS", shards)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
