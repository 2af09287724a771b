"""Several personas in one session, place defaults and switching, end to end: the real bot
against the fake Discord with webhooks on, so each persona posts with its own name and avatar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import Role
from tests.bot.discord_app.harness import Harness, embed_of, harness, is_ephemeral, text_of
from tests.fakes.discord_webhooks import WebhookMessage
from tests.helpers import write_persona

SARA_AVATAR = "https://example.com/sara.png"
TUTOR_AVATAR = "https://example.com/tutor.png"


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot with webhooks on; Sara and Tutor have avatar URLs, Bard is a third persona."""
    async with harness(tmp_path, webhooks=True) as running:
        personas = running.directory / "personas"
        write_persona(
            personas, "sara", name="Sara", situation="You are Sara.", avatar_url=SARA_AVATAR
        )
        write_persona(
            personas, "tutor", name="Tutor", situation="You are a Socratic tutor.",
            avatar_url=TUTOR_AVATAR,
        )  # fmt: skip
        write_persona(personas, "bard", name="Bard", situation="You are a bard.")
        await running.start()
        yield running


def posted(h: Harness, containing: str) -> WebhookMessage:
    """The one persona message (webhook message) in #general whose text contains `containing`."""
    [found] = [m for m in h.fake.webhooks.sent(h.general) if containing in m.content]
    return found


def last_request(h: Harness) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = h.llm.chat_requests[-1].body["messages"]
    return messages


async def start_with_tutor(h: Harness) -> None:
    await h.command("session start", {"persona": "sara"}, channel=h.general, user=h.admin)
    record = await h.command("session add", {"persona": "tutor"}, channel=h.general, user=h.admin)
    assert not is_ephemeral(record)
    assert "**Tutor** joined the session. Personas here: Sara (main), Tutor." in text_of(record)


async def test_each_persona_answers_when_named_with_its_own_name_and_avatar(w: Harness) -> None:
    await start_with_tutor(w)
    await w.say(w.general, w.alice, "tutor, what is two plus two?")
    tutor = posted(w, "two plus two")
    assert (tutor.username, tutor.avatar_url) == ("Tutor", TUTOR_AVATAR)
    assert last_request(w)[0]["content"].startswith("You are a Socratic tutor.")

    await w.say(w.general, w.alice, "And what do you think, Sara?")
    sara = posted(w, "what do you think")
    assert (sara.username, sara.avatar_url) == ("Sara", SARA_AVATAR)
    messages = last_request(w)
    assert messages[0]["content"].startswith("You are Sara.")
    assert "Other personas in this conversation: Tutor." in messages[0]["content"]
    assert messages[-3:] == [
        {"role": "user", "content": "Alice: tutor, what is two plus two?"},
        {"role": "user", "content": "Tutor: echo: Alice: tutor, what is two plus two?"},
        {"role": "user", "content": "Alice: And what do you think, Sara?"},
    ]

    await w.say(w.general, w.alice, "anyone?")  # nobody named: the main persona
    assert posted(w, "anyone?").username == "Sara"


async def test_replying_to_a_personas_message_makes_that_persona_answer(w: Harness) -> None:
    await start_with_tutor(w)
    await w.say(w.general, w.alice, "Tutor, quiz me")
    tutor_line = posted(w, "quiz me")
    await w.say(w.general, w.bob, "I disagree", reply_to=tutor_line.id)
    answer = posted(w, "I disagree")
    assert answer.username == "Tutor"
    assert last_request(w)[0]["content"].startswith("You are a Socratic tutor.")
    session = await w.session_here(w.general)
    assert session is not None
    replies = [m for m in await w.history(session) if m.role is Role.ASSISTANT]
    assert [m.author_id for m in replies] == ["tutor", "tutor"]


async def test_session_info_and_list_show_every_persona(w: Harness) -> None:
    await start_with_tutor(w)
    info = await w.command("session info", channel=w.general, user=w.alice)
    fields = {f["name"]: f["value"] for f in embed_of(info)["fields"]}  # type: ignore[union-attr]
    assert fields["Persona"] == "Sara (`sara`)"
    assert fields["Also in this session"] == "Tutor (`tutor`)"
    listed = await w.command("session list", channel=w.general, user=w.alice)
    assert "**sara + tutor**" in str(embed_of(listed)["description"])


async def test_adding_and_removing_need_manage_threads_or_the_starter_and_refuse_privately(
    w: Harness,
) -> None:
    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hi")  # Alice starts the session
    refused = await w.command("session add", {"persona": "tutor"}, channel=w.general, user=w.bob)
    assert is_ephemeral(refused) and "Manage Threads" in text_of(refused)
    session = await w.session_here(w.general)
    assert session is not None and await w.store.session_agents(session.id) == []

    added = await w.command("session add", {"persona": "tutor"}, channel=w.general, user=w.alice)
    assert not is_ephemeral(added)
    again = await w.command("session add", {"persona": "tutor"}, channel=w.general, user=w.alice)
    assert is_ephemeral(again) and text_of(again) == "Tutor is already in this session."
    main = await w.command("session remove", {"persona": "sara"}, channel=w.general, user=w.admin)
    assert is_ephemeral(main) and "main persona" in text_of(main)
    refused = await w.command("session remove", {"persona": "tutor"}, channel=w.general, user=w.bob)
    assert is_ephemeral(refused) and await w.store.session_agents(session.id) == ["tutor"]

    removed = await w.command(
        "session remove", {"persona": "tutor"}, channel=w.general, user=w.admin
    )  # a moderator (Manage Threads) may, without having started it
    assert not is_ephemeral(removed)
    assert text_of(removed) == "**Tutor** left the session. Personas here: Sara (main)."
    assert await w.store.session_agents(session.id) == []
    await w.say(w.general, w.alice, "tutor, are you there?")
    assert posted(w, "are you there").username == "Sara"


