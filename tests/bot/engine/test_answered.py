"""What a front end asks to answer each message exactly once: its catch-up point, and whether a
stored message already has its reply (read from the store, so it holds across restarts)."""

from __future__ import annotations

from bot.engine import Engine, Incoming


async def test_latest_external_message_is_the_newest_with_an_external_id(engine: Engine) -> None:
    session = (await engine.start_session()).session
    assert await engine.latest_external_message(session.id) is None
    await engine.submit(session.id, Incoming("one", "Ana", external_id="101"))
    second = await engine.submit(session.id, Incoming("two", "Ana", external_id="102"))
    await engine.submit(session.id, Incoming("from the terminal", "Ana"))  # no external id
    await engine.respond(session.id, second, place="lab").collect()  # replies have none either
    latest = await engine.latest_external_message(session.id)
    assert latest is not None and latest.id == second.id and latest.external_id == "102"


async def test_a_message_is_answered_once_its_reply_is_stored(engine: Engine) -> None:
    session = (await engine.start_session()).session
    first = await engine.submit(session.id, Incoming("one", "Ana", external_id="1"))
    second = await engine.submit(session.id, Incoming("two", "Ana", external_id="2"))
    assert not await engine.answered(session.id, first.id)
    await engine.respond(session.id, second, place="lab").collect()
    assert await engine.answered(session.id, second.id)
    assert not await engine.answered(session.id, first.id)  # only its own reply counts


async def test_a_repeated_external_id_returns_the_stored_message_and_its_answer(
    engine: Engine,
) -> None:
    session = (await engine.start_session()).session
    stored = await engine.submit(session.id, Incoming("hi", "Ana", external_id="7"))
    await engine.respond(session.id, stored, place="lab").collect()
    again = await engine.submit(session.id, Incoming("hi", "Ana", external_id="7"))
    assert again.id == stored.id
    assert await engine.answered(session.id, again.id)
    assert await engine.count_messages(session.id) == 2
