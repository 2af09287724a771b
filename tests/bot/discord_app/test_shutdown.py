"""Stopping gracefully: replies in flight get SESSIONBOT_SHUTDOWN_GRACE, then are shown cut off
(never stored as complete); what arrives meanwhile waits in Discord for the next start."""

from __future__ import annotations

from bot.discord_app.shutdown import CUT_OFF_NOTE
from storage import Role
from tests.bot.discord_app.harness import Harness
from tests.fakes.discord_server import Payload

LONG_REPLY = " ".join(f"word{i}" for i in range(60))


async def streaming_reply_to(h: Harness, text: str, chunk_delay: float = 0.2) -> Payload:
    """Post `text` and wait until the bot shows the first words of a slow reply to it."""
    h.llm.chunk_delay = chunk_delay
    h.llm.queue_reply(LONG_REPLY)
    message = await h.fake.send_message(h.general, h.alice, text)
    await h.fake.wait_until(lambda: bool(h.replies_to(message)), timeout=10)
    return message


async def test_a_reply_still_streaming_after_the_grace_is_shown_cut_off_with_retry(
    h: Harness,
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.stop()
    await h.start(shutdown_grace=0.5)
    message = await streaming_reply_to(h, "tell me a long story")
    session = await h.session_here(h.general)
    assert session is not None
    await h.stop()
    [cut] = h.replies_to(message)
    assert cut.content.startswith("word0 word1") and cut.content.endswith(CUT_OFF_NOTE)
    assert cut.custom_ids()[0].startswith("sessionbot:retry:")
    h.llm.chunk_delay = 0.0
    await h.start()  # the message is stored and its attempt offers Retry: not answered again
    history = await h.history(session)
    assert [m.role for m in history][-2:] == [Role.ASSISTANT, Role.USER]  # no half reply stored
    retry = await h.fake.invoke_component(cut.custom_ids()[0], cut.id, user_id=h.alice)
    await h.fake.wait_response(retry)
    await h.settle()
    assert h.reply_text(message) == "echo: Alice: tell me a long story"


async def test_a_reply_that_ends_within_the_grace_is_delivered_and_stored_whole(
    h: Harness,
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.stop()
    await h.start(shutdown_grace=10)
    message = await streaming_reply_to(h, "a story, quickly", chunk_delay=0.02)
    session = await h.session_here(h.general)
    assert session is not None
    await h.stop()
    assert h.reply_text(message) == LONG_REPLY
    h.llm.chunk_delay = 0.0
    await h.start()
    assert (await h.history(session))[-1].content == LONG_REPLY


async def test_messages_not_yet_answered_at_a_stop_are_answered_once_at_the_next_start(
    h: Harness,
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.stop()
    await h.start(shutdown_grace=0.3)
    first = await streaming_reply_to(h, "first question")
    queued = await h.fake.send_message(h.general, h.bob, "second question")
    await h.fake.gateway.flush()
    await h.stop()
    h.llm.chunk_delay = 0.0
    asked = len(h.llm.chat_requests)
    await h.start()
    await h.settle()
    assert h.replies_to(first)[0].content.endswith(CUT_OFF_NOTE)  # it offers Retry instead
    assert h.reply_text(queued) == "echo: Bob: second question"
    assert len(h.llm.chat_requests) == asked + 1
    session = await h.session_here(h.general)
    assert session is not None
    texts = [m.content for m in await h.history(session) if m.role is Role.USER]
    assert texts[-2:] == ["first question", "second question"]
