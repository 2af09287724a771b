"""`sessionbot usage` as a user runs it: a real subprocess over a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from storage import Role, SessionStore
from storage.models import to_micros, utc_now
from tests.helpers import REPO, command_env


async def talk(store: SessionStore, key: str, agent: str, turns: list[tuple[str, int]]) -> int:
    """A session at `key`: each (person, tokens) writes and gets a reply of twice the tokens."""
    session = await store.create_session(agent_id=agent, situation="S.", binding_key=key)
    last = 0
    for person, tokens in turns:
        asked = await store.append_message(
            session.id, role=Role.USER, content="hi", author_id=person, tokens=tokens
        )
        reply = await store.append_message(
            session.id, role=Role.ASSISTANT, content="ok", reply_to=asked.id, tokens=2 * tokens
        )
        last = reply.id
    return last


@pytest.fixture
async def env(tmp_path: Path) -> dict[str, str]:
    personas = tmp_path / "personas"
    personas.mkdir()
    env = command_env(tmp_path, personas)
    database = env["SESSIONBOT_DATABASE"]
    async with SessionStore.open(database) as store:
        old = await talk(store, "discord:1:9", "sara", [("alice", 100)])
        await talk(store, "discord:1:10", "sara", [("alice", 3), ("bob", 5)])
        await talk(store, "discord:1:11", "tutor", [("alice", 7)])
        greeted = await store.create_session(
            agent_id="sara", situation="S.", binding_key="discord:2:20"
        )
        await store.append_message(greeted.id, role=Role.ASSISTANT, content="Hi!", tokens=4)
    ten_days_ago = to_micros(utc_now() - timedelta(days=10))
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("UPDATE messages SET created_at = ? WHERE id <= ?", (ten_days_ago, old))
    connection.close()
    return env


def sessionbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def figures(messages: int, replies: int, tokens: int) -> dict[str, int]:
    return {"messages": messages, "replies": replies, "tokens": tokens}


def test_usage_json_adds_up_servers_personas_and_people(env: dict[str, str]) -> None:
    result = sessionbot("usage", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["days"] == 7 and report["guild"] is None and report["persona"] is None
    assert report["total"] == figures(3, 4, 49)
    assert report["servers"] == [
        {"server": "1", **figures(3, 3, 45)},
        {"server": "2", **figures(0, 1, 4)},
    ]
    assert report["personas"] == [
        {"persona": "sara", **figures(2, 3, 28)},
        {"persona": "tutor", **figures(1, 1, 21)},
    ]
    assert report["people"] == [
        {"person": "alice", **figures(2, 2, 30)},
        {"person": "bob", **figures(1, 1, 15)},
    ]


def test_usage_narrows_to_a_server_a_persona_and_more_days(env: dict[str, str]) -> None:
    result = sessionbot("usage", "--guild", "1", "--persona", "sara", "--json", env=env)
    report = json.loads(result.stdout)
    assert report["total"] == figures(2, 2, 24)
    assert report["people"] == [
        {"person": "bob", **figures(1, 1, 15)},
        {"person": "alice", **figures(1, 1, 9)},
    ]
    month = json.loads(sessionbot("usage", "--days", "30", "--json", env=env).stdout)
    assert month["total"] == figures(4, 5, 349)


def test_usage_prints_tables(env: dict[str, str]) -> None:
    result = sessionbot("usage", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("last 7 day(s) since ")
    assert lines[0].endswith(": 3 messages, 4 replies, 49 tokens")
    assert "alice   2         2        30" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--days", "0"], "--days must be from 1 to 90"), (["--guild", "abc"], "not a server id")],
)
def test_usage_refuses_bad_options_in_one_line(
    env: dict[str, str], args: list[str], words: str
) -> None:
    result = sessionbot("usage", *args, env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("hint:")]
    assert len(lines) == 1 and lines[0].startswith("sessionbot: error: ")
    assert words in lines[0] and "Traceback" not in result.stderr
