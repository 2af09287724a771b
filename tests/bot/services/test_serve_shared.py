"""`sessionbot serve` on PostgreSQL: the official julep SDK's example, and two servers behind
one database (as behind a load balancer) answering the chats of one session in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from uuid import UUID

import pytest
from julep import AsyncJulep

from storage import PostgresStore, Role
from tests.bot.services import test_serve as served
from tests.fakes.openai_server import FakeOpenAI
from tests.postgres_server import NO_POSTGRES, PostgresServer

CHATS = 6


@pytest.fixture
async def database(postgres: PostgresServer | None) -> AsyncIterator[str]:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database() as url:
        yield url


@pytest.fixture
def pg_env(shipped_env: dict[str, str], database: str) -> dict[str, str]:
    return {**shipped_env, "SESSIONBOT_API_TOKEN": served.TOKEN, "SESSIONBOT_DATABASE": database}


@pytest.fixture
def servers(pg_env: dict[str, str]) -> Iterator[list[served.Server]]:
    running = [served.start(pg_env, "--port", "0") for _ in range(2)]
    yield running
    for server in running:
        if server.process.poll() is None:
            server.stop()


async def test_the_documented_example_works_through_the_sdk_on_postgresql(
    servers: list[served.Server], threaded_openai: FakeOpenAI
) -> None:
    await asyncio.to_thread(
        served.test_the_documented_example_works_through_the_official_sdk, servers[0]
    )
    await asyncio.to_thread(
        served.test_chat_through_the_served_api_is_stored, servers[1], threaded_openai
    )


async def test_chats_of_one_session_through_two_servers_are_answered_in_turn(
    servers: list[served.Server], threaded_openai: FakeOpenAI, database: str
) -> None:
    threaded_openai.chunk_delay = 0.05  # each reply takes a while: chats overlap
    clients = [AsyncJulep(api_key=served.TOKEN, base_url=s.url, max_retries=0) for s in servers]
    try:
        session = await clients[0].sessions.create(agent="sara", user="ana")
        chats = [
            clients[i % 2].sessions.chat(
                session.id, messages=[{"role": "user", "content": f"message {i}"}]
            )
            for i in range(CHATS)
        ]
        await asyncio.gather(*chats)
    finally:
        for client in clients:
            await client.close()
    async with PostgresStore.open(database) as store:
        history = await store.recent_history(UUID(session.id), limit=100)
    turns = [m for m in history if m.reply_to is not None or m.role is Role.USER]
    assert [m.role for m in turns] == [Role.USER, Role.ASSISTANT] * CHATS
    for asked, answer in zip(turns[::2], turns[1::2], strict=True):
        assert answer.reply_to == asked.id  # each reply right after its own message
        assert answer.content == f"echo: ana: {asked.content}"
