"""`sessionbot run` as a user starts it: a subprocess against the fake Discord and fake OpenAI."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

from storage import ListQuery, Role, SessionStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, command_env, write_persona

TOKEN = "subprocess-bot-token"


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    personas = tmp_path / "personas"
    personas.mkdir(exist_ok=True)
    write_persona(personas, "sara", name="Sara", situation="You are Sara.")
    return command_env(tmp_path, personas, PYTHONPATH=str(REPO), **extra)


def connected(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, **extra: str) -> dict[str, str]:
    """The environment of a bot that reaches `fake` with its token and `llm` as its model."""
    return environment(
        tmp_path,
        **{
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": fake.api_base,
            "OPENAI_BASE_URL": llm.base_url,
            **extra,
        },
    )


def general_and_alice(fake: FakeDiscord) -> tuple[int, int]:
    """A guild with a #general channel and alice in it: the channel and alice's ids."""
    guild = fake.add_guild("Test Server")
    return fake.add_channel(guild, "general"), fake.add_user("alice", guilds=[guild])


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


async def start_up_error(env: dict[str, str], cwd: Path) -> str:
    """Run `sessionbot run`, which must stop at start-up with exit status 2; its stderr."""
    process = await sessionbot_run(env, cwd)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2, stderr.decode()
    return stderr.decode()


async def api_url_after_a_reply(
    process: asyncio.subprocess.Process, fake: FakeDiscord, general: int, alice: int
) -> str:
    """The HTTP API's URL as `sessionbot run` prints it, once the bot answered a mention."""
    assert process.stderr is not None
    line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
    while not line.startswith(b"serving the HTTP API on "):
        line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
    await fake.wait_ready(timeout=30)
    await fake.send_message(general, alice, f"<@{fake.bot_id}> hello")
    await fake.wait_until(lambda: len(fake.webhooks.sent(general)) > 0, timeout=15)
    return line.decode().split()[-1]


async def test_run_connects_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        general, alice = general_and_alice(fake)
        env = connected(tmp_path, fake, llm)
        process = await sessionbot_run(env, tmp_path)
        try:
            await fake.wait_ready(timeout=30)
            commands = await fake.wait_commands_synced(timeout=30)
            assert {command["name"] for command in commands} == {"session", "persona", "usage"}
            await fake.send_message(general, alice, f"<@{fake.bot_id}> hello")
            await fake.wait_until(  # the persona answers through a webhook, by default
                lambda: any(
                    m.content == "-# ↪ Alice\necho: Alice: @sessionbot hello"
                    for m in fake.webhooks.sent(general)
                ),
                timeout=15,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        assert process.returncode == 0, stderr.decode()
        assert stderr.decode().splitlines()[-1] == "stopped"
        assert "voice will NOT be supported" not in stderr.decode()  # a text-only bot
        assert [r for r in fake.requests if r.path.endswith("/gateway/bot")]
    async with SessionStore.open(tmp_path / "sessionbot.db") as store:
        [session] = (await store.list_sessions(ListQuery())).items
        history = await store.recent_history(session.id, limit=10)
        assert [m.role for m in history] == [Role.USER, Role.ASSISTANT]


async def test_run_also_serves_the_http_api_when_a_port_is_set(tmp_path: Path) -> None:
    api_token = "an-api-token-of-some-length"
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        general, alice = general_and_alice(fake)
        env = connected(
            tmp_path, fake, llm, SESSIONBOT_API_PORT="0", SESSIONBOT_API_TOKEN=api_token
        )
        process = await sessionbot_run(env, tmp_path)
        try:
            url = await api_url_after_a_reply(process, fake, general, alice)
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
        env = connected(tmp_path, fake, llm, DISCORD_TOKEN="wrong-token")
        text = await start_up_error(env, tmp_path)
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
        text = await start_up_error(env, tmp_path)
    assert "sessionbot: error: cannot reach Discord at http://127.0.0.1:9/api/v10" in text
    assert "hint: check DISCORD_API_BASE" in text
    assert "Traceback" not in text
    assert TOKEN not in text


async def test_run_with_a_dev_guild_the_bot_is_not_in_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    async with FakeDiscord(token=TOKEN) as fake, FakeOpenAI() as llm:
        env = connected(tmp_path, fake, llm, SESSIONBOT_DEV_GUILD="123456789012345678")
        text = await start_up_error(env, tmp_path)
    assert (
        "sessionbot: error: Discord refused the slash commands for SESSIONBOT_DEV_GUILD "
        "123456789012345678 (404: Unknown Guild)"
    ) in text
    assert "hint: check SESSIONBOT_DEV_GUILD" in text
    assert "Traceback" not in text
