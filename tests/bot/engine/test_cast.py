"""Several personas in one session: who answers, what each sees, switching the main one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine, Incoming
from bot.engine.cast import AlreadyIn, AlreadyMain, MainStays, NotInSession, named_first
from bot.engine.errors import PersonaUnavailable
from bot.engine.regenerate import Regeneration
from situations import PersonaRegistry
from storage import Role, Store
from tests.bot.engine.conftest import EngineFor
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona


@pytest.fixture
async def engine2(persona_dir: Path, engine_for: EngineFor) -> Engine:
    """Ada (the default) and Bob, a second persona with a situation of his own."""
    write_persona(persona_dir, "bob", name="Bob", situation="You are Bob, a cheerful baker.")
    return await engine_for()


async def answer(
    engine: Engine, session_id: object, text: str, replied_to: str | None = None
) -> str:
    session = await engine.session(session_id)  # type: ignore[arg-type]
    stored = await engine.submit(session.id, Incoming(content=text, author_name="Ana"))
    speaker = await engine.cast.speaker(session, text, replied_to)
    return await engine.respond(session.id, stored, place="lab", speaker=speaker).collect()


def test_a_persona_is_named_as_a_whole_word_in_any_case(registry: PersonaRegistry) -> None:
    ada = registry.get("ada")
    assert named_first("hey ADA, hi", [ada]) is ada
    assert named_first("Adamant people", [ada]) is None


async def test_the_named_persona_answers_and_sees_the_others_lines_by_name(
    engine2: Engine, store: Store, fake_openai: FakeOpenAI
) -> None:
    session = (await engine2.start_session(persona_id="ada")).session
    assert await engine2.cast.add(session.id, "bob") == ["ada", "bob"]
    await answer(engine2, session.id, "hello everyone")  # nobody named: Ada, the main one
    await answer(engine2, session.id, "bob, what do you bake?")
    messages = fake_openai.chat_requests[-1].body["messages"]
    assert messages[0]["content"].startswith("You are Bob, a cheerful baker.")
    assert "Other personas in this conversation: Ada." in messages[0]["content"]
    assert messages[1:] == [
        {"role": "user", "content": "Ana: hello everyone"},
        {"role": "user", "content": "Ada: echo: Ana: hello everyone"},
        {"role": "user", "content": "Ana: bob, what do you bake?"},
    ]
    replies = [
        m for m in await store.recent_history(session.id, limit=10) if m.role is Role.ASSISTANT
    ]
    assert [(m.author_id, m.author_name) for m in replies] == [("ada", "Ada"), ("bob", "Bob")]
    await answer(engine2, session.id, "and you?", replied_to="ada")  # a reply to Ada's line
    messages = fake_openai.chat_requests[-1].body["messages"]
    assert messages[0]["content"].startswith("You are Ada")
    assert messages[2] == {"role": "assistant", "content": "echo: Ana: hello everyone"}
    assert messages[4] == {"role": "user", "content": "Bob: echo: Ana: bob, what do you bake?"}


async def test_adding_and_removing_personas_is_checked(engine2: Engine) -> None:
    session = (await engine2.start_session(persona_id="ada")).session
    with pytest.raises(AlreadyMain):
        await engine2.cast.add(session.id, "ada")
    with pytest.raises(PersonaUnavailable):
        await engine2.cast.add(session.id, "nobody")
    await engine2.cast.add(session.id, "bob")
    with pytest.raises(AlreadyIn):
        await engine2.cast.add(session.id, "bob")
    with pytest.raises(MainStays):
        await engine2.cast.remove(session.id, "ada")
    assert await engine2.cast.remove(session.id, "bob") == ["ada"]
    with pytest.raises(NotInSession):
        await engine2.cast.remove(session.id, "bob")


async def test_a_switch_is_noted_in_the_history_and_the_next_reply_uses_the_new_situation(
    engine2: Engine, store: Store, fake_openai: FakeOpenAI
) -> None:
    session = (await engine2.start_session(persona_id="ada")).session
    await answer(engine2, session.id, "hi")
    switched = await engine2.cast.switch(session.id, "bob", by="Ana")
    assert (switched.agent_id, switched.situation) == ("bob", "You are Bob, a cheerful baker.")
    assert switched.follows_persona
    note = (await store.recent_history(session.id, limit=10))[-1]
    assert note.role is Role.SYSTEM
    assert note.content == "Ana switched the persona from Ada to Bob; Bob speaks from here on."
    await answer(engine2, session.id, "hello?")
    messages = fake_openai.chat_requests[-1].body["messages"]
    assert messages[0]["content"] == "You are Bob, a cheerful baker."
    assert messages[1:] == [
        {"role": "user", "content": "Ana: hi"},
        {"role": "user", "content": "Ada: echo: Ana: hi"},
        {"role": "system", "content": note.content},
        {"role": "user", "content": "Ana: hello?"},
    ]
    with pytest.raises(AlreadyMain):
        await engine2.cast.switch(session.id, "bob", by=None)


async def test_a_regenerated_reply_is_written_again_by_the_persona_that_wrote_it(
    engine2: Engine, fake_openai: FakeOpenAI
) -> None:
    session = (await engine2.start_session(persona_id="ada")).session
    await engine2.cast.add(session.id, "bob")
    await answer(engine2, session.id, "bob, what do you bake?")
    first = fake_openai.chat_requests[-1].body["messages"]
    [reply] = [m for m in await engine2.history(session.id) if m.role is Role.ASSISTANT]
    fake_openai.queue_reply("Sourdough, mostly.")
    regeneration = Regeneration(engine2, session.id, reply.id, place="lab")
    assert "".join([delta async for delta in regeneration.stream()]) == "Sourdough, mostly."
    assert fake_openai.chat_requests[-1].body["messages"] == first  # Bob's context, again
    shown = await engine2.stored_message(session.id, reply.id)
    assert shown is not None
    assert (shown.author_id, shown.content) == ("bob", "Sourdough, mostly.")


async def test_personas_changed_by_another_process_are_seen_once_the_recent_read_expires(
    engine2: Engine, store: Store
) -> None:
    session = (await engine2.start_session(persona_id="ada")).session
    assert await engine2.cast.others(session.id) == []
    await store.add_session_agent(session.id, "bob")  # as another process would
    assert await engine2.cast.others(session.id) == []  # one read serves a message's turn
    engine2.cast.recent.entries[session.id] = (0.0, [])  # ... for RECENT_SECONDS only
    assert await engine2.cast.others(session.id) == ["bob"]
    assert await engine2.cast.remove(session.id, "bob") == ["ada"]  # this engine's own
    assert await engine2.cast.others(session.id) == []  # change shows at once
