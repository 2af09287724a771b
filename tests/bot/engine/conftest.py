"""The engine against a real store (SQLite, and PostgreSQL), real persona files and the real
openai client.

The model is the fake OpenAI-compatible server on 127.0.0.1, so every test can check exactly what
was sent to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

import pytest

from bot.engine import Engine, Incoming
from situations import PersonaRegistry
from storage import Message, Session, Store, open_store
from tests.bot.engines import engine_over
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

FIXED_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)

EngineFor = Callable[[], Awaitable[Engine]]


class StartWith(Protocol):
    """Write the persona file `persona_id` with `fields`, build an engine over the persona files
    and start a session with that persona (`session`: more arguments for `start_session`)."""

    async def __call__(
        self, persona_id: str, session: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> tuple[Engine, Session]: ...


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A fresh store, once on SQLite and once on PostgreSQL."""
    store = await open_store(database_url)
    yield store
    await store.close()


@pytest.fixture
def persona_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "personas"
    directory.mkdir()
    write_persona(directory, "ada", name="Ada", situation="You are Ada, a careful engineer.")
    return directory


@pytest.fixture
async def registry(persona_dir: Path) -> PersonaRegistry:
    registry = PersonaRegistry(persona_dir)
    report = await registry.load()
    assert not report.errors
    return registry


@pytest.fixture
async def engine(
    store: Store, registry: PersonaRegistry, fake_openai: FakeOpenAI
) -> AsyncIterator[Engine]:
    options = {"default_persona": "ada", "clock": lambda: FIXED_NOW}
    async with engine_over(store, registry, fake_openai, **options) as engine:
        yield engine


@pytest.fixture
async def engine_for(
    store: Store, persona_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[EngineFor]:
    """Build an engine over the persona files as they are now (closed at teardown)."""
    async with contextlib.AsyncExitStack() as stack:

        async def build() -> Engine:
            registry = PersonaRegistry(persona_dir)
            report = await registry.load()
            assert not report.errors, report.errors
            engine = engine_over(store, registry, fake_openai, clock=lambda: FIXED_NOW)
            return await stack.enter_async_context(engine)

        yield build


@pytest.fixture
def start_with(persona_dir: Path, engine_for: EngineFor) -> StartWith:
    async def start(
        persona_id: str, session: Mapping[str, Any] | None = None, /, **fields: Any
    ) -> tuple[Engine, Session]:
        write_persona(persona_dir, persona_id, **fields)
        engine = await engine_for()
        started = await engine.start_session(persona_id=persona_id, **(session or {}))
        return engine, started.session

    return start


async def say(engine: Engine, session_id: UUID, text: str, name: str = "Ana") -> str:
    turn = await engine.chat(session_id, Incoming(content=text, author_name=name), place="lab")
    return await turn.collect()


async def submit_all(
    engine: Engine, session_id: UUID, texts: Iterable[str], name: str = "A"
) -> list[Message]:
    """Store each text as a user message still waiting for its reply, oldest first."""
    return [
        await engine.submit(session_id, Incoming(content=text, author_name=name)) for text in texts
    ]
