"""End to end: people talk in channels, threads and DMs; the real bot answers through the fakes."""

from __future__ import annotations

import json
from pathlib import Path

from bot.discord_app.split import MESSAGE_LIMIT
from storage import Role
from tests.bot.discord_app.harness import GREETING, Harness, harness


def last_user_content(request_body: dict[str, object]) -> str:
    messages = request_body["messages"]
    assert isinstance(messages, list)
    return str([m for m in messages if m["role"] == "user"][-1]["content"])


async def test_a_mention_starts_a_session_with_the_default_persona(h: Harness) -> None:
    message = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hello there")
    session = await h.session_here(h.general)
    assert session is not None
    assert session.agent_id == "sara"
    assert session.user_id == str(h.alice)
    assert session.binding_key == f"discord:{h.guild}:{h.general}"
    assert session.metadata["guild_id"] == str(h.guild)
    assert session.metadata["channel_id"] == str(h.general)
    assert session.metadata["started_by"] == str(h.alice)
    sent = h.fake.sent_messages(h.general)
    assert sent[0].content == GREETING
    assert h.reply_text(message) == "echo: Alice: @sessionbot hello there"
    history = await h.history(session)
    assert [m.role for m in history] == [Role.ASSISTANT, Role.USER, Role.ASSISTANT]
    assert history[1].external_id == message["id"]
    assert history[1].author_id == str(h.alice)


async def test_messages_without_a_session_or_mention_are_ignored(h: Harness) -> None:
    await h.say(h.general, h.alice, "just chatting")
    assert h.fake.sent_messages(h.general) == []
    assert await h.session_here(h.general) is None
    assert h.llm.chat_requests == []


async def test_every_person_is_answered_in_a_session_but_never_a_bot(h: Harness) -> None:
    other_bot = h.fake.add_user("helperbot", bot=True, guilds=[h.guild])
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    second = await h.say(h.general, h.bob, "me too")
    await h.say(h.general, other_bot, "beep")
    assert h.reply_text(second) == "echo: Bob: me too"
    # Two replies: the bot's own messages (echoed back by Discord) and other bots are ignored.
    assert len(h.llm.chat_requests) == 2
    session = await h.session_here(h.general)
    assert session is not None
    assert [m.author_name for m in await h.history(session) if m.role is Role.USER] == [
        "Alice",
        "Bob",
    ]


async def test_a_dm_starts_a_session_on_the_first_message(h: Harness) -> None:
    dm = h.fake.open_dm(h.alice)
    message = await h.say(dm, h.alice, "hello in private")
    session = await h.session_here(dm, guild=None)
    assert session is not None
    assert session.binding_key == f"discord:dm:{dm}"
    assert session.metadata["dm"] is True
    assert session.user_id == str(h.alice)
    assert h.reply_text(message) == "echo: Alice: hello in private"


async def test_a_thread_is_its_own_conversation(h: Harness) -> None:
    thread = await h.fake.create_thread(h.general, "deep talk", h.alice)
    message = await h.say(thread, h.alice, f"<@{h.fake.bot_id}> in the thread")
    session = await h.session_here(thread, guild=h.guild)
    assert session is not None
    assert session.binding_key == f"discord:{h.guild}:{thread}"
    assert session.metadata["parent_channel_id"] == str(h.general)
    assert h.reply_text(message) == "echo: Alice: @sessionbot in the thread"
    assert await h.session_here(h.general) is None


async def test_long_replies_are_split_and_code_fences_reopened(h: Harness) -> None:
    code = "\n".join(f"    print('line {i}')" for i in range(250))
    reply = "Here is the script.\n\n```python\ndef main():\n" + code + "\n```\n\nThat is all."
    assert len(reply) > 2 * MESSAGE_LIMIT
    await h.say(h.general, h.admin, f"<@{h.fake.bot_id}> warm up")  # greeting + echo
    h.llm.queue_reply([reply[i : i + 97] for i in range(0, len(reply), 97)])
    message = await h.say(h.general, h.alice, "write the script")
    parts = h.replies_to(message)
    assert len(parts) >= 3
    assert all(len(part.content) <= MESSAGE_LIMIT for part in parts)
    assert all(part.content.count("```") % 2 == 0 for part in parts)
    assert parts[0].content.startswith("Here is the script.")
    assert all(part.content.startswith("```python\n") for part in parts[1:])
    assert parts[-1].content.endswith("```\n\nThat is all.")
    lines = [line for part in parts for line in part.content.splitlines() if "print(" in line]
    assert lines == code.splitlines()
    session = await h.session_here(h.general)
    assert session is not None
    assert (await h.history(session))[-1].content == reply  # stored whole


