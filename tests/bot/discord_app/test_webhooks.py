"""Personas post through webhooks: their own name and avatar, in channels, threads and forums.

The real bot against the fake Discord's webhooks (tests/fakes/discord_webhooks.py), with
SESSIONBOT_WEBHOOKS on. What falls back to the bot's own messages (DMs, no Manage Webhooks, a
channel full of webhooks) is in test_webhooks_fallback.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.bot.discord_app.harness import GREETING, Harness, harness, text_of
from tests.fakes.discord_webhooks import WebhookMessage
from tests.helpers import write_persona

AVATAR = "https://example.com/sara.png"
EXECUTE = "/webhooks/{webhook}/{token}"
HOOK_MESSAGE = "/webhooks/{webhook}/{token}/messages/{message}"


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot with webhooks on; Sara has an avatar URL."""
    async with harness(tmp_path, webhooks=True) as running:
        write_persona(
            running.directory / "personas", "sara", name="Sara", situation="You are Sara.",
            greeting=GREETING, avatar_url=AVATAR,
        )  # fmt: skip
        await running.start()
        yield running


def persona_messages(h: Harness, channel: int) -> list[WebhookMessage]:
    return h.fake.webhooks.sent(channel)


async def test_a_reply_comes_from_the_persona_with_a_quiet_line_naming_whom_it_answers(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    message = await w.say(w.general, w.alice, "how are you?")
    replies = [m for m in persona_messages(w, w.general) if "how are you" in m.content]
    [reply] = replies
    assert reply.content == "-# ↪ Alice\necho: Alice: how are you?"
    assert (reply.username, reply.avatar_url) == ("Sara", AVATAR)
    assert reply.payload["webhook_id"] == str(reply.webhook_id)
    assert not reply.pings() and reply.allowed_mentions == {"parse": []}
    assert w.replies_to(message) == []  # nothing from the bot user itself
    assert len(w.llm.chat_requests) == 2  # the persona's own messages are never answered
    [hook] = w.fake.webhooks.in_channel(w.general)
    assert hook.payload["name"] == "sessionbot" and hook.app_owned


async def test_the_greeting_of_session_start_is_posted_by_the_persona(w: Harness) -> None:
    record = await w.command("session start", {"persona": "sara"}, channel=w.general, user=w.admin)
    assert GREETING not in text_of(record)
    assert "Session with Sara started by" in text_of(record)
    [greeting] = persona_messages(w, w.general)
    assert greeting.content == GREETING
    assert (greeting.username, greeting.avatar_url) == ("Sara", AVATAR)


async def test_a_mention_starts_a_session_whose_greeting_comes_from_the_persona(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hello")
    greeting, reply = persona_messages(w, w.general)
    assert greeting.content == GREETING
    assert reply.content.startswith("-# ↪ Alice\n")
    assert w.fake.sent_messages(w.general) == []


async def test_a_streamed_reply_is_edited_through_the_webhook(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.llm.chunk_delay = 0.1
    words = " ".join(f"word{i}" for i in range(25))
    w.llm.queue_reply(words)
    await w.say(w.general, w.alice, "tell me a lot")
    reply = persona_messages(w, w.general)[-1]
    assert reply.content == f"-# ↪ Alice\n{words}"
    assert reply.edits, "the reply should have been streamed in edits"
    edits = w.fake.requests_to("PATCH", HOOK_MESSAGE)
    texts = [r for r in edits if "content" in r.body]  # (the reply before loses its buttons)
    assert texts and all(r.path.endswith(f"/messages/{reply.id}") for r in texts)
    assert not w.fake.requests_to("PATCH", "/channels/{channel}/messages/{message}")


async def test_the_buttons_move_from_one_persona_message_to_the_next(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.llm.queue_reply("Older reply.")
    await w.say(w.general, w.alice, "one")
    w.llm.queue_reply("Newer reply.")
    await w.say(w.general, w.alice, "two")
    older, newer = (
        next(m for m in persona_messages(w, w.general) if text in m.content)
        for text in ("Older reply.", "Newer reply.")
    )
    assert older.custom_ids() == [] and older.content.endswith("Older reply.")
    assert any(c.startswith("sessionbot:swipe:regen:") for c in newer.custom_ids())
    retired = w.fake.requests_to("PATCH", HOOK_MESSAGE)[-1]
    assert retired.path.endswith(f"/messages/{older.id}") and "content" not in retired.body


async def test_a_long_reply_is_split_into_persona_messages(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    paragraph = "lorem ipsum dolor sit amet " * 30
    w.llm.queue_reply("\n\n".join([paragraph.strip()] * 6))
    await w.say(w.general, w.alice, "a long one")
    parts = persona_messages(w, w.general)[2:]
    assert len(parts) >= 3
    assert all(len(part.content) <= 2000 and part.username == "Sara" for part in parts)
    assert parts[0].content.startswith("-# ↪ Alice\n")
    assert not any(part.content.startswith("-#") for part in parts[1:])


async def test_a_thread_session_posts_through_the_parent_channels_webhook(w: Harness) -> None:
    await w.command(
        "session start", {"persona": "sara", "thread": True}, channel=w.general, user=w.admin
    )
    [thread] = [int(c["id"]) for c in w.fake.world.guild(w.guild).threads.values()]
    message = await w.say(thread, w.alice, "hello thread")
    greeting, reply = persona_messages(w, thread)
    assert greeting.content == GREETING
    assert reply.content == "-# ↪ Alice\necho: Alice: hello thread"
    [hook] = w.fake.webhooks.in_channel(w.general)
    assert {greeting.webhook_id, reply.webhook_id} == {hook.id}
    executes = [r for r in w.fake.requests_to("POST", EXECUTE) if f"/{hook.id}/" in r.path]
    assert {r.query.get("thread_id") for r in executes} == {str(thread)}
    assert w.fake.sent_messages(thread)[0].content.startswith("-# Session with Sara")
    assert w.replies_to(message) == []


async def test_a_forum_post_session_posts_through_the_forums_webhook(w: Harness) -> None:
    forum = w.fake.add_channel(w.guild, "ideas", type=15)
    post = await w.fake.create_thread(forum, "An idea", w.alice, content=f"<@{w.fake.bot_id}> hi")
    await w.settle()
    greeting, reply = persona_messages(w, post)
    assert greeting.content == GREETING and reply.content.startswith("-# ↪ Alice\n")
    [hook] = w.fake.webhooks.in_channel(forum)
    assert reply.webhook_id == hook.id


async def test_the_webhook_is_found_again_after_a_restart(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    await w.stop()
    await w.start(webhooks=True)
    await w.say(w.general, w.alice, "still there?")
    assert len(w.fake.webhooks.in_channel(w.general)) == 1
    assert len(w.fake.requests_to("POST", "/channels/{channel}/webhooks")) == 1
    assert len(w.fake.requests_to("GET", "/channels/{channel}/webhooks")) == 2
    assert persona_messages(w, w.general)[-1].content.endswith("echo: Alice: still there?")


async def test_messages_from_webhooks_are_never_answered(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    asked = len(w.llm.chat_requests)
    [hook] = w.fake.webhooks.in_channel(w.general)
    other = w.fake.webhooks.add(w.general, "news feed")
    async with aiohttp.ClientSession() as client:
        for source in (hook, other):
            url = f"{w.fake.api_base}/webhooks/{source.id}/{source.payload['token']}"
            async with client.post(url, json={"content": f"<@{w.fake.bot_id}> feed"}) as answer:
                assert answer.status == 204
    await w.settle()
    assert len(w.llm.chat_requests) == asked


async def test_a_failed_reply_offers_retry_from_the_persona_and_retry_answers(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.llm.fail_next(500)
    await w.say(w.general, w.alice, "are you there?")
    failure = persona_messages(w, w.general)[-1]
    assert failure.content.startswith("-# ↪ Alice\n⚠️")
    [custom_id] = failure.custom_ids()
    record = await w.fake.invoke_component(custom_id, failure.id, user_id=w.alice)
    await w.fake.wait_response(record)
    await w.settle()
    assert failure.deleted
    assert persona_messages(w, w.general)[-1].content == "-# ↪ Alice\necho: Alice: are you there?"
    assert len(w.llm.chat_requests) == 3


async def test_an_execute_whose_answer_was_lost_is_shown_once(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    w.fake.faults.server_error("POST", EXECUTE, after=True)  # made, but the answer is a 500
    await w.say(w.general, w.alice, "only once")
    texts = [m.content for m in persona_messages(w, w.general)]
    assert texts.count("-# ↪ Alice\necho: Alice: only once") == 1
    [hook] = w.fake.webhooks.in_channel(w.general)
    executes = [r for r in w.fake.requests_to("POST", EXECUTE) if f"/{hook.id}/" in r.path]
    assert len(executes) == 4  # greeting, hi, the lost answer and discord.py's repeat


async def test_a_persona_with_an_avatar_file_gets_its_own_webhook_with_that_picture(
    w: Harness,
) -> None:
    personas = w.directory / "personas"
    image = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    (personas / "ana.png").write_bytes(image)
    write_persona(personas, "ana", name="Ana", situation="You are Ana.", avatar="ana.png")
    await w.stop()
    await w.start(webhooks=True)
    await w.command("session start", {"persona": "ana"}, channel=w.random, user=w.admin)
    await w.say(w.random, w.alice, "hi Ana")
    [reply] = persona_messages(w, w.random)
    [hook] = w.fake.webhooks.in_channel(w.random)
    assert hook.image == image and reply.webhook_id == hook.id
    assert (reply.username, reply.avatar_url) == ("Ana", None)
    assert reply.payload["author"]["avatar"] == hook.payload["avatar"]


async def test_a_persona_named_like_discords_reserved_words_still_posts(w: Harness) -> None:
    personas = w.directory / "personas"
    (personas / "clyde.gif").write_bytes(b"GIF89a" + b"\x00" * 16)
    write_persona(personas, "clyde", name="Clyde", situation="You are Clyde.", avatar="clyde.gif")
    await w.stop()
    await w.start(webhooks=True)
    await w.command("session start", {"persona": "clyde"}, channel=w.random, user=w.admin)
    await w.say(w.random, w.alice, "hi Clyde")
    [reply] = persona_messages(w, w.random)
    assert reply.username == "Cl\u0443de"  # a Cyrillic u: Discord refuses "clyde" in names
    assert reply.content.endswith("echo: Alice: hi Clyde")
    [hook] = w.fake.webhooks.in_channel(w.random)  # its own webhook, for its picture
    assert hook.payload["name"].startswith("sessionbot persona cl\u0443de ")


async def test_a_webhook_deleted_by_someone_is_made_again(w: Harness) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")
    [gone] = w.fake.webhooks.in_channel(w.general)
    del w.fake.webhooks.hooks[gone.id]  # a moderator deleted it
    await w.say(w.general, w.alice, "still here?")
    [hook] = w.fake.webhooks.in_channel(w.general)
    reply = persona_messages(w, w.general)[-1]
    assert hook.id != gone.id and reply.webhook_id == hook.id
    assert reply.content == "-# ↪ Alice\necho: Alice: still here?"
