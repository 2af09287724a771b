"""Regenerate and swipe: ↻ and ◀ n/N ▶ under the newest reply, with webhooks off and on.

The real bot against the fake Discord and the fake model; what the model receives shows which
alternative is in the context of later turns.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.discord_app.harness import GREETING, Harness, harness, is_ephemeral, text_of
from tests.fakes.discord_server import InteractionRecord, SentMessage
from tests.helpers import write_persona

ALTERNATES = ["Hello again! Sara here.", "Welcome back. What shall we talk about?"]


@pytest.fixture(params=[False, True], ids=["bot-messages", "webhooks"])
async def sb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot, posting as itself or through the persona's webhook."""
    async with harness(tmp_path, webhooks=request.param) as running:
        write_persona(
            running.directory / "personas", "sara", name="Sara", situation="You are Sara.",
            greeting=GREETING, alternate_greetings=ALTERNATES,
        )  # fmt: skip
        await running.start()
        yield running


def shown(h: Harness, channel: int) -> list[SentMessage]:
    """What the persona shows in `channel`, oldest first (its webhook's or the bot's own)."""
    posted = [*h.fake.sent_messages(channel), *h.fake.webhooks.sent(channel)]
    return sorted(posted, key=lambda message: message.id)


def latest(h: Harness, channel: int, text: str) -> SentMessage:
    [found] = [m for m in shown(h, channel) if text in m.content]
    return found


def button(message: SentMessage, op: str) -> str:
    [found] = [c for c in message.custom_ids() if c.startswith(f"sessionbot:swipe:{op}:")]
    return found


def counter(message: SentMessage) -> str | None:
    def labels(items: list[dict[str, Any]]) -> list[str]:
        found = []
        for item in items:
            if item.get("disabled"):
                found.append(str(item.get("label")))
            found += labels(item.get("components", []))
        return found

    return next(iter(labels(message.components)), None)


async def click(h: Harness, message: SentMessage, op: str, user: int) -> InteractionRecord:
    record = await h.fake.invoke_component(button(message, op), message.id, user_id=user)
    await h.fake.wait_response(record)
    await h.settle()
    return record


def sent_history(h: Harness) -> list[str]:
    """The chat history of the model's latest request (without the system prompt)."""
    body = h.llm.chat_requests[-1].body
    return [m["content"] for m in body["messages"] if m["role"] != "system"]


