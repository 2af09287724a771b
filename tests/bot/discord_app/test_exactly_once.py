"""Every message is answered exactly once: duplicate deliveries, Retry clicks and restarts.

Whether a message is answered is read from the store (a reply with `reply_to` pointing at it),
so it also holds across restarts.
"""

from __future__ import annotations

import asyncio

from tests.bot.discord_app.harness import Harness, text_of
from tests.fakes.discord_server import Payload, SentMessage


def answers(h: Harness, message: Payload) -> list[SentMessage]:
    """The bot's messages that reply to `message` (first parts of replies and errors)."""
    return [s for s in h.fake.sent_messages(h.general) if s.reply_to == int(message["id"])]


async def test_a_message_delivered_twice_is_stored_once_and_answered_once(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    message = await h.fake.send_message(h.general, h.alice, "only once, please")
    await h.fake.redeliver(int(message["id"]))  # while the first delivery is being handled
    await h.settle()
    await h.fake.redeliver(int(message["id"]))  # long after it was answered
    await h.settle()
    assert [a.content for a in answers(h, message)] == ["echo: Alice: only once, please"]
    session = await h.session_here(h.general)
    assert session is not None
    texts = [m.content for m in await h.history(session)]
    assert texts.count("only once, please") == 1
    assert len(h.llm.chat_requests) == 2


async def test_a_replayed_mention_does_not_restart_an_ended_session(h: Harness) -> None:
    mention = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.command("session end", channel=h.general, user=h.alice)
    await h.fake.redeliver(int(mention["id"]))
    await h.settle()
    assert await h.session_here(h.general) is None
    assert len(answers(h, mention)) == 1


async def test_retry_clicked_twice_at_once_gives_one_reply(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "are you there?")
    [error] = answers(h, message)
    [custom_id] = error.custom_ids()
    click = h.fake.invoke_component
    await asyncio.gather(
        click(custom_id, error.id, user_id=h.alice), click(custom_id, error.id, user_id=h.bob)
    )
    await h.settle()
    assert [a.content for a in answers(h, message)] == ["echo: Alice: are you there?"]
    assert error.deleted
    assert len(h.llm.chat_requests) == 3  # hi, the failure, one retry


async def test_retry_on_a_message_answered_meanwhile_says_so_and_sends_nothing(
    h: Harness,
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "are you there?")
    [error] = answers(h, message)
    [custom_id] = error.custom_ids()
    session = await h.session_here(h.general)
    assert session is not None
    stored = (await h.history(session))[-1]
    turn = h.running.engine.respond(session.id, stored, place="#general")
    await turn.collect()  # answered elsewhere (e.g. through the HTTP API) since the failure
    asked = len(h.llm.chat_requests)
    record = await h.fake.invoke_component(custom_id, error.id, user_id=h.alice)
    await h.fake.wait_response(record)
    await h.settle()
    assert "already has its reply" in text_of(record)
    assert len(h.llm.chat_requests) == asked
    assert not error.deleted and len(answers(h, message)) == 1


async def test_a_reply_delivered_before_a_restart_is_never_sent_again(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    message = await h.say(h.general, h.alice, "remember me")
    await h.stop()
    await h.start()
    await h.fake.redeliver(int(message["id"]))  # Discord may deliver it again after a start
    await h.settle()
    assert [a.content for a in answers(h, message)] == ["echo: Alice: remember me"]
    assert len(h.llm.chat_requests) == 2
