"""The `sessionbot` command as a user runs it: a real subprocess, a real SQLite file and the fake
OpenAI-compatible server on 127.0.0.1 (in a thread, so the subprocess can reach it)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from storage import ListQuery, Role, SessionStore
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, SESSION_KEYS, write_persona

SESSION_LINE = re.compile(r"^session ([0-9a-f-]{36}) \(persona (\S+)\)$", re.MULTILINE)


@pytest.fixture
def env(shipped_env: dict[str, str]) -> dict[str, str]:
    """The shipped personas plus `plain`, run as the user `tester`."""
    personas = Path(shipped_env["SESSIONBOT_PERSONAS"])
    write_persona(personas, "plain", name="Plain", situation="You answer plainly.")
    return {**shipped_env, "USER": "tester", "SESSIONBOT_LLM_TIMEOUT": "10"}


def sessionbot(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env=env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def session_id_of(result: subprocess.CompletedProcess[str]) -> UUID:
    match = SESSION_LINE.search(result.stderr)
    assert match, result.stderr
    return UUID(match.group(1))


def read_history(database: str, session_id: UUID) -> list[tuple[Role, str]]:
    async def read() -> list[tuple[Role, str]]:
        async with SessionStore.open(database) as store:
            messages = await store.recent_history(session_id, limit=100)
        return [(m.role, m.content) for m in messages]

    return asyncio.run(read())


def test_piped_chat_stores_both_messages_and_resume_sends_the_history(
    env: dict[str, str], threaded_openai: FakeOpenAI
) -> None:
    first = sessionbot("chat", "--persona", "sara", env=env, stdin="hello\n")
    assert first.returncode == 0, first.stderr
    session_id = session_id_of(first)
    assert "echo: tester: hello" in first.stdout

    history = read_history(env["SESSIONBOT_DATABASE"], session_id)
    assert history[-2:] == [(Role.USER, "hello"), (Role.ASSISTANT, "echo: tester: hello")]

    second = sessionbot("chat", "--session", str(session_id), env=env, stdin="and again\n")
    assert second.returncode == 0, second.stderr
    assert session_id_of(second) == session_id

    sent = threaded_openai.chat_requests[-1].body["messages"]
    situation = (REPO / "personas" / "sara.yaml").read_text(encoding="utf-8")
    assert sent[0]["role"] == "system"
    assert sent[0]["content"].startswith("You are Sara")
    assert sent[0]["content"].splitlines()[0] in situation
    conversation = [(m["role"], m["content"]) for m in sent if m["role"] != "system"]
    assert conversation[-3:] == [
        ("user", "tester: hello"),
        ("assistant", "echo: tester: hello"),
        ("user", "tester: and again"),
    ]


def test_sessions_list_filters_metadata_exactly_in_the_julep_shape(env: dict[str, str]) -> None:
    made = {}
    for label, meta in [
        ("match", ["db_uuid=1234"]),
        ("match2", ["db_uuid=1234", "team=blue"]),
        ("number", ["db_uuid:=1234"]),
        ("longer", ["db_uuid=12345"]),
        ("none", []),
    ]:
        args = ["chat", "--persona", "tutor", "--tag", label]
        for item in meta:
            args += ["--meta", item]
        result = sessionbot(*args, env=env, stdin="hi\n")
        assert result.returncode == 0, result.stderr
        made[label] = session_id_of(result)

    listed = sessionbot("sessions", "list", "--meta", "db_uuid=1234", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    sessions = json.loads(listed.stdout)

    assert {UUID(s["id"]) for s in sessions} == {made["match"], made["match2"]}
    assert all(s["metadata"]["db_uuid"] == "1234" for s in sessions)
    assert tuple(sessions[0]) == SESSION_KEYS
    assert sessions[0]["agent_id"] == "tutor"
    assert sessions[0]["status"] == "active"
    assert sessions[0]["summary"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", sessions[0]["created_at"])

    numeric = sessionbot("sessions", "list", "--meta", "db_uuid:=1234", "--json", env=env)
    assert [UUID(s["id"]) for s in json.loads(numeric.stdout)] == [made["number"]]


def test_persona_check_reports_each_bad_file_by_line_and_good_ones_still_load(
    env: dict[str, str], tmp_path: Path
) -> None:
    personas = Path(env["SESSIONBOT_PERSONAS"])
    (personas / "syntax.yaml").write_text("name: Broken\nsituation: [unclosed\n", encoding="utf-8")
    (personas / "typed.yaml").write_text(
        "name: Typed\nsituation: Hi.\ntemperature: hot\n", encoding="utf-8"
    )
    (personas / "unknown.yaml").write_text(
        "name: Unknown\nsituation: Hi.\ntemprature: 0.5\n", encoding="utf-8"
    )

    check = sessionbot("personas", "check", env=env)

    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert any(re.match(rf"{re.escape(str(personas))}/syntax\.yaml:2: ", line) for line in lines)
    assert f"{personas}/typed.yaml:3: temperature: must be a number, got 'hot'" in lines
    assert (
        f"{personas}/unknown.yaml:3: temprature: unknown field 'temprature' "
        "(did you mean 'temperature'?)" in lines
    )
    assert "4 persona(s) ok, 3 error(s) in 3 file(s)" in check.stderr

    listing = sessionbot("personas", "list", env=env)
    assert listing.returncode == 0
    ids = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert ids == ["gamemaster", "plain", "sara", "tutor"]

    chat = sessionbot("chat", "--persona", "sara", env=env, stdin="still works?\n")
    assert chat.returncode == 0, chat.stderr


def test_missing_model_is_one_line_and_exit_status_2(env: dict[str, str]) -> None:
    del env["SESSIONBOT_MODEL"]
    result = sessionbot("chat", env=env, stdin="hi\n")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "SESSIONBOT_MODEL is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OPENAI_BASE_URL", "localhost:11434", "OPENAI_BASE_URL: must start with http://"),
        ("SESSIONBOT_LLM_TIMEOUT", "soon", "SESSIONBOT_LLM_TIMEOUT:"),
        ("SESSIONBOT_LOG_LEVEL", "loud", "SESSIONBOT_LOG_LEVEL:"),
    ],
)
def test_invalid_setting_is_one_line_naming_the_variable(
    env: dict[str, str], name: str, value: str, expected: str
) -> None:
    env[name] = value
    result = sessionbot("sessions", "list", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("sessionbot: error: " + expected), result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_settings_come_from_dotenv_and_the_key_is_never_printed(
    env: dict[str, str], threaded_openai: FakeOpenAI, tmp_path: Path
) -> None:
    secret = "sk-very-secret-value-123"
    dotenv = {k: v for k, v in env.items() if k.startswith(("OPENAI", "SESSIONBOT"))}
    dotenv["OPENAI_API_KEY"] = secret
    (tmp_path / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in dotenv.items()), encoding="utf-8"
    )
    bare = {"PATH": env["PATH"], "HOME": env["HOME"], "USER": "tester", "PYTHONPATH": str(REPO)}

    result = sessionbot("-vv", "chat", "--persona", "sara", env=bare, stdin="hi\n", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert threaded_openai.chat_requests[-1].headers["authorization"] == f"Bearer {secret}"
    assert secret not in result.stderr + result.stdout


def test_llm_outage_keeps_the_message_and_exits_1(
    env: dict[str, str], threaded_openai: FakeOpenAI
) -> None:
    threaded_openai.fail_next(503, times=5)
    result = sessionbot("chat", "--persona", "plain", env=env, stdin="anyone?\n")
    assert result.returncode == 1
    assert re.search(r"^error: .+", result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr
    history = read_history(env["SESSIONBOT_DATABASE"], session_id_of(result))
    assert history == [(Role.USER, "anyone?")]


def test_unknown_persona_and_session_fail_with_a_hint(env: dict[str, str]) -> None:
    persona = sessionbot("chat", "--persona", "nobody", env=env, stdin="hi\n")
    assert persona.returncode == 1
    assert "nobody" in persona.stderr
    assert "Traceback" not in persona.stderr

    missing = sessionbot(
        "chat", "--session", "00000000-0000-4000-8000-000000000000", env=env, stdin="hi\n"
    )
    assert missing.returncode == 1
    assert "hint: list sessions with: sessionbot sessions list" in missing.stderr

    bad = sessionbot("chat", "--session", "not-a-uuid", env=env)
    assert bad.returncode == 2
    assert "is not a session id" in bad.stderr


def test_sessions_show_tag_export_and_end(env: dict[str, str]) -> None:
    chat = sessionbot("chat", "--persona", "sara", "--tag", "Intro", env=env, stdin="hello\n")
    sid = str(session_id_of(chat))

    tagged = sessionbot("sessions", "tag", sid, "Follow Up", "intro", env=env)
    assert tagged.stdout.strip() == f"session {sid} tags: follow-up, intro"
    untagged = sessionbot("sessions", "untag", sid, "intro", env=env)
    assert untagged.stdout.strip() == f"session {sid} tags: follow-up"

    shown = sessionbot("sessions", "show", sid, env=env)
    assert f"id:        {sid}" in shown.stdout
    assert "tester: hello" in shown.stdout

    markdown = sessionbot("sessions", "export", sid, "--format", "md", env=env)
    assert "hello" in markdown.stdout and "echo: tester: hello" in markdown.stdout
    exported = json.loads(sessionbot("sessions", "export", sid, env=env).stdout)
    assert exported["session"]["id"] == sid
    assert [m["content"] for m in exported["messages"]][-2:] == ["hello", "echo: tester: hello"]

    ended = sessionbot("sessions", "end", sid, env=env)
    assert ended.returncode == 0
    resumed = sessionbot("chat", "--session", sid, env=env, stdin="hi\n")
    assert resumed.returncode == 1
    assert "has ended" in resumed.stderr and "hint:" in resumed.stderr
    active = json.loads(
        sessionbot("sessions", "list", "--status", "active", "--json", env=env).stdout
    )
    assert sid not in {s["id"] for s in active}


def test_schema_command_prints_the_committed_schema(env: dict[str, str]) -> None:
    result = sessionbot("personas", "schema", env=env)
    assert result.returncode == 0
    committed = (REPO / "personas" / "persona.schema.json").read_text(encoding="utf-8")
    assert json.loads(result.stdout) == json.loads(committed)


def test_sigkill_mid_stream_loses_no_user_message(
    env: dict[str, str], threaded_openai: FakeOpenAI
) -> None:
    threaded_openai.chunk_delay = 0.2
    threaded_openai.queue_reply("a long and slow reply that will never be finished " * 5)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--persona", "plain"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("please remember this\n")
    process.stdin.flush()
    deadline = time.monotonic() + 30
    while not process.stdout.read(1):  # the first streamed characters have arrived
        assert time.monotonic() < deadline
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stdin.close()
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()

    database = env["SESSIONBOT_DATABASE"]
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    history = asyncio.run(_all_messages(database))
    assert (Role.USER, "please remember this") in history
    assert not any(role is Role.ASSISTANT for role, _ in history)


async def _all_messages(database: str) -> list[tuple[Role, str]]:
    async with SessionStore.open(database) as store:
        page = await store.list_sessions(ListQuery())
        assert len(page.items) == 1
        messages = await store.recent_history(page.items[0].id, limit=100)
    return [(m.role, m.content) for m in messages]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SESSIONBOT_PERSONAS", "/nonexistent/personas", "is not a directory"),
        ("SESSIONBOT_DATABASE", "/proc/sessionbot.db", "cannot open /proc/sessionbot.db"),
    ],
)
def test_unusable_paths_are_one_line_config_errors(
    env: dict[str, str], name: str, value: str, expected: str
) -> None:
    env[name] = value
    result = sessionbot("chat", env=env, stdin="hi\n")
    assert result.returncode == 2
    assert result.stderr.startswith(f"sessionbot: error: {name}: "), result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dotenv_that_is_not_utf8_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"SESSIONBOT_MODEL=caf\xe9\n")
    result = sessionbot("sessions", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "sessionbot: error: .env is not UTF-8 text; save it as UTF-8\n"