async def test_a_mention_starts_with_the_channel_default_then_the_server_default(
    w: Harness,
) -> None:
    refused = await w.command(
        "persona default", {"persona": "tutor", "scope": "server"}, channel=w.general, user=w.alice
    )
    assert is_ephemeral(refused) and "Manage Server" in text_of(refused)
    server = await w.command(
        "persona default", {"persona": "tutor", "scope": "server"}, channel=w.general, user=w.admin
    )
    assert text_of(server) == "A mention in this server now starts a session with **Tutor**."
    channel = await w.command(
        "persona default", {"persona": "bard"}, channel=w.general, user=w.admin
    )
    assert is_ephemeral(channel)
    assert text_of(channel) == f"A mention in <#{w.general}> now starts a session with **Bard**."

    listed = await w.command("persona list", channel=w.random, user=w.alice)
    fields = {f["name"]: f["value"] for f in embed_of(listed)["fields"]}  # type: ignore[union-attr]
    assert fields["Mentions start with"] == (
        f"This server: Tutor (`tutor`)\n<#{w.general}>: Bard (`bard`)"
    )

    await w.say(w.general, w.alice, f"<@{w.fake.bot_id}> hello")
    await w.say(w.random, w.alice, f"<@{w.fake.bot_id}> hello")
    general, random = await w.session_here(w.general), await w.session_here(w.random)
    assert general is not None and general.agent_id == "bard"
    assert random is not None and random.agent_id == "tutor"
    assert w.fake.webhooks.sent(w.random)[-1].username == "Tutor"

    await w.command("persona default", {"scope": "server"}, channel=w.general, user=w.admin)
    assert (await w.store.persona_defaults("discord:guild:" + str(w.guild)))[0].persona_id == "bard"


async def test_switching_the_persona_is_noted_in_the_history_and_changes_who_answers(
    w: Harness,
) -> None:
    await w.command("session start", {"persona": "sara"}, channel=w.general, user=w.admin)
    await w.say(w.general, w.alice, "hello")
    refused = await w.command(
        "session persona", {"persona": "tutor"}, channel=w.general, user=w.bob
    )
    assert is_ephemeral(refused)
    record = await w.command(
        "session persona", {"persona": "tutor"}, channel=w.general, user=w.admin
    )
    assert not is_ephemeral(record)
    assert text_of(record) == (
        "Switched this session's persona from Sara to **Tutor**; Tutor answers from here on."
    )
    session = await w.session_here(w.general)
    assert session is not None
    assert (session.agent_id, session.situation) == ("tutor", "You are a Socratic tutor.")
    note = (await w.history(session))[-1]
    assert note.role is Role.SYSTEM
    assert (
        note.content == "Olga switched the persona from Sara to Tutor; Tutor speaks from here on."
    )

    await w.say(w.general, w.alice, "who are you now?")
    assert posted(w, "who are you now").username == "Tutor"
    messages = last_request(w)
    assert messages[0]["content"] == "You are a Socratic tutor."
    assert messages[-3:] == [
        {"role": "user", "content": "Sara: echo: Alice: hello"},
        {"role": "system", "content": note.content},
        {"role": "user", "content": "Alice: who are you now?"},
    ]


async def test_without_webhooks_each_reply_names_its_persona_and_a_reply_to_it_is_answered_by_it(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:  # webhooks off: every message is the bot's own
        await h.start()
        await h.command("session start", {"persona": "sara"}, channel=h.general, user=h.admin)
        await h.command("session add", {"persona": "tutor"}, channel=h.general, user=h.admin)
        asked = await h.say(h.general, h.alice, "Tutor, quiz me")
        assert h.reply_text(asked) == "-# Tutor\necho: Alice: Tutor, quiz me"
        [tutor_line] = h.replies_to(asked)
        answer = await h.say(h.general, h.bob, "no thanks", reply_to=tutor_line.id)
        assert h.reply_text(answer) == "-# Tutor\necho: Bob: no thanks"
        plain = await h.say(h.general, h.alice, "hello")
        assert h.reply_text(plain) == "-# Sara\necho: Alice: hello"
        session = await h.session_here(h.general)
        assert session is not None
        stored = [m.content for m in await h.history(session) if m.author_id == "tutor"]
        assert stored == ["echo: Alice: Tutor, quiz me", "echo: Bob: no thanks"]  # no name line
