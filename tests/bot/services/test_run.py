"""`sessionbot run` as a user starts it: a subprocess against the fake Discord and fake OpenAI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from storage import Role, SessionStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

REPO = Path(__file__).resolve().parents[3]
TOKEN = "subprocess-bot-token"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    write_persona(personas, "sara", name="Sara", situation="You are Sara.")
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "SESSIONBOT_MODEL": "fake-model",
        "SESSIONBOT_DATABASE": str(tmp_path / "sessionbot.db"),
        "SESSIONBOT_PERSONAS": str(personas),
        "SESSIONBOT_LLM_RETRIES": "0",
        **extra,
    }


async def sessionbot_run(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_run_connects_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        guild = fake.add_guild("Test Server")
        general = fake.add_channel(guild, "general")
        alice = fake.add_user("alice", guilds=[guild])
        env = environment(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=fake.api_base,
            OPENAI_BASE_URL=llm.base_url,
        )
        process = await sessionbot_run(env, tmp_path)
        try:
            await fake.wait_ready(timeout=30)
            commands = await fake.wait_commands_synced(timeout=30)
            assert {command["name"] for command in commands} == {"session", "persona"}
            await fake.send_message(general, alice, f"<@{fake.bot_id}> hello")
            await fake.wait_until(
                lambda: any(
                    m.content == "echo: Alice: @sessionbot hello"
                    for m in fake.sent_messages(general)
                ),
                timeout=15,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, stderr.decode()
        assert stderr.decode().splitlines()[-1] == "stopped"
        assert [r for r in fake.requests if r.path.endswith("/gateway/bot")]
    async with SessionStore.open(tmp_path / "sessionbot.db") as store:
        [session] = (await store.list_sessions()).items
        history = await store.recent_history(session.id, limit=10)
        assert [m.role for m in history] == [Role.USER, Role.ASSISTANT]


async def test_run_also_serves_the_http_api_when_a_port_is_set(tmp_path: Path) -> None:
    api_token = "an-api-token-of-some-length"
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        guild = fake.add_guild("Test Server")
        general = fake.add_channel(guild, "general")
        alice = fake.add_user("alice", guilds=[guild])
        env = environment(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=fake.api_base,
            OPENAI_BASE_URL=llm.base_url,
            SESSIONBOT_API_PORT="0",
            SESSIONBOT_API_TOKEN=api_token,
        )
        process = await sessionbot_run(env, tmp_path)
        try:
            assert process.stderr is not None
            line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
            while not line.startswith(b"serving the HTTP API on "):
                line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
            url = line.decode().split()[-1]
            await fake.wait_ready(timeout=30)
            await fake.send_message(general, alice, f"<@{fake.bot_id}> hello")
            await fake.wait_until(lambda: len(fake.sent_messages(general)) > 0, timeout=15)
            headers = {"Authorization": f"Bearer {api_token}"}
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url}/sessions", headers=headers) as response,
            ):
                assert response.status == 200
                body = await response.json()
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0
    [session] = body["items"]
    assert session["metadata"]["channel_id"] == str(general)


async def test_run_without_a_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    process = await sessionbot_run(environment(tmp_path), tmp_path)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert stdout == b""
    assert process.returncode == 2
    lines = stderr.decode().splitlines()
    assert lines == [
        "sessionbot: error: DISCORD_TOKEN is not set; copy the bot token from your application's "
        "Bot page at https://discord.com/developers/applications (see README.md, Discord set-up)."
    ]


async def test_run_with_a_rejected_token_says_so(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        env = environment(
            tmp_path,
            DISCORD_TOKEN="wrong-token",
            DISCORD_API_BASE=fake.api_base,
            OPENAI_BASE_URL=llm.base_url,
        )
        process = await sessionbot_run(env, tmp_path)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    text = stderr.decode()
    assert "sessionbot: error: Discord refused DISCORD_TOKEN" in text
    assert "hint: copy the token again" in text
    assert "wrong-token" not in text


async def test_run_with_an_unreachable_discord_is_one_line_and_exit_2(tmp_path: Path) -> None:
    async with FakeOpenAI() as llm:
        env = environment(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE="http://127.0.0.1:9/api/v10",  # the discard port: nothing listens
            OPENAI_BASE_URL=llm.base_url,
        )
        process = await sessionbot_run(env, tmp_path)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    text = stderr.decode()
    assert "sessionbot: error: cannot reach Discord at http://127.0.0.1:9/api/v10" in text
    assert "hint: check DISCORD_API_BASE" in text
    assert "Traceback" not in text
    assert TOKEN not in text


async def test_run_with_a_dev_guild_the_bot_is_not_in_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        env = environment(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=fake.api_base,
            OPENAI_BASE_URL=llm.base_url,
            SESSIONBOT_DEV_GUILD="123456789012345678",
        )
        process = await sessionbot_run(env, tmp_path)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2, stderr.decode()
    text = stderr.decode()
    assert "sessionbot: error: Discord refused a start-up request" in text
    assert "hint: check SESSIONBOT_DEV_GUILD" in text
    assert "Traceback" not in text
