"""Turns and sessions: what is stored, what the model is sent, and how failures leave things.

Fixtures (a real store, persona files, the real openai client against the fake server) are in
this folder's conftest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, Incoming
from bot.engine.errors import LLMError, PersonaUnavailable, SituationFailed
from bot.runtime import watching
from situations import PersonaRegistry
from storage import Role, Session, SessionStore
from tests.bot.engine.conftest import EngineFor, StartWith, say
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona


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


async def start_templated(
    start_with: StartWith, situation: str, **session: Any
) -> tuple[Engine, Session]:
    """A session with the persona `tpl` ("Tee"), whose situation is a template."""
    return await start_with("tpl", session, name="Tee", render_templates=True, situation=situation)


async def test_templates_render_with_user_place_metadata_and_date(
    store: SessionStore, fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    engine, session = await start_templated(
        start_with,
        "{{ persona }} helps {{ user }} in {{ place }} on {{ date }} ({{ metadata.level }}).",
        metadata={"level": "beginner"},
    )
    await say(engine, session.id, "hi", name="Ana")
    system = fake_openai.chat_requests[-1].body["messages"][0]["content"]
    assert system == "Tee helps Ana in lab on 2026-11-25 (beginner)."
    stored = await store.get_session(session.id)
    assert stored.situation.startswith("{{ persona }}")  # the template is stored, not its output


async def test_template_failure_is_a_clear_error_and_the_message_is_kept(
    store: SessionStore, fake_openai: FakeOpenAI, start_with: StartWith
) -> None:
    # The session's metadata has no "level".
    engine, session = await start_templated(start_with, "Level: {{ metadata.level }}")
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