async def test_model_text_never_pings_anyone(h: Harness) -> None:
    role = h.fake.add_role(h.guild, "everyone-else", 0)
    h.llm.queue_reply(f"@everyone @here <@{h.alice}> <@!{h.bob}> <@&{role}> listen up")
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> say something loud")
    sent = h.fake.sent_messages(h.general)
    loud = [s for s in sent if "listen up" in s.content]
    assert loud
    for message in sent:
        assert message.allowed_mentions is not None
        assert message.allowed_mentions.get("parse") == []
        assert not message.pings(), message.content


async def test_messages_of_one_session_are_answered_in_order(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> start")
    h.llm.chunk_delay = 0.01
    sent = [
        await h.fake.send_message(h.general, h.alice if i % 2 else h.bob, f"message {i}")
        for i in range(8)
    ]
    await h.settle()
    for i, message in enumerate(sent):
        author = "Alice" if i % 2 else "Bob"
        assert h.reply_text(message) == f"echo: {author}: message {i}"
    session = await h.session_here(h.general)
    assert session is not None
    history = await h.history(session)
    users = [m for m in history if m.role is Role.USER]
    assert [m.content for m in users[1:]] == [f"message {i}" for i in range(8)]
    answers = [m for m in history if m.role is Role.ASSISTANT and m.reply_to is not None]
    assert [m.reply_to for m in answers] == [m.id for m in users]  # answered in order
    replies = [h.replies_to(message)[0].id for message in sent]
    assert replies == sorted(replies)  # and shown in order
    bodies = [json.loads(json.dumps(r.body)) for r in h.llm.chat_requests[1:]]
    assert [last_user_content(b) for b in bodies] == [
        f"{'Alice' if i % 2 else 'Bob'}: message {i}" for i in range(8)
    ]


async def test_a_slow_session_does_not_hold_up_another(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> one")
    await h.say(h.random, h.alice, f"<@{h.fake.bot_id}> two")
    h.llm.hang_next()
    stuck = await h.fake.send_message(h.general, h.alice, "this one hangs")
    await h.fake.wait_until(lambda: any(r.outcome == "hung" for r in h.llm.chat_requests))
    free = await h.fake.send_message(h.random, h.alice, "this one is answered")
    expected = "echo: Alice: this one is answered"
    await h.fake.wait_until(lambda: h.reply_text(free) == expected, timeout=5)
    assert h.replies_to(stuck) == []


async def test_history_continues_after_a_restart_without_reading_discord(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> my name is Ana")
    await h.say(h.general, h.alice, "I like tea")
    await h.stop()
    h.fake.requests.clear()
    await h.start()
    message = await h.say(h.general, h.alice, "what do I like?")
    assert h.reply_text(message) == "echo: Alice: what do I like?"
    sent = h.llm.chat_requests[-1].body["messages"]
    contents = [m["content"] for m in sent]
    assert "Alice: @sessionbot my name is Ana" in contents
    assert "Alice: I like tea" in contents
    assert "echo: Alice: I like tea" in contents
    assert contents[-1] == "Alice: what do I like?"
    reads = [r for r in h.fake.requests if r.method == "GET" and "/messages" in r.path]
    assert [set(r.query) for r in reads] == [{"after", "limit"}]  # catch-up only, not context


async def test_a_failed_reply_keeps_the_message_and_offers_retry(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "are you there?")
    [error] = h.replies_to(message)
    assert error.content.startswith("⚠️ ")
    [custom_id] = error.custom_ids()
    assert custom_id.startswith("sessionbot:retry:")
    session = await h.session_here(h.general)
    assert session is not None
    stored = await h.history(session)
    assert stored[-1].content == "are you there?"  # stored, not answered
    click = await h.fake.invoke_component(custom_id, error.id, user_id=h.bob)
    await h.fake.wait_response(click)
    await h.settle()
    assert error.deleted
    assert h.reply_text(message) == "echo: Alice: are you there?"
    history = await h.history(session)
    assert history[-1].reply_to == stored[-1].id


async def test_a_retry_that_fails_again_keeps_the_button(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(401)
    message = await h.say(h.general, h.alice, "hello?")
    [error] = h.replies_to(message)
    h.llm.fail_next(401)
    click = await h.fake.invoke_component(error.custom_ids()[0], error.id, user_id=h.alice)
    await h.fake.wait_response(click)
    await h.settle()
    assert not error.deleted
    assert error.content.startswith("⚠️ ")
    assert error.custom_ids() == [f"sessionbot:retry:{error.custom_ids()[0].split(':', 2)[2]}"]


async def test_edits_and_deletions_update_the_stored_messages(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    message = await h.say(h.general, h.alice, "I am 30")
    gone = await h.say(h.general, h.alice, "oops, wrong channel")
    await h.fake.edit_message(int(message["id"]), "I am 31")
    await h.fake.delete_message(int(gone["id"]))
    await h.settle()
    session = await h.session_here(h.general)
    assert session is not None
    contents = [m.content for m in await h.history(session) if m.role is Role.USER]
    assert "I am 31" in contents
    assert "I am 30" not in contents
    assert "oops, wrong channel" not in contents


async def test_edits_and_deletions_reach_a_session_that_has_ended(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    secret = await h.say(h.general, h.alice, "my phone number is 555-0100")
    typo = await h.say(h.general, h.alice, "teh end")
    session = await h.session_here(h.general)
    assert session is not None
    await h.command("session end", channel=h.general, user=h.admin)

    await h.fake.delete_message(int(secret["id"]))
    await h.fake.edit_message(int(typo["id"]), "the end")
    await h.settle()

    contents = [m.content for m in await h.history(session) if m.role is Role.USER]
    assert "my phone number is 555-0100" not in contents
    assert "the end" in contents and "teh end" not in contents


async def test_text_attachments_are_read_and_others_named(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.say(
        h.general,
        h.alice,
        "see attached",
        attachments=[("notes.md", b"# Notes\nbuy milk\n"), ("cat.png", b"\x89PNG\r\n\x1a\n")],
    )
    content = last_user_content(h.llm.chat_requests[-1].body)
    assert "[attached file notes.md]\n# Notes\nbuy milk\n\n[end of notes.md]" in content
    assert "[attached file cat.png (image/png, 8 bytes), not included]" in content


async def test_a_typing_indicator_shows_until_the_reply_starts(h: Harness) -> None:
    h.llm.chunk_delay = 0.05
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    assert h.general in h.fake.typing


async def test_dms_are_ignored_when_turned_off(tmp_path: Path) -> None:
    async with harness(tmp_path, allow_dms=False) as h:
        await h.start()
        dm = h.fake.open_dm(h.alice)
        await h.say(dm, h.alice, "anyone?")
        assert h.fake.sent_messages(dm) == []
        assert h.llm.chat_requests == []


async def test_an_ended_session_stops_replying_until_a_new_mention(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None
    await h.store.end_session(session.id)
    ignored = await h.say(h.general, h.alice, "hello?")
    assert h.replies_to(ignored) == []
    again = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> back again")
    assert h.reply_text(again) == "echo: Alice: @sessionbot back again"
    new = await h.session_here(h.general)
    assert new is not None and new.id != session.id


async def test_the_retry_button_still_works_after_a_restart(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "still there?")
    [error] = h.replies_to(message)
    await h.stop()
    await h.start()
    click = await h.fake.invoke_component(error.custom_ids()[0], error.id, user_id=h.alice)
    await h.fake.wait_response(click)
    await h.settle()
    assert error.deleted
    assert h.reply_text(message) == "echo: Alice: still there?"


async def test_a_forum_post_is_a_conversation_keyed_by_the_post(h: Harness) -> None:
    forum = h.fake.add_channel(h.guild, "help", type=15)
    post = await h.fake.create_thread(
        forum, "my question", h.alice, content=f"<@{h.fake.bot_id}> how do I sleep?"
    )
    await h.settle()
    session = await h.session_here(post, guild=h.guild)
    assert session is not None
    assert session.metadata["parent_channel_id"] == str(forum)
    sent = h.fake.sent_messages(post)
    assert sent[-1].content == "echo: Alice: @sessionbot how do I sleep?"


async def test_retry_of_a_deleted_message_explains_itself(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.fail_next(500)
    message = await h.say(h.general, h.alice, "never mind")
    [error] = h.replies_to(message)
    await h.fake.delete_message(int(message["id"]))
    await h.settle()
    click = await h.fake.invoke_component(error.custom_ids()[0], error.id, user_id=h.alice)
    await h.fake.wait_response(click)
    assert click.ephemeral
    [answer] = click.messages
    assert answer.content.startswith("The message this reply answered was deleted")


async def test_a_reply_that_breaks_off_is_replaced_by_the_error(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    h.llm.chunk_delay = 0.1
    h.llm.queue_reply("one two three four five six seven eight")
    h.llm.error_event_after(5)
    message = await h.say(h.general, h.alice, "tell me a story")
    [error] = h.replies_to(message)
    assert error.content.startswith("⚠️ ")
    assert error.custom_ids()[0].startswith("sessionbot:retry:")
    partial = [
        s
        for s in h.fake.sent_messages(h.general, include_deleted=True)
        if s.deleted and s.reply_to == int(message["id"])
    ]
    assert partial and partial[0].content.startswith("one")
    session = await h.session_here(h.general)
    assert session is not None
    assert (await h.history(session))[-1].content == "tell me a story"
