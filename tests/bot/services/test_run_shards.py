"""Two `sessionbot run` processes, shards 0 and 1 of 2, sharing one PostgreSQL database.

Each process has its own fake model, so which model was asked tells which process answered.
One process is killed (SIGKILL) in the middle of a reply and started again: no stored message
is lost, no message gets two replies, and the half-shown reply is put right.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import ListQuery, PostgresStore, Role
from tests.fakes.discord_gateway import shard_of
from tests.fakes.discord_server import FakeDiscord, Payload
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import REPO, command_env, write_persona
from tests.postgres_server import NO_POSTGRES, PostgresServer

TOKEN = "sharded-bot-token"
STORY = ["Once ", "upon ", "a ", "time ", "there ", "was ", "a ", "story."]


class ShardProcess:
    """One `sessionbot run` for one shard, its output in a file (never a full pipe)."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.home / f"run-{self.starts}.log"

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env, cwd=self.home,
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


@contextlib.asynccontextmanager
async def shard_process(
    tmp_path: Path, shard: int, fake: FakeDiscord, llm: FakeOpenAI, database: str
) -> AsyncIterator[ShardProcess]:
    home = tmp_path / f"shard-{shard}"
    personas = home / "personas"
    personas.mkdir(parents=True)
    write_persona(personas, "sara", name="Sara", situation="You are Sara.")
    env = command_env(
        home, personas, PYTHONPATH=str(REPO), DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE=fake.api_base, OPENAI_BASE_URL=llm.base_url,
        SESSIONBOT_DATABASE=database, SESSIONBOT_SHARD_COUNT="2", SESSIONBOT_SHARDS=str(shard),
        SESSIONBOT_WEBHOOKS="false",
    )  # fmt: skip
    running = ShardProcess(home, env)
    await running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.returncode is None:
            await running.stop()


def replies(fake: FakeDiscord, message: Payload, *, deleted: bool = False) -> list[str]:
    """The bot's messages replying to `message` (deleted ones only, with `deleted`)."""
    return [
        sent.content
        for sent in fake.sent_messages(int(message["channel_id"]), include_deleted=True)
        if sent.reply_to == int(message["id"]) and sent.deleted == deleted
    ]


def asked(llm: FakeOpenAI) -> list[str]:
    """The last user line of each request a model got."""
    return [r.body["messages"][-1]["content"] for r in llm.chat_requests]


async def test_two_shard_processes_answer_once_each_and_put_right_a_killed_reply(
    tmp_path: Path, postgres: PostgresServer | None
) -> None:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with (
        postgres.fresh_database() as database,
        FakeDiscord(token=TOKEN) as fake,
        FakeOpenAI() as llm0,
        FakeOpenAI() as llm1,
    ):
        owner = fake.add_user("olga")
        even = fake.add_guild("Even", owner_id=owner, shard=(0, 2))
        odd = fake.add_guild("Odd", owner_id=owner, shard=(1, 2))
        assert (shard_of(even, 2), shard_of(odd, 2)) == (0, 1)
        even_room, odd_room = fake.add_channel(even, "general"), fake.add_channel(odd, "general")
        alice = fake.add_user("alice", guilds=[even, odd])
        dm = fake.open_dm(alice)
        mention = f"<@{fake.bot_id}>"
        async with (
            shard_process(tmp_path, 0, fake, llm0, database) as zero,
            shard_process(tmp_path, 1, fake, llm1, database) as one,
        ):
            await fake.wait_until(
                lambda: fake.gateway.shard_ready(0) and fake.gateway.shard_ready(1), timeout=30
            )
            await fake.wait_commands_synced(timeout=30)
            said = [
                await fake.send_message(even_room, alice, f"{mention} hello even"),
                await fake.send_message(odd_room, alice, f"{mention} hello odd"),
                await fake.send_message(dm, alice, "hello in private"),
            ]
            await fake.wait_until(lambda: all(replies(fake, m) for m in said), timeout=30)
            assert sorted(asked(llm0)) == [
                "Alice: @sessionbot hello even",
                "Alice: hello in private",
            ]
            assert asked(llm1) == ["Alice: @sessionbot hello odd"]

            # Shard 1's process is killed while its reply streams, then started again.
            llm1.queue_reply(STORY)
            llm1.chunk_delay = 2.0
            story = await fake.send_message(odd_room, alice, "tell me a story")
            await fake.wait_until(lambda: bool(replies(fake, story)), timeout=15)
            async with PostgresStore.open(database) as store:
                await wait_for_draft(store, story)
                await one.kill()
                llm1.chunk_delay = 0.0
                await one.start()
                await fake.wait_until(lambda: replies(fake, story, deleted=True) != [], timeout=30)
                await fake.wait_until(lambda: len(replies(fake, story)) == 1, timeout=30)
                await asyncio.sleep(1.0)  # a second answer would have come by now
                assert replies(fake, story) == ["echo: Alice: tell me a story"]
                stubs = replies(fake, story, deleted=True)
                assert [stub.strip() for stub in stubs] == ["Once"]  # the stub, gone
                assert asked(llm1)[-1] == "Alice: tell me a story"
                assert all(len(replies(fake, m)) == 1 for m in said)  # nothing answered twice
                await check_stored(store, story)
            assert len(fake.command_syncs) == 1  # by shard 0's process; never by shard 1's
            assert await zero.stop() == 0
            assert await one.stop() == 0
        fake.assert_no_errors()


async def wait_for_draft(store: PostgresStore, story: Payload) -> None:
    """Until the reply being shown has noted its draft (the stub's id) in the database."""
    async with asyncio.timeout(15):
        while True:
            for session in (await store.list_sessions(ListQuery())).items:
                for message in await store.recent_history(session.id, limit=100):
                    noted = message.external_id == story["id"] and await store.draft(
                        session.id, message.id
                    )
                    if noted:
                        return
            await asyncio.sleep(0.05)


async def check_stored(store: PostgresStore, story: Payload) -> None:
    """Every message is stored once; the story has one reply, and no draft is left."""
    for session in (await store.list_sessions(ListQuery())).items:
        history = await store.recent_history(session.id, limit=100)
        external = [m.external_id for m in history if m.external_id is not None]
        assert len(external) == len(set(external))
        for message in history:
            if message.role is Role.USER:
                answers = [m for m in history if m.reply_to == message.id]
                assert len(answers) <= 1
                assert await store.draft(session.id, message.id) is None
            if message.external_id == story["id"]:
                assert [m.content for m in history if m.reply_to == message.id] == [
                    "echo: Alice: tell me a story"
                ]
