"""Regenerating the newest reply with the context it had, and swiping between alternatives."""

from __future__ import annotations

import pytest

from bot.engine import Engine, Incoming
from bot.engine.regenerate import NotRegenerable, Regeneration, choose
from tests.bot.engine.conftest import StartWith
from tests.fakes.openai_server import FakeOpenAI


def history_sent(fake_openai: FakeOpenAI) -> list[str]:
    body = fake_openai.chat_requests[-1].body
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


async def test_a_regeneration_sees_what_the_reply_saw_and_not_what_came_after(
    engine: Engine, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    fake_openai.queue_reply("First.")
    asked = await engine.submit(session.id, Incoming("question", "Ana"))
    await engine.respond(session.id, asked, place="lab").collect()
    original = history_sent(fake_openai)
    await engine.submit(session.id, Incoming("a later message, still waiting", "Bo"))
    [reply] = [m for m in await engine.history(session.id) if m.reply_to == asked.id]
    fake_openai.queue_reply("Second.")
    regeneration = Regeneration(engine, session.id, reply.id, place="lab")
    assert "".join([delta async for delta in regeneration.stream()]) == "Second."
    assert history_sent(fake_openai) == original
    assert regeneration.swipe is not None
    assert (regeneration.swipe.index, regeneration.swipe.count) == (1, 2)
    back = await choose(engine, session.id, reply.id, -1)
    assert (back.reply.content, back.index, back.count) == ("First.", 0, 2)
    forward = await choose(engine, session.id, reply.id, 3)  # wraps around
    assert (forward.reply.content, forward.index) == ("Second.", 1)


async def test_only_the_newest_reply_can_be_regenerated(
    engine: Engine, fake_openai: FakeOpenAI
) -> None:
    session = (await engine.start_session()).session
    first = await engine.submit(session.id, Incoming("one", "Ana"))
    await engine.respond(session.id, first, place="lab").collect()
    second = await engine.submit(session.id, Incoming("two", "Ana"))
    await engine.respond(session.id, second, place="lab").collect()
    [old] = [m for m in await engine.history(session.id) if m.reply_to == first.id]
    requests = len(fake_openai.chat_requests)
    with pytest.raises(NotRegenerable):
        async for _ in Regeneration(engine, session.id, old.id, place="lab").stream():
            pass
    with pytest.raises(NotRegenerable):
        await choose(engine, session.id, first.id, 1)  # not a reply at all
    assert len(fake_openai.chat_requests) == requests


async def test_alternate_greetings_are_alternatives_of_the_greeting(
    start_with: StartWith,
) -> None:
    engine, session = await start_with(
        "mia", name="Mia", situation="You are Mia.", greeting="Hi!",
        alternate_greetings=["Hello!", "Hey there."],
    )  # fmt: skip
    [greeting] = await engine.history(session.id)
    variants = await engine.store.variants(session.id, greeting.id)
    assert [(v.content, v.chosen) for v in variants] == [
        ("Hi!", True), ("Hello!", False), ("Hey there.", False),
    ]  # fmt: skip
    swiped = await choose(engine, session.id, greeting.id, 1)
    assert (swiped.reply.content, swiped.index, swiped.count) == ("Hello!", 1, 3)
