"""SESSIONBOT_DATABASE: a SQLite path, or a PostgreSQL URL; anything else is one line."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.runtime import open_store


@pytest.mark.parametrize(
    ("value", "kind", "target"),
    [
        ("postgresql://bot:p%40ss@db:5432/sessions", "postgresql", "postgresql://bot:p%40ss@db:5432/sessions"),
        ("postgres://bot@db/sessions", "postgresql", "postgres://bot@db/sessions"),
        ("sqlite:///srv/sessions.db", "sqlite", "/srv/sessions.db"),
        ("data/sessions.db", "sqlite", "data/sessions.db"),
    ],
)  # fmt: skip
def test_the_database_setting_names_its_backend(value: str, kind: str, target: str) -> None:
    location = load_settings(database=value).database_location()
    assert (location.kind, location.target) == (kind, target)


def test_a_path_object_is_a_sqlite_file(tmp_path: Path) -> None:
    location = load_settings(database=tmp_path / "x.db").database_location()
    assert (location.kind, location.target) == ("sqlite", str(tmp_path / "x.db"))


def test_another_scheme_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(database="mysql://bot:secret@db/sessions")
    text = str(caught.value)
    assert text.startswith("SESSIONBOT_DATABASE: sessionbot cannot store sessions in a mysql://")
    assert "\n" not in text and "secret" not in text


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://bot:s%40cret@127.0.0.1:{closed_port()}/sessions"
    settings = load_settings(database=url)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        async with open_store(settings):
            pass
    text = str(caught.value)
    assert text.startswith("SESSIONBOT_DATABASE: cannot open postgresql://bot:***@127.0.0.1:")
    assert "cret" not in text and "\n" not in text
    assert await asyncio.to_thread(os.listdir, tmp_path) == []  # no file named after the URL