async def start(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")


async def test_regenerating_shows_the_new_text_in_the_same_message_and_keeps_both(
    sb: Harness,
) -> None:
    await start(sb)
    sb.llm.queue_reply("The first answer.")
    await sb.say(sb.general, sb.alice, "tell me something")
    first = latest(sb, sb.general, "The first answer.")
    assert counter(first) is None and button(first, "regen")
    requests = len(sb.llm.chat_requests)
    context = sent_history(sb)
    sb.llm.queue_reply("The second answer.")
    await click(sb, first, "regen", sb.alice)
    again = latest(sb, sb.general, "The second answer.")
    assert again.id == first.id  # the same message, edited
    assert counter(again) == "2/2"
    assert len(sb.llm.chat_requests) == requests + 1
    assert sent_history(sb) == context  # the same context as the first answer had
    session = await sb.session_here(sb.general)
    assert session is not None
    reply = (await sb.history(session))[-1]
    assert reply.content == "The second answer."
    assert [v.content for v in await sb.store.variants(session.id, reply.id)] == [
        "The first answer.",
        "The second answer.",
    ]
    await sb.say(sb.general, sb.alice, "and then?")
    assert sent_history(sb)[-2:] == ["The second answer.", "Alice: and then?"]
    assert "The first answer." not in sent_history(sb)


async def test_swiping_back_puts_the_earlier_text_in_the_next_context(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Answer one.")
    await sb.say(sb.general, sb.alice, "question")
    message = latest(sb, sb.general, "Answer one.")
    sb.llm.queue_reply("Answer two.")
    await click(sb, message, "regen", sb.alice)
    message = latest(sb, sb.general, "Answer two.")
    await click(sb, message, "prev", sb.alice)
    message = latest(sb, sb.general, "Answer one.")
    assert counter(message) == "1/2"
    await click(sb, message, "prev", sb.alice)  # wraps around
    message = latest(sb, sb.general, "Answer two.")
    assert counter(message) == "2/2"
    await click(sb, message, "next", sb.alice)
    assert counter(latest(sb, sb.general, "Answer one.")) == "1/2"
    await sb.say(sb.general, sb.alice, "more")
    assert "Answer one." in sent_history(sb) and "Answer two." not in sent_history(sb)


async def test_buttons_move_to_the_newer_reply(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Older reply.")
    await sb.say(sb.general, sb.alice, "one")
    older = latest(sb, sb.general, "Older reply.")
    assert older.custom_ids()
    sb.llm.queue_reply("Newer reply.")
    await sb.say(sb.general, sb.alice, "two")
    assert latest(sb, sb.general, "Older reply.").custom_ids() == []
    assert button(latest(sb, sb.general, "Newer reply."), "regen")


async def test_others_are_refused_privately_and_moderators_may(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Alice's answer.")
    await sb.say(sb.general, sb.alice, "mine")
    message = latest(sb, sb.general, "Alice's answer.")
    requests = len(sb.llm.chat_requests)
    record = await sb.fake.invoke_component(button(message, "regen"), message.id, user_id=sb.bob)
    await sb.fake.wait_response(record)
    await sb.settle()
    assert is_ephemeral(record)
    assert "Only the person this reply answers" in text_of(record)
    assert len(sb.llm.chat_requests) == requests
    sb.llm.queue_reply("The moderator's pick.")
    record = await sb.fake.invoke_component(button(message, "regen"), message.id, user_id=sb.admin)
    await sb.fake.wait_response(record)
    await sb.settle()
    assert latest(sb, sb.general, "The moderator's pick.").id == message.id


async def test_the_buttons_work_after_a_restart(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Before the restart.")
    await sb.say(sb.general, sb.alice, "hello")
    message = latest(sb, sb.general, "Before the restart.")
    await sb.stop()
    await sb.start()
    sb.llm.queue_reply("After the restart.")
    await click(sb, message, "regen", sb.alice)
    message = latest(sb, sb.general, "After the restart.")
    await click(sb, message, "prev", sb.alice)
    assert counter(latest(sb, sb.general, "Before the restart.")) == "1/2"
    await sb.say(sb.general, sb.alice, "next")
    assert "Before the restart." in sent_history(sb)
    assert "After the restart." not in sent_history(sb)


async def test_an_older_replys_button_after_a_restart_is_refused(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Old one.")
    await sb.say(sb.general, sb.alice, "a")
    old = latest(sb, sb.general, "Old one.")
    await sb.stop()
    await sb.start()  # the bot forgot where its buttons were
    await sb.say(sb.general, sb.alice, "b")
    requests = len(sb.llm.chat_requests)
    record = await sb.fake.invoke_component(button(old, "regen"), old.id, user_id=sb.alice)
    await sb.fake.wait_response(record)
    await sb.settle()
    assert is_ephemeral(record) and "newest reply" in text_of(record)
    assert len(sb.llm.chat_requests) == requests
    assert latest(sb, sb.general, "Old one.").custom_ids() == []


async def test_a_long_reply_is_regenerated_across_its_parts(sb: Harness) -> None:
    await start(sb)
    long_text = " ".join(f"word{i}" for i in range(700))  # over two messages
    sb.llm.queue_reply(long_text)
    await sb.say(sb.general, sb.alice, "a long one please")
    parts = [m for m in shown(sb, sb.general) if "word" in m.content]
    assert len(parts) >= 3
    assert parts[0].custom_ids() == [] and button(parts[-1], "regen")
    sb.llm.queue_reply("Short now.")
    await click(sb, parts[-1], "regen", sb.alice)
    now = [m for m in shown(sb, sb.general) if m.id >= parts[0].id]
    assert len(now) == 1 and now[0].id == parts[0].id
    assert now[0].content.endswith("Short now.") and counter(now[0]) == "2/2"
    await click(sb, now[0], "prev", sb.alice)
    again = [m for m in shown(sb, sb.general) if m.id >= parts[0].id]
    assert len(again) == len(parts) and again[0].id == parts[0].id
    assert counter(again[-1]) == "1/2" and again[0].custom_ids() == []
    await sb.stop()
    await sb.start()  # the parts are found again in the channel's history
    sb.llm.queue_reply("Short again.")
    await click(sb, again[-1], "regen", sb.alice)
    final = [m for m in shown(sb, sb.general) if m.id >= parts[0].id]
    assert [m.id for m in final] == [parts[0].id]
    assert final[0].content.endswith("Short again.") and counter(final[0]) == "3/3"


async def test_a_failed_regeneration_keeps_the_text_and_tells_only_the_clicker(
    sb: Harness,
) -> None:
    await start(sb)
    sb.llm.queue_reply("Still here.")
    await sb.say(sb.general, sb.alice, "q")
    message = latest(sb, sb.general, "Still here.")
    sb.llm.fail_next(401)
    record = await click(sb, message, "regen", sb.alice)
    assert latest(sb, sb.general, "Still here.").id == message.id
    assert [f.ephemeral for f in record.followups] == [True]
    session = await sb.session_here(sb.general)
    assert session is not None
    reply = (await sb.history(session))[-1]
    assert await sb.store.variants(session.id, reply.id) == []


async def test_the_greeting_swipes_through_alternate_greetings(sb: Harness) -> None:
    if sb.running.settings.webhooks:  # /session start: the persona posts the greeting
        starter = sb.admin
        await sb.command("session start", {"persona": "sara"}, channel=sb.general, user=starter)
    else:  # a mention starts the session; its own answer fails, so the greeting stays newest
        starter = sb.alice
        sb.llm.fail_next(401)
        await start(sb)
    greeting = latest(sb, sb.general, GREETING)
    assert counter(greeting) == "1/3"
    assert not [c for c in greeting.custom_ids() if ":regen:" in c]
    record = await sb.fake.invoke_component(button(greeting, "next"), greeting.id, user_id=sb.bob)
    await sb.fake.wait_response(record)
    assert is_ephemeral(record)  # only whoever started the session
    await click(sb, greeting, "next", starter)
    assert counter(latest(sb, sb.general, ALTERNATES[0])) == "2/3"
    await click(sb, greeting, "next", starter)
    assert latest(sb, sb.general, ALTERNATES[1]).id == greeting.id
    sb.llm.queue_reply("Sure.")
    await sb.say(sb.general, sb.alice, "about cats")
    assert ALTERNATES[1] in sent_history(sb) and GREETING not in sent_history(sb)
    assert latest(sb, sb.general, ALTERNATES[1]).custom_ids() == []


async def test_editing_the_answered_message_regenerates_the_reply(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("About dogs.")
    asked = await sb.say(sb.general, sb.alice, "tell me about dogs")
    message = latest(sb, sb.general, "About dogs.")
    sb.llm.queue_reply("About cats.")
    await sb.fake.edit_message(int(asked["id"]), "tell me about cats")
    await sb.settle()
    assert latest(sb, sb.general, "About cats.").id == message.id
    assert sent_history(sb)[-1] == "Alice: tell me about cats"


async def test_editing_after_the_reply_was_deleted_regenerates_nothing(
    sb: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await start(sb)
    sb.llm.queue_reply("About dogs.")
    asked = await sb.say(sb.general, sb.alice, "tell me about dogs")
    await sb.fake.delete_message(latest(sb, sb.general, "About dogs.").id)  # by a moderator
    requests, posted = len(sb.llm.chat_requests), len(shown(sb, sb.general))
    await sb.fake.edit_message(int(asked["id"]), "tell me about cats")
    await sb.settle()
    assert len(sb.llm.chat_requests) == requests  # nothing to show a new text in
    assert len(shown(sb, sb.general)) == posted
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no job failed


async def test_editing_regenerates_nothing_when_turned_off(tmp_path: Path) -> None:
    async with harness(tmp_path, regenerate_on_edit=False) as h:
        await h.start()
        await start(h)
        h.llm.queue_reply("About dogs.")
        asked = await h.say(h.general, h.alice, "tell me about dogs")
        requests = len(h.llm.chat_requests)
        await h.fake.edit_message(int(asked["id"]), "tell me about cats")
        await h.settle()
        assert len(h.llm.chat_requests) == requests
        assert latest(h, h.general, "About dogs.")


async def test_a_click_that_waited_for_a_newer_reply_is_refused_privately(sb: Harness) -> None:
    await start(sb)
    sb.llm.queue_reply("Older.")
    await sb.say(sb.general, sb.alice, "one")
    older = latest(sb, sb.general, "Older.")
    requests = len(sb.llm.chat_requests)
    sb.llm.chunk_delay = 0.1
    sb.llm.queue_reply("Newer reply in a few words.")
    await sb.fake.send_message(sb.general, sb.alice, "two")
    await sb.fake.wait_until(lambda: len(sb.llm.chat_requests) > requests)  # being written
    record = await sb.fake.invoke_component(button(older, "regen"), older.id, user_id=sb.alice)
    await sb.fake.wait_response(record)
    await sb.settle()
    [refusal] = record.followups
    assert refusal.ephemeral and "newest reply" in refusal.content
    assert len(sb.llm.chat_requests) == requests + 1
    assert latest(sb, sb.general, "Older.").custom_ids() == []
    assert button(latest(sb, sb.general, "Newer reply in a few words."), "regen")
