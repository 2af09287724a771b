"""One answerer per session: two engines, each with its own store (as two processes have),
answer the same stored message at once (catch-up during a rolling restart); it is answered
once, and the other turn finds it answered and stops before asking the model."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest

from bot.engine import Engine, Incoming
from bot.engine.holding import AlreadySettled
from situations import PersonaRegistry
from storage import Role, Store, open_store
from tests.bot.engines import engine_over
from tests.fakes.openai_server import FakeOpenAI
from tests.postgres_server import NO_POSTGRES, PostgresServer


async def _answer(engine: Engine, session_id: UUID, message_id: int) -> str:
    stored = await engine.stored_message(session_id, message_id)
    assert stored is not None
    return await engine.respond(session_id, stored, place="lab").collect()


async def test_two_engines_on_one_postgres_database_answer_a_message_once(
    postgres: PostgresServer | None, registry: PersonaRegistry, fake_openai: FakeOpenAI
) -> None:
    """PostgreSQL only: on SQLite, one process (one store) per file is the supported set-up."""
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database() as url:
        first, second = await open_store(url), await open_store(url)  # two processes' pools
        try:
            await _answer_at_once(first, second, registry, fake_openai)
        finally:
            await first.close()
            await second.close()


async def _answer_at_once(
    first: Store, second: Store, registry: PersonaRegistry, fake_openai: FakeOpenAI
) -> None:
    async with (
        engine_over(first, registry, fake_openai, default_persona="ada") as one,
        engine_over(second, registry, fake_openai, default_persona="ada") as two,
    ):
        session = (await one.start_session()).session
        message = await one.submit(session.id, Incoming(content="hi", author_name="Ana"))
        fake_openai.chunk_delay = 0.1  # the first answer is still streaming
        results = await asyncio.gather(
            _answer(one, session.id, message.id),
            _answer(two, session.id, message.id),
            return_exceptions=True,
        )
    answers = [r for r in results if isinstance(r, str)]
    assert answers == ["echo: Ana: hi"]
    assert [type(r) for r in results if isinstance(r, BaseException)] == [AlreadySettled]
    assert len(fake_openai.chat_requests) == 1
    history = await first.recent_history(session.id, limit=10)
    assert [m.content for m in history if m.role is Role.ASSISTANT and m.reply_to] == [
        "echo: Ana: hi"
    ]


async def test_a_held_session_is_held_again_by_its_holder_for_free(engine: Engine) -> None:
    session = (await engine.start_session()).session
    async with asyncio.timeout(2), engine.holds.hold(session.id):
        assert engine.holds.holding(session.id)
        async with engine.holds.hold(session.id):  # re-entrant: no deadlock
            await engine.submit(session.id, Incoming(content="hi", author_name="Ana"))
    assert not engine.holds.holding(session.id)
