"""End to end: the slash commands of the real bot, run by users of the fake Discord."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.discord_app.places import conversation_key
from bot.discord_app.responses import APOLOGY
from storage import SessionStatus
from tests.bot.discord_app.harness import (
    GREETING,
    SESSION_COMMANDS,
    Harness,
    embed_of,
    harness,
    text_of,
)
from tests.fakes.discord_objects import Permission
from tests.fakes.discord_server import Payload


async def suggestions(
    h: Harness, command: str, options: dict[str, str], focused: str, *, user: int
) -> list[Payload]:
    """The choices the bot offers `user` typing the `focused` option of `command` in #random."""
    record = await h.fake.invoke_autocomplete(
        command, options, focused, channel_id=h.random, user_id=user
    )
    await h.fake.wait_response(record)
    return record.choices


async def test_commands_are_synced_globally_with_permissions_on_the_groups(h: Harness) -> None:
    commands = {command["name"]: command for command in h.fake.commands()}
    assert set(commands) == {"session", "persona", "usage"}
    session = {option["name"] for option in commands["session"]["options"]}
    assert session == SESSION_COMMANDS


async def test_commands_go_to_the_dev_guild_when_set(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.start(dev_guild=h.guild)
        assert {c["name"] for c in h.fake.commands(h.guild)} == {"session", "persona", "usage"}
        assert h.fake.commands() == []


async def test_an_explicit_gateway_url_is_used_without_asking_gateway_bot(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.start(discord_gateway_url=h.fake.gateway_url)
        assert not [r for r in h.fake.requests if r.path.endswith("/gateway/bot")]
        message = await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
        assert h.reply_text(message) == "echo: Alice: @sessionbot hi"


async def test_start_posts_the_greeting_and_refuses_a_second_session(h: Harness) -> None:
    record = await h.command(
        "session start",
        {"persona": "sara", "tags": "Intro, week 1"},
        channel=h.general,
        user=h.admin,
    )
    assert not record.ephemeral
    assert text_of(record).startswith(GREETING + "\n-# Session with Sara started by")
    session = await h.session_here(h.general)
    assert session is not None
    assert session.agent_id == "sara"
    assert session.tags == ["intro", "week-1"]
    assert session.user_id == str(h.admin)
    again = await h.command("session start", {"persona": "tutor"}, channel=h.general, user=h.admin)
    assert again.ephemeral
    assert "already has an active session with sara" in text_of(again)
    assert "`/session end`" in text_of(again)


async def test_start_needs_manage_threads_in_a_server(h: Harness) -> None:
    record = await h.command("session start", {"persona": "sara"}, channel=h.general, user=h.alice)
    assert record.ephemeral
    assert text_of(record).startswith("You need the Manage Threads permission")
    assert await h.session_here(h.general) is None


async def test_start_with_an_unknown_persona_names_the_available_ones(h: Harness) -> None:
    record = await h.command("session start", {"persona": "sarah"}, channel=h.general, user=h.admin)
    assert record.ephemeral
    assert "Did you mean 'sara'?" in text_of(record)


async def test_start_in_a_new_thread(h: Harness) -> None:
    record = await h.command(
        "session start", {"persona": "sara", "thread": True}, channel=h.general, user=h.admin
    )
    [thread_id] = [int(c["id"]) for c in h.fake.world.guild(h.guild).threads.values()]
    assert h.fake.channel(thread_id)["name"] == "Sara and Olga"
    assert f"<#{thread_id}>" in text_of(record)
    session = await h.session_here(thread_id, guild=h.guild)
    assert session is not None
    assert session.metadata["parent_channel_id"] == str(h.general)
    [greeting] = h.fake.sent_messages(thread_id)
    assert greeting.content.startswith(GREETING)
    message = await h.say(thread_id, h.alice, "hello thread")
    assert h.reply_text(message) == "echo: Alice: hello thread"


async def test_autocomplete_offers_personas_and_known_tags(h: Harness) -> None:
    await h.command(
        "session start", {"persona": "sara", "tags": "alpha, beta"}, channel=h.general, user=h.admin
    )
    personas = await suggestions(h, "session start", {"persona": "tu"}, "persona", user=h.admin)
    assert personas == [{"name": "Tutor (tutor)", "value": "tutor"}]
    tags = await suggestions(
        h, "session start", {"persona": "sara", "tags": "alpha, b"}, "tags", user=h.admin
    )
    assert tags == [{"name": "alpha, beta", "value": "alpha, beta"}]


async def test_tag_and_untag_change_this_channels_session(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    tagged = await h.command(
        "session tag", {"tags": "Campaign, dragons"}, channel=h.general, user=h.alice
    )
    assert text_of(tagged) == "Tagged `campaign` `dragons`. Tags now: `campaign` `dragons`."
    untagged = await h.command(
        "session untag", {"tags": "dragons"}, channel=h.general, user=h.alice
    )
    assert text_of(untagged) == "Removed `dragons`. Tags now: `campaign`."
    session = await h.session_here(h.general)
    assert session is not None and session.tags == ["campaign"]
    refused = await h.command("session tag", {"tags": "mine"}, channel=h.general, user=h.bob)
    assert refused.ephemeral
    assert "Manage Threads permission or to have started this session" in text_of(refused)
    by_admin = await h.command("session tag", {"tags": "mod"}, channel=h.general, user=h.admin)
    assert not by_admin.ephemeral
    nothing = await h.command("session tag", {"tags": "x"}, channel=h.random, user=h.admin)
    assert text_of(nothing).startswith("There's no session in this channel.")


async def test_info_shows_the_sessions_facts(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None
    record = await h.command("session info", channel=h.general, user=h.bob)
    assert record.ephemeral
    embed = embed_of(record)
    fields = {f["name"]: f["value"] for f in embed["fields"]}  # type: ignore[index]
    assert fields["ID"] == f"`{session.id}`"
    assert fields["Persona"] == "Sara (`sara`)"
    assert fields["Messages"] == "3"
    assert fields["Status"] == "active"
    assert fields["Started by"] == f"<@{h.alice}>"


async def test_end_stops_replies_and_keeps_history(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None
    record = await h.command("session end", channel=h.general, user=h.alice)
    assert text_of(record).startswith("Ended the session with Sara.")
    ignored = await h.say(h.general, h.alice, "still there?")
    assert h.replies_to(ignored) == []
    ended = await h.store.get_session(session.id)
    assert ended.status is SessionStatus.ENDED
    assert len(await h.history(ended)) == 3
    info = await h.command("session info", channel=h.general, user=h.alice)
    fields = {f["name"]: f["value"] for f in embed_of(info)["fields"]}  # type: ignore[index]
    assert fields["Status"] == "ended"


async def test_export_attaches_the_history(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await h.session_here(h.general)
    assert session is not None
    record = await h.command("session export", {"format": "json"}, channel=h.general, user=h.bob)
    assert record.ephemeral
    [message] = [m for m in record.messages if m.attachments]
    data = json.loads(message.file(f"session-{session.id}.json"))
    assert data["session"]["id"] == str(session.id)
    assert [m["content"] for m in data["messages"]][1] == "@sessionbot hi"
    markdown = await h.command("session export", channel=h.general, user=h.bob)
    [md] = [m for m in markdown.messages if m.attachments]
    assert "@sessionbot hi" in md.file(f"session-{session.id}.md").decode()


async def test_list_shows_only_this_servers_sessions(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> here")
    await h.say(h.elsewhere, h.alice, f"<@{h.fake.bot_id}> other server")
    dm = h.fake.open_dm(h.alice)
    await h.say(dm, h.alice, "private")
    record = await h.command("session list", channel=h.random, user=h.bob)
    assert record.ephemeral
    embed = embed_of(record)
    assert embed["title"] == "Sessions in Test Server"
    lines = str(embed["description"]).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"**sara** · <#{h.general}> · no tags · 3 messages ·")
    other = await h.command("session list", channel=h.elsewhere, user=h.alice)
    assert f"<#{h.elsewhere}>" in str(embed_of(other)["description"])
    assert f"<#{h.general}>" not in str(embed_of(other)["description"])


async def test_list_hides_sessions_in_channels_the_caller_cannot_see(h: Harness) -> None:
    staff = h.fake.add_role(h.guild, "staff", 0)
    hidden = {"id": str(h.guild), "type": 0, "allow": "0", "deny": str(Permission.VIEW_CHANNEL)}
    shown = {"id": str(staff), "type": 0, "allow": str(Permission.VIEW_CHANNEL), "deny": "0"}
    office = h.fake.add_channel(h.guild, "staff-office", overwrites=[hidden, shown])
    h.fake.add_member(h.guild, h.admin, roles=[staff])
    await h.settle()
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> public")
    await h.say(office, h.admin, f"<@{h.fake.bot_id}> private")

    bob_sees = await h.command("session list", channel=h.general, user=h.bob)
    lines = str(embed_of(bob_sees)["description"]).splitlines()
    assert len(lines) == 1 and f"<#{h.general}>" in lines[0]

    staff_sees = await h.command("session list", channel=h.general, user=h.admin)
    description = str(embed_of(staff_sees)["description"])
    assert f"<#{office}>" in description and f"<#{h.general}>" in description


async def test_tag_suggestions_skip_channels_the_caller_cannot_see(h: Harness) -> None:
    hidden = {"id": str(h.guild), "type": 0, "allow": "0", "deny": str(Permission.VIEW_CHANNEL)}
    office = h.fake.add_channel(h.guild, "staff-office", overwrites=[hidden])
    await h.settle()
    await h.command(
        "session start", {"persona": "sara", "tags": "secret-plan"}, channel=office, user=h.admin
    )
    await h.command(
        "session start", {"persona": "sara", "tags": "summer"}, channel=h.general, user=h.admin
    )
    suggested = await suggestions(h, "session list", {"tag": ""}, "tag", user=h.bob)
    assert suggested == [{"name": "summer", "value": "summer"}]


async def test_list_in_dms_shows_only_the_callers_own(h: Harness) -> None:
    alice_dm, bob_dm = h.fake.open_dm(h.alice), h.fake.open_dm(h.bob)
    await h.say(alice_dm, h.alice, "mine")
    await h.say(bob_dm, h.bob, "his")
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> public")
    record = await h.command("session list", channel=alice_dm, user=h.alice)
    embed = embed_of(record)
    assert embed["title"] == "Your direct-message sessions"
    lines = str(embed["description"]).splitlines()
    assert len(lines) == 1 and lines[0].startswith("**sara** · DM ·")


async def test_list_filters_and_pages(h: Harness) -> None:
    store = h.store
    rooms = [h.fake.add_channel(h.guild, f"room-{n}") for n in range(13)]
    await h.settle()
    for n in range(13):
        await store.create_session(
            agent_id="tutor" if n % 2 else "sara",
            situation="s",
            binding_key=conversation_key(h.guild, rooms[n]),
            tags=["even"] if n % 2 == 0 else [],
            user_id=str(h.alice) if n < 3 else str(h.bob),
        )
    first = await h.command("session list", channel=h.general, user=h.alice)
    embed = embed_of(first)
    assert len(str(embed["description"]).splitlines()) == 10
    assert embed["footer"]["text"] == "Page 1 · status all"  # type: ignore[index]
    assert f"<#{rooms[12]}>" in str(embed["description"]).splitlines()[0]  # newest first
    assert first.original is not None
    previous, following = first.original.custom_ids()
    click = await h.fake.invoke_component(following, first.original.id, user_id=h.alice)
    await h.fake.wait_response(click)
    page_two = first.original.embeds[0]
    assert len(page_two["description"].splitlines()) == 3
    assert page_two["footer"]["text"] == "Page 2 · status all"
    back = await h.fake.invoke_component(previous, first.original.id, user_id=h.alice)
    await h.fake.wait_response(back)
    assert first.original.embeds[0]["footer"]["text"] == "Page 1 · status all"
    stranger = await h.fake.invoke_component(following, first.original.id, user_id=h.bob)
    await h.fake.wait_response(stranger)
    assert stranger.ephemeral
    tutor = await h.command("session list", {"persona": "tutor"}, channel=h.general, user=h.alice)
    assert len(str(embed_of(tutor)["description"]).splitlines()) == 6
    tagged = await h.command("session list", {"tag": "even"}, channel=h.general, user=h.alice)
    assert len(str(embed_of(tagged)["description"]).splitlines()) == 7
    mine = await h.command("session list", {"mine": True}, channel=h.general, user=h.alice)
    assert len(str(embed_of(mine)["description"]).splitlines()) == 3
    ended = await h.command("session list", {"status": "ended"}, channel=h.general, user=h.alice)
    assert embed_of(ended)["description"] == "No sessions match."


async def test_persona_list_show_and_reload(h: Harness) -> None:
    listing = await h.command("persona list", channel=h.general, user=h.alice)
    description = str(embed_of(listing)["description"])
    assert "**Sara** (`sara`) · Mental-health educator" in description
    assert "**Tutor** (`tutor`)" in description
    shown = await h.command("persona show", {"persona": "sara"}, channel=h.general, user=h.alice)
    embed = embed_of(shown)
    assert embed["title"] == "Sara (`sara`)"
    fields = {f["name"]: f["value"] for f in embed["fields"]}  # type: ignore[index]
    assert fields["Greeting"] == GREETING
    assert fields["Model"] == "test-model"
    (h.directory / "personas" / "broken.yaml").write_text("name: Broken\ntemperature: 9\n")
    refused = await h.command("persona reload", channel=h.general, user=h.alice)
    assert text_of(refused).startswith("You need the Manage Server permission")
    owner = h.fake.guild(h.guild).owner_id
    reloaded = await h.command("persona reload", channel=h.general, user=owner)
    text = text_of(reloaded)
    assert text.startswith("Reloaded personas: 2 loaded (nothing changed), ")
    assert "broken.yaml:" in text


async def test_an_unexpected_failure_gets_an_apology_and_a_logged_traceback(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    await h.store.close()  # the database goes away under the running bot

    with caplog.at_level(logging.ERROR, logger="bot.discord_app.responses"):
        record = await h.command("session info", channel=h.general, user=h.bob)

    assert record.ephemeral
    assert text_of(record) == APOLOGY
    [logged] = [r for r in caplog.records if r.name == "bot.discord_app.responses"]
    assert logged.getMessage() == (
        f"unexpected error in session info (guild {h.guild}, channel {h.general}, user {h.bob})"
    )
    assert logged.exc_info is not None
