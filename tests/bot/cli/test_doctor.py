"""`sessionbot doctor` as a user runs it: a real subprocess, the fake OpenAI server on
127.0.0.1 and, for the Discord check, the fake Discord (which answers 401 to a wrong token)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, command_env, write_persona

LINE = re.compile(r"^(ok|warn|fail)  [a-z ]+: \S|^      hint: \S")
DISCORD_TOKEN = "the-right-bot-token"
API_KEY = "sk-doctor-secret-key"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    write_persona(personas, "sara", name="Sara", situation="You are Sara.")
    return command_env(tmp_path, personas, PYTHONPATH=str(REPO), OPENAI_API_KEY=API_KEY, **extra)


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    text = output.decode()
    assert all(LINE.match(line) for line in text.splitlines()), text
    return process.returncode, text


async def test_a_good_setup_passes_every_check(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        status, text = await doctor(environment(tmp_path, OPENAI_BASE_URL=llm.base_url), tmp_path)
        [request] = [r for r in llm.requests if r.path.endswith("/chat/completions")]
        assert request.body["max_tokens"] == 1
    assert status == 0, text
    assert "ok    config: " in text
    assert "ok    personas: 1 loaded (sara)" in text
    assert "ok    model: fake-model answered" in text
    assert "warn  database: " in text  # not created yet
    assert "warn  discord: DISCORD_TOKEN is not set" in text
    assert API_KEY not in text


async def test_an_existing_database_is_checked(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        env = environment(tmp_path, OPENAI_BASE_URL=llm.base_url)
        await doctor(env, tmp_path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "sessions", "list", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()  # creates the database
        status, text = await doctor(env, tmp_path)
    assert status == 0, text
    assert re.search(r"ok    database: .*schema version \d+, quick_check ok, 0 active", text)


async def test_a_bad_model_url_is_one_clear_line_and_fails(tmp_path: Path) -> None:
    env = environment(tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    status, text = await doctor(env, tmp_path)
    assert status == 1
    [line] = [line for line in text.splitlines() if line.startswith("fail")]
    assert line.startswith("fail  model: The language model server at http://127.0.0.1:9/v1")
    assert "      hint: check OPENAI_BASE_URL and that the server is running" in text


async def test_a_refused_api_key_is_named_and_never_printed(tmp_path: Path) -> None:
    async with FakeOpenAI(api_key="sk-the-real-one") as llm:
        status, text = await doctor(environment(tmp_path, OPENAI_BASE_URL=llm.base_url), tmp_path)
    assert status == 1
    assert "rejected the API key" in text
    assert "hint: check OPENAI_API_KEY" in text
    assert API_KEY not in text


async def test_a_bad_discord_token_is_one_clear_line_and_fails(tmp_path: Path) -> None:
    async with FakeDiscord(token=DISCORD_TOKEN) as fake, FakeOpenAI() as llm:
        env = environment(
            tmp_path,
            OPENAI_BASE_URL=llm.base_url,
            DISCORD_TOKEN="a-wrong-token",
            DISCORD_API_BASE=fake.api_base,
        )
        status, text = await doctor(env, tmp_path)
    assert status == 1
    [line] = [line for line in text.splitlines() if line.startswith("fail")]
    assert line == "fail  discord: Discord refused DISCORD_TOKEN (GET /users/@me: 401)"
    assert "hint: copy the token again from the Bot page" in text
    assert "a-wrong-token" not in text


async def test_the_right_discord_token_checks_the_message_content_intent(tmp_path: Path) -> None:
    async with FakeDiscord(token=DISCORD_TOKEN) as fake, FakeOpenAI() as llm:
        env = environment(
            tmp_path,
            OPENAI_BASE_URL=llm.base_url,
            DISCORD_TOKEN=DISCORD_TOKEN,
            DISCORD_API_BASE=fake.api_base,
        )
        status, text = await doctor(env, tmp_path)
    assert "ok    discord: token accepted for sessionbot" in text
    # The fake application's flags are 0: the intent is off.
    assert "fail  discord intent: the Message Content intent is off" in text
    assert status == 1
    assert DISCORD_TOKEN not in text


async def test_bad_persona_files_are_reported_with_file_and_line(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        env = environment(tmp_path, OPENAI_BASE_URL=llm.base_url)
        (tmp_path / "personas" / "hot.yaml").write_text(
            "name: Hot\nsituation: hi\ntemperature: 9\n", encoding="utf-8"
        )
        status, text = await doctor(env, tmp_path)
    assert status == 1
    assert re.search(r"^fail  personas: .*hot\.yaml:3: temperature: ", text, re.MULTILINE), text
