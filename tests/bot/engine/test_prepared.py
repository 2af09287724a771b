"""A message's way in and its answer, each read in one round trip to the store.

`Engine.arrival` reads the place's session and whether the message is stored already; a turn
reads the session, whether its message is settled, the drafts and the history at once
(`Turn.prepare`, or at the start of `stream()`), and reads again whenever what it read may have
changed before the reply starts: the guarantees stay those of separate reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from bot.engine import Engine, Incoming
from bot.engine.holding import AlreadySettled
from situations import PersonaRegistry
from storage import Role, Store
from storage.errors import AnsweredMessageGone
from tests.bot.engine.conftest import submit_all
from tests.bot.engines import engine_over
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

# Calls that are not a read or write of the conversation (a hold is a lock, not a read).
NOT_COUNTED = frozenset({"hold_session"})


class CountingStore:
    """A real store that records which of its methods are called (the round trips)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if not callable(attribute) or name in NOT_COUNTED:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
async def counted(
    store: Store, registry: PersonaRegistry, fake_openai: FakeOpenAI
) -> Any:  # an async generator of (engine, counting store)
    counting = CountingStore(store)
    options = {"default_persona": "ada"}
    async with engine_over(cast(Store, counting), registry, fake_openai, **options) as engine:
        yield engine, counting


async def _asked(engine: Engine, text: str = "hi") -> tuple[Any, Any]:
    session = (await engine.start_session(persona_id="ada", binding_key="here")).session
    message = await engine.submit(session.id, Incoming(content=text, author_name="Ana"))
    return session, message


async def test_an_arrival_is_one_read_and_its_personas_need_no_other(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, store = counted
    session, _ = await _asked(engine)
    store.calls.clear()
    arrival = await engine.arrival("here", "ext-1")
    assert arrival.session is not None
    assert (arrival.session.id, arrival.seen) == (session.id, False)
    assert await engine.cast.ids(arrival.session) == ["ada"]
    assert store.calls == ["arrival"]


async def test_a_replayed_message_arrives_seen_and_is_not_stored_again(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, _ = counted
    session, _ = await _asked(engine)
    incoming = Incoming(content="again?", author_name="Ana", external_id="ext-9")
    await engine.submit(session.id, incoming)
    assert (await engine.arrival("here", "ext-9")).seen
    assert (await engine.arrival("elsewhere", "ext-9")).session is None


async def test_a_message_arriving_with_its_text_is_stored_in_the_same_round_trip(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, store = counted
    session, _ = await _asked(engine)
    incoming = Incoming(content="new here", author_name="Ana", author_id="42")
    store.calls.clear()
    arrival = await engine.arrival("here", "ext-5", storing=incoming)
    assert store.calls == ["arrival"]
    assert arrival.stored is not None
    assert (arrival.stored.content, arrival.stored.external_id) == ("new here", "ext-5")
    again = await engine.arrival("here", "ext-5", storing=incoming)  # replayed
    assert (again.seen, again.stored) == (True, None)
    history = await engine.history(session.id)
    assert [m.content for m in history].count("new here") == 1


async def test_a_prepared_turn_answers_from_one_read_and_one_write(
    counted: tuple[Engine, CountingStore], fake_openai: FakeOpenAI
) -> None:
    engine, store = counted
    session, message = await _asked(engine)
    store.calls.clear()
    async with engine.holds.hold(session.id):
        turn = engine.respond(session.id, message, place="lab")
        state = await turn.prepare()
        assert (state.settled, state.drafts) == (False, ())
        assert await turn.collect() == "echo: Ana: hi"
    assert store.calls == ["turn_state", "append_message"]
    assert len(fake_openai.chat_requests) == 1


async def test_a_turn_not_prepared_reads_once_too(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, store = counted
    session, message = await _asked(engine)
    store.calls.clear()
    assert await engine.respond(session.id, message, place="lab").collect() == "echo: Ana: hi"
    assert store.calls == ["turn_state", "append_message"]


async def test_a_prepared_answered_message_is_settled_and_never_answered_twice(
    engine: Engine, fake_openai: FakeOpenAI
) -> None:
    session, message = await _asked(engine)
    await engine.respond(session.id, message, place="lab").collect()
    async with engine.holds.hold(session.id):
        turn = engine.respond(session.id, message, place="lab")
        assert (await turn.prepare()).settled
        with pytest.raises(AlreadySettled):
            await turn.collect()
    assert len(fake_openai.chat_requests) == 1


async def test_a_prepare_finds_the_draft_a_dead_process_left_and_the_turn_reads_again(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, store = counted
    session, message = await _asked(engine)
    await engine.drafts.note(session.id, message.id, target="bot", posted=["11"])  # then died
    store.calls.clear()
    async with engine.holds.hold(session.id):
        turn = engine.respond(session.id, message, place="lab")
        state = await turn.prepare()
        assert [(d.message_id, d.posted) for d in state.drafts] == [(message.id, ("11",))]
        await engine.drafts.clear(session.id, message.id)  # put right by the front end
        await turn.collect()
    assert store.calls == ["turn_state", "clear_draft", "turn_state", "append_message"]


async def test_a_clear_between_prepare_and_reply_is_seen_and_no_reply_is_stored(
    engine: Engine, fake_openai: FakeOpenAI
) -> None:
    session, message = await _asked(engine, "my secret")
    async with engine.holds.hold(session.id):
        turn = engine.respond(session.id, message, place="lab")
        await turn.prepare()
        assert await engine.clear_history(session.id) == 1
        with pytest.raises(AnsweredMessageGone):
            await turn.collect()
    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"]]
    assert not any("my secret" in text for text in sent)  # the cleared history was not sent
    assert await engine.history(session.id) == []


async def test_a_persona_switch_between_prepare_and_reply_is_answered_by_the_new_persona(
    persona_dir: Path, engine_for: Callable[[], Any]
) -> None:
    write_persona(persona_dir, "bea", name="Bea", situation="You are Bea.")
    engine: Engine = await engine_for()
    session, message = await _asked(engine)
    async with engine.holds.hold(session.id):
        turn = engine.respond(session.id, message, place="lab")
        await turn.prepare()
        await engine.cast.switch(session.id, "bea", by="Ana")
        await turn.collect()
    assert turn.reply is not None
    assert (turn.reply.author_id, turn.reply.role) == ("bea", Role.ASSISTANT)


async def test_a_window_wider_than_guessed_is_read_again_in_full(
    store: Store, persona_dir: Path, fake_openai: FakeOpenAI
) -> None:
    write_persona(persona_dir, "wide", name="W", situation="S.", context={"max_messages": 60})
    registry = PersonaRegistry(persona_dir)
    await registry.load()
    async with engine_over(store, registry, fake_openai, default_persona="ada") as engine:
        session = (await engine.start_session(persona_id="wide")).session
        stored = await submit_all(engine, session.id, [f"m{i}" for i in range(55)])
        # No speaker named: the read is sized for the default persona's window (40 messages).
        turn = engine.respond(session.id, stored[-1], place="lab")
        await turn.collect()
    assert turn.context is not None
    assert [m.content for m in turn.context.history] == [f"m{i}" for i in range(55)]


async def test_a_turn_prepared_under_a_hold_since_let_go_reads_again(
    counted: tuple[Engine, CountingStore],
) -> None:
    engine, store = counted
    session, message = await _asked(engine)
    turn = engine.respond(session.id, message, place="lab")
    async with engine.holds.hold(session.id):
        await turn.prepare()
    store.calls.clear()
    await turn.collect()  # another answerer may have come in between: read again
    assert store.calls == ["turn_state", "append_message"]
