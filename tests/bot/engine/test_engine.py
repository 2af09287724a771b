"""The engine against a real SQLite store, real persona files and the real openai client.

The model is the fake OpenAI-compatible server on 127.0.0.1, so every test can check exactly what
was sent to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from bot.engine import Engine, Incoming
from bot.engine.errors import LLMError, PersonaUnavailable, SituationFailed
from bot.llm import OpenAIChatModel
from bot.runtime import watching
from situations import PersonaRegistry
from storage import Role, SessionStore
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

FIXED_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    store = await SessionStore.open(tmp_path / "sessions.db")
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
    store: SessionStore, registry: PersonaRegistry, fake_openai: FakeOpenAI
) -> AsyncIterator[Engine]:
    model = OpenAIChatModel(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
    yield Engine(
        store=store,
        personas=registry,
        model=model,
        default_model="test-model",
        default_persona="ada",
        clock=lambda: FIXED_NOW,
    )
    await model.close()


EngineFor = Callable[[], Awaitable[Engine]]


@pytest.fixture
async def engine_for(
    store: SessionStore, persona_dir: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[EngineFor]:
    """Build an engine over the persona files as they are now (closed at teardown)."""
    models: list[OpenAIChatModel] = []

    async def build() -> Engine:
        registry = PersonaRegistry(persona_dir)
        report = await registry.load()
        assert not report.errors, report.errors
        model = OpenAIChatModel(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
        models.append(model)
        return Engine(
            store=store,
            personas=registry,
            model=model,
            default_model="test-model",
            clock=lambda: FIXED_NOW,
        )

    yield build
    for model in models:
        await model.close()


async def say(engine: Engine, session_id: UUID, text: str, name: str = "Ana") -> str:
    turn = await engine.chat(session_id, Incoming(content=text, author_name=name), place="lab")
    return await turn.collect()


async def test_a_turn_stores_both_sides_and_sends_situation_then_history(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session(user_id="u1")).session
    fake_openai.queue_reply("Hello Ana, what are we building?")

    reply = await say(engine, session.id, "hi there")

    assert reply == "Hello Ana, what are we building?"
    history = await store.recent_history(session.id, limit=10)
    assert [(m.role, m.content) for m in history] == [
        (Role.USER, "hi there"),
        (Role.ASSISTANT, "Hello Ana, what are we building?"),
    ]
    assert history[1].reply_to == history[0].id
    body = fake_openai.chat_requests[-1].body
    assert body["model"] == "test-model"
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "You are Ada, a careful engineer."},
        {"role": "user", "content": "Ana: hi there"},
    ]


async def test_second_turn_carries_the_first_exchange_and_each_author_name(
    engine: Engine, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    await say(engine, session.id, "first", name="Ana")
    await say(engine, session.id, "second", name="Ben")

    messages = fake_openai.chat_requests[-1].body["messages"]
    assert messages[1:] == [
        {"role": "user", "content": "Ana: first"},
        {"role": "assistant", "content": "echo: Ana: first"},
        {"role": "user", "content": "Ben: second"},
    ]


async def test_server_usage_replaces_the_estimate_for_the_reply(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    fake_openai.queue_reply("one two three four five")
    await say(engine, session.id, "count")

    reply = (await store.recent_history(session.id, limit=1))[0]
    assert reply.tokens_source == "usage"
    assert reply.tokens == 5  # the fake counts words
    user = (await store.recent_history(session.id, limit=2))[0]
    assert user.tokens_source == "estimate"
    assert user.tokens > 0


async def test_greeting_is_stored_and_seen_by_the_model(
    fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(persona_dir, "host", name="Host", situation="Be a host.", greeting="Welcome!")
    engine = await engine_for()
    started = await engine.start_session(persona_id="host")
    assert started.greeting is not None
    assert started.greeting.content == "Welcome!"
    await say(engine, started.session.id, "thanks")
    assert fake_openai.chat_requests[-1].body["messages"][1] == {
        "role": "assistant",
        "content": "Welcome!",
    }


async def test_oldest_messages_drop_first_within_the_token_budget(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(persona_dir, "tight", name="T", situation="Short.", context={"token_budget": 100})
    engine = await engine_for()
    session = (await engine.start_session(persona_id="tight")).session
    for i in range(12):
        await engine.submit(
            session.id, Incoming(content=f"message {i} " + "word " * 8, author_name="A")
        )

    context = await engine.preview(session.id, place="lab")

    kept = [m.content.split()[1] for m in context.history]
    assert kept == [str(i) for i in range(12 - len(kept), 12)]  # a contiguous newest suffix
    assert 0 < len(kept) < 12
    assert context.omitted == 12 - len(kept)
    assert context.tokens <= 100


async def test_the_message_being_answered_is_kept_even_over_budget(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(persona_dir, "tiny", name="T", situation="S.", context={"token_budget": 100})
    engine = await engine_for()
    session = (await engine.start_session(persona_id="tiny")).session
    await say(engine, session.id, "word " * 300)
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert sent[-1]["content"].startswith("Ana: word word")


async def test_max_messages_caps_the_history(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(persona_dir, "few", name="F", situation="S.", context={"max_messages": 3})
    engine = await engine_for()
    session = (await engine.start_session(persona_id="few")).session
    for i in range(6):
        await engine.submit(session.id, Incoming(content=f"m{i}", author_name="A"))
    context = await engine.preview(session.id, place="lab")
    assert [m.content for m in context.history] == ["m3", "m4", "m5"]
    assert context.omitted >= 1


async def test_summarize_folds_overflow_into_the_summary_once(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(
        persona_dir,
        "gm",
        name="GM",
        situation="Narrate.",
        context={"max_messages": 6, "overflow": "summarize"},
    )
    engine = await engine_for()
    session = (await engine.start_session(persona_id="gm")).session
    for i in range(7):
        await engine.submit(session.id, Incoming(content=f"m{i}", author_name="A"))
    fake_openai.queue_reply("SUMMARY: A said m0 to m3.")
    fake_openai.queue_reply("The story goes on.")

    turn = await engine.chat(session.id, Incoming(content="m7", author_name="A"), place="lab")
    assert await turn.collect() == "The story goes on."

    summary_request, reply_request = fake_openai.chat_requests[-2:]
    assert summary_request.body.get("stream") is not True
    assert "A: m0" in summary_request.body["messages"][1]["content"]
    stored = await store.get_session(session.id)
    assert stored.summary == "SUMMARY: A said m0 to m3."
    assert turn.context is not None and turn.context.summarized == 5
    system = reply_request.body["messages"][0]["content"]
    assert system.startswith("Narrate.") and "SUMMARY: A said m0 to m3." in system
    assert [m["content"] for m in reply_request.body["messages"][1:]] == ["A: m5", "A: m6", "A: m7"]

    await say(engine, session.id, "m8", name="A")  # fits again: no second summary call
    assert len(fake_openai.chat_requests) == 3


async def test_failed_summary_falls_back_to_truncation(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(
        persona_dir,
        "gm",
        name="GM",
        situation="Narrate.",
        context={"max_messages": 2, "overflow": "summarize"},
    )
    engine = await engine_for()
    session = (await engine.start_session(persona_id="gm")).session
    for i in range(4):
        await engine.submit(session.id, Incoming(content=f"m{i}", author_name="A"))
    fake_openai.fail_next(400)
    reply = await say(engine, session.id, "m4", name="A")
    assert reply == "echo: A: m4"
    assert (await store.get_session(session.id)).summary is None


async def test_llm_failure_keeps_the_user_message_and_stores_no_reply(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    fake_openai.fail_next(500)
    with pytest.raises(LLMError):
        await say(engine, session.id, "are you there?")
    history = await store.recent_history(session.id, limit=10)
    assert [(m.role, m.content) for m in history] == [(Role.USER, "are you there?")]

    retry = engine.respond(session.id, history[0], place="lab")  # e.g. a Retry button
    assert await retry.collect() == "echo: Ana: are you there?"
    assert await store.count_messages(session.id) == 2


async def test_stream_broken_midway_stores_no_partial_reply(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    fake_openai.queue_reply("this reply will be cut off before it ends")
    fake_openai.break_stream_after(3)
    with pytest.raises(LLMError):
        await say(engine, session.id, "tell me a story")
    assert await store.count_messages(session.id) == 1


async def test_edited_persona_applies_to_the_next_reply_and_is_recorded(
    engine: Engine,
    store: SessionStore,
    registry: PersonaRegistry,
    persona_dir: Path,
    fake_openai: FakeOpenAI,
) -> None:
    session = (await engine.start_session()).session
    old_version = session.persona_version
    write_persona(persona_dir, "ada", name="Ada", situation="You are Ada, now terse.")
    await registry.load()

    await say(engine, session.id, "hello")

    assert fake_openai.chat_requests[-1].body["messages"][0]["content"] == "You are Ada, now terse."
    stored = await store.get_session(session.id)
    assert stored.situation == "You are Ada, now terse."
    assert stored.persona_version == registry.get("ada").version != old_version


async def test_hand_set_situation_does_not_follow_the_persona(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = await store.create_session(agent_id="ada", situation="You are a custom bot.")
    await say(engine, session.id, "hello")
    assert fake_openai.chat_requests[-1].body["messages"][0]["content"] == "You are a custom bot."


async def test_removed_persona_answers_clearly_and_keeps_the_session(
    engine: Engine,
    store: SessionStore,
    registry: PersonaRegistry,
    persona_dir: Path,
) -> None:
    session = (await engine.start_session()).session
    (persona_dir / "ada.yaml").unlink()
    await registry.load()

    with pytest.raises(PersonaUnavailable, match="ada"):
        await say(engine, session.id, "still there?")

    assert (await store.get_session(session.id)).agent_id == "ada"
    assert [m.content for m in await store.recent_history(session.id, limit=5)] == ["still there?"]


async def test_templates_render_with_user_place_metadata_and_date(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(
        persona_dir,
        "tpl",
        name="Tee",
        render_templates=True,
        situation="{{ persona }} helps {{ user }} in {{ place }} on {{ date }} "
        "({{ metadata.level }}).",
    )
    engine = await engine_for()
    session = (await engine.start_session(persona_id="tpl", metadata={"level": "beginner"})).session
    await say(engine, session.id, "hi", name="Ana")
    system = fake_openai.chat_requests[-1].body["messages"][0]["content"]
    assert system == "Tee helps Ana in lab on 2026-11-25 (beginner)."
    stored = await store.get_session(session.id)
    assert stored.situation.startswith("{{ persona }}")  # the template is stored, not its output


async def test_template_failure_is_a_clear_error_and_the_message_is_kept(
    store: SessionStore, fake_openai: FakeOpenAI, persona_dir: Path, engine_for: EngineFor
) -> None:
    write_persona(
        persona_dir,
        "tpl",
        name="Tee",
        render_templates=True,
        situation="Level: {{ metadata.level }}",
    )
    engine = await engine_for()
    session = (await engine.start_session(persona_id="tpl")).session  # no "level" in metadata
    with pytest.raises(SituationFailed, match="tpl"):
        await say(engine, session.id, "hi")
    assert await store.count_messages(session.id) == 1
    assert fake_openai.chat_requests == []


async def test_replies_in_one_session_come_in_order(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    fake_openai.chunk_delay = 0.01
    first = await engine.submit(session.id, Incoming(content="one", author_name="A"))
    second = await engine.submit(session.id, Incoming(content="two", author_name="B"))

    replies = await asyncio.gather(
        engine.respond(session.id, first, place="lab").collect(),
        engine.respond(session.id, second, place="lab").collect(),
    )

    assert replies == ["echo: A: one", "echo: B: two"]
    history = await store.recent_history(session.id, limit=10)
    assert [m.content for m in history] == ["one", "two", "echo: A: one", "echo: B: two"]
    # The second reply saw the conversation in conversation order, not in storage order.
    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]]
    assert sent == ["A: one", "echo: A: one", "B: two"]
    assert len(engine.locks) == 0


async def test_a_reply_sees_later_messages_only_after_answering_them(
    engine: Engine, store: SessionStore, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    first = await engine.submit(session.id, Incoming(content="one", author_name="A"))
    await engine.submit(session.id, Incoming(content="two", author_name="B"))
    await engine.respond(session.id, first, place="lab").collect()
    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]]
    assert sent == ["A: one"]


async def test_hot_reload_reaches_a_running_conversation(
    engine: Engine,
    registry: PersonaRegistry,
    persona_dir: Path,
    fake_openai: FakeOpenAI,
) -> None:
    session = (await engine.start_session()).session
    async with watching(registry):
        async with asyncio.timeout(5):
            while not registry.is_watching:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        generation = registry.generation
        write_persona(persona_dir, "ada", name="Ada", situation="You are Ada, reloaded.")
        async with asyncio.timeout(5):  # a bound on liveness; the watcher debounces ~0.1 s
            while registry.generation == generation:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await say(engine, session.id, "hello")
    assert fake_openai.chat_requests[-1].body["messages"][0]["content"] == "You are Ada, reloaded."


async def test_a_burst_of_waiting_messages_does_not_shrink_the_window(
    persona_dir: Path, fake_openai: FakeOpenAI, engine_for: EngineFor
) -> None:
    write_persona(persona_dir, "few", name="F", situation="S.", context={"max_messages": 3})
    engine = await engine_for()
    session = (await engine.start_session(persona_id="few")).session
    stored = [
        await engine.submit(session.id, Incoming(content=f"a{i}", author_name="A"))
        for i in range(6)
    ]
    for i in range(3):  # arrive while the reply to a5 is still to come
        await engine.submit(session.id, Incoming(content=f"b{i}", author_name="B"))

    await engine.respond(session.id, stored[-1], place="lab").collect()

    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]]
    assert sent == ["A: a3", "A: a4", "A: a5"]
