"""End to end: `/session attach` brings a session made elsewhere (the HTTP API) into Discord."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from bot.discord_app.places import conversation_key, guild_prefix
from storage import ListQuery, Role, Session
from tests.bot.discord_app.harness import Harness, harness, is_ephemeral, text_of
from tests.fakes.discord_server import InteractionRecord, Permission

SITUATION = "You are Sara, coaching Ana before her conference talk."


async def api_session(
    h: Harness,
    *,
    agent_id: str = "sara",
    user_id: str | None = "ana",
    metadata: dict[str, str] | None = None,
    binding_key: str | None = None,
) -> Session:
    """A session as `POST /sessions` makes it: a pinned situation, metadata, some history."""
    store = h.store
    session = await store.create_session(
        agent_id=agent_id,
        situation=SITUATION,
        user_id=user_id,
        metadata={"db_uuid": "1234"} if metadata is None else metadata,
        binding_key=binding_key,
    )
    await store.append_message(
        session.id, role=Role.USER, content="I freeze on stage.", author_name="Ana", tokens=5
    )
    await store.append_message(
        session.id, role=Role.ASSISTANT, content="Let's breathe first.", author_name="Sara",
        tokens=4,
    )  # fmt: skip
    return session


async def attach(h: Harness, session_id: object, *, channel: int, user: int) -> InteractionRecord:
    options = {"id": str(session_id)}
    record: InteractionRecord = await h.command(
        "session attach", options, channel=channel, user=user
    )
    return record


def refusal(record: InteractionRecord) -> str:
    assert is_ephemeral(record), text_of(record)
    return text_of(record)


async def moderator_in_other_guild(h: Harness) -> int:
    """Olga, given Manage Threads in the second server too."""
    mods = h.fake.add_role(h.other_guild, "mods", Permission.MANAGE_THREADS)
    h.fake.add_member(h.other_guild, h.admin, roles=[mods])
    await h.settle()
    return h.admin


# Attaching --------------------------------------------------------------------------------


async def test_an_api_session_attached_to_a_channel_continues_with_its_history(
    h: Harness,
) -> None:
    session = await api_session(h)
    record = await attach(h, session.id, channel=h.general, user=h.admin)
    assert not is_ephemeral(record)
    assert text_of(record) == (
        f"Attached session `{session.id}` with Sara (2 messages so far). "
        "Messages here now continue it."
    )
    message = await h.say(h.general, h.alice, "What should I do tonight?")
    assert h.reply_text(message) == "echo: Alice: What should I do tonight?"
    sent = h.llm.chat_requests[-1].body["messages"]
    assert sent == [
        {"role": "system", "content": SITUATION},
        {"role": "user", "content": "Ana: I freeze on stage."},
        {"role": "assistant", "content": "Let's breathe first."},
        {"role": "user", "content": "Alice: What should I do tonight?"},
    ]
    history = await h.history(session)
    assert [m.content for m in history][-2:] == [
        "What should I do tonight?",
        "echo: Alice: What should I do tonight?",
    ]
    # The context came from the store: the bot never read the channel's history.
    assert not [r for r in h.fake.requests if r.method == "GET" and "/messages" in r.path]


async def test_an_attached_session_is_listed_with_the_servers_and_keeps_its_own_facts(
    h: Harness,
) -> None:
    session = await api_session(h)
    await attach(h, session.id, channel=h.general, user=h.admin)
    page = await h.store.list_sessions(ListQuery(key_prefix=f"discord:{h.guild}:"))
    assert [s.id for s in page.items] == [session.id]
    attached = page.items[0]
    assert attached.binding_key == conversation_key(h.guild, h.general)
    assert attached.metadata == {
        "db_uuid": "1234",
        "platform": "discord",
        "guild_id": str(h.guild),
        "channel_id": str(h.general),
        "attached_by": str(h.admin),
        "attached_by_name": "Olga",
    }
    assert (attached.user_id, attached.situation, attached.agent_id) == ("ana", SITUATION, "sara")
    listing = await h.command("session list", channel=h.random, user=h.bob)
    assert listing.original is not None
    assert f"<#{h.general}>" in listing.original.embeds[0]["description"]


async def test_attach_in_a_thread_records_its_parent_channel(h: Harness) -> None:
    thread = await h.fake.create_thread(h.general, "talk prep", h.alice)
    await h.settle()
    session = await api_session(h)
    record = await attach(h, session.id, channel=thread, user=h.admin)
    assert not is_ephemeral(record)
    attached = await h.session_here(thread, guild=h.guild)
    assert attached is not None and attached.id == session.id
    assert attached.metadata["channel_id"] == str(thread)
    assert attached.metadata["parent_channel_id"] == str(h.general)
    message = await h.say(thread, h.bob, "any tips?")
    assert h.reply_text(message) == "echo: Bob: any tips?"
    assert await h.session_here(h.general) is None


async def test_sessions_bound_to_another_front_end_can_be_attached(h: Harness) -> None:
    for key in ("cli:ana", "api:dashboard"):
        session = await api_session(h, binding_key=key)
        channel = h.fake.add_channel(h.guild, key.replace(":", "-"))
        await h.settle()
        record = await attach(h, session.id, channel=channel, user=h.admin)
        assert not is_ephemeral(record), text_of(record)
        moved = await h.store.get_session(session.id)
        assert moved.binding_key == conversation_key(h.guild, channel)
        assert await h.store.active_session(key) is None


async def test_a_session_with_no_user_attached_in_a_dm_becomes_the_callers(h: Harness) -> None:
    dm = h.fake.open_dm(h.bob)
    session = await api_session(h, user_id=None, metadata={"guild_id": "stale"})
    record = await attach(h, session.id, channel=dm, user=h.bob)
    assert text_of(record).startswith(f"Attached session `{session.id}` with Sara")
    attached = await h.store.get_session(session.id)
    assert attached.binding_key == conversation_key(None, dm)
    assert attached.user_id == str(h.bob)
    assert attached.metadata["dm"] is True
    assert "guild_id" not in attached.metadata
    message = await h.say(dm, h.bob, "hello")
    assert h.reply_text(message) == "echo: Bob: hello"
    mine = await h.command("session list", channel=dm, user=h.bob)
    assert mine.original is not None
    assert mine.original.embeds[0]["description"].startswith("**sara** · DM ·")


async def test_the_callers_own_session_can_be_attached_in_their_dm(h: Harness) -> None:
    dm = h.fake.open_dm(h.alice)
    session = await api_session(h, user_id=str(h.alice))
    assert not is_ephemeral(await attach(h, session.id, channel=dm, user=h.alice))
    assert (await h.store.get_session(session.id)).binding_key == conversation_key(None, dm)


# Refusals ---------------------------------------------------------------------------------


async def test_attach_refuses_a_malformed_id(h: Harness) -> None:
    record = await attach(h, "12`34 <@1>", channel=h.general, user=h.admin)
    text = refusal(record)
    assert text.startswith("`1234 <@1>` is not a session id; paste the whole id")
    assert await h.session_here(h.general) is None


async def test_attach_refuses_an_unknown_id(h: Harness) -> None:
    missing = uuid4()
    text = refusal(await attach(h, missing, channel=h.general, user=h.admin))
    assert text.startswith(f"There is no session with id `{missing}`; check the id")


async def test_attach_refuses_an_ended_session(h: Harness) -> None:
    session = await api_session(h)
    await h.store.end_session(session.id)
    text = refusal(await attach(h, session.id, channel=h.general, user=h.admin))
    assert text.startswith(f"Session `{session.id}` has ended, so it can't be attached;")
    assert (await h.store.get_session(session.id)).binding_key is None


async def test_attach_refuses_where_a_session_is_already_active(h: Harness) -> None:
    await h.say(h.general, h.alice, f"<@{h.fake.bot_id}> hi")
    session = await api_session(h)
    text = refusal(await attach(h, session.id, channel=h.general, user=h.admin))
    assert text == (
        "This channel already has an active session with sara; end it with `/session end` "
        "first, then attach again."
    )
    assert (await h.store.get_session(session.id)).binding_key is None
    active = await h.session_here(h.general)
    assert active is not None
    again = await attach(h, active.id, channel=h.general, user=h.admin)
    assert refusal(again) == (
        f"Session `{active.id}` is already attached here; send a message to continue it."
    )


async def test_a_session_attached_in_one_server_cannot_be_pulled_into_another(
    h: Harness,
) -> None:
    session = await api_session(h)
    await attach(h, session.id, channel=h.general, user=h.admin)
    moderator = await moderator_in_other_guild(h)
    text = refusal(await attach(h, session.id, channel=h.elsewhere, user=moderator))
    assert text.startswith(
        f"Session `{session.id}` is already attached to another Discord channel, so it "
        "can't be moved here;"
    )
    assert str(h.guild) not in text and str(h.general) not in text  # where it is stays private
    for channel, user in ((h.random, h.admin), (h.fake.open_dm(h.admin), h.admin)):
        assert "already attached to another Discord channel" in refusal(
            await attach(h, session.id, channel=channel, user=user)
        )
    kept = await h.store.get_session(session.id)
    assert kept.binding_key == conversation_key(h.guild, h.general)
    assert kept.metadata["guild_id"] == str(h.guild)
    other = await h.store.list_sessions(ListQuery(key_prefix=guild_prefix(h.other_guild)))
    assert other.items == []
    message = await h.say(h.elsewhere, h.alice, "hello?")
    assert h.replies_to(message) == []


async def test_two_servers_attaching_the_same_session_at_once_get_one_winner(
    h: Harness,
) -> None:
    session = await api_session(h)
    moderator = await moderator_in_other_guild(h)
    options = {"id": str(session.id)}
    here = await h.fake.invoke_command(
        "session attach", options, channel_id=h.general, user_id=h.admin
    )
    there = await h.fake.invoke_command(
        "session attach", options, channel_id=h.elsewhere, user_id=moderator
    )
    for record in (here, there):
        await h.fake.wait_response(record)
    refused = [record for record in (here, there) if is_ephemeral(record)]
    assert len(refused) == 1
    assert "already attached to another Discord channel" in text_of(refused[0])
    winner = here if refused[0] is there else there
    channel = h.general if winner is here else h.elsewhere
    kept = await h.store.get_session(session.id)
    assert kept.binding_key == conversation_key(h.fake.world.guild_id_of(channel), channel)
    assert kept.metadata["channel_id"] == str(channel)


async def test_attach_in_a_dm_refuses_another_users_session(h: Harness) -> None:
    session = await api_session(h, user_id=str(h.alice))
    dm = h.fake.open_dm(h.bob)
    text = refusal(await attach(h, session.id, channel=dm, user=h.bob))
    assert text.startswith(f"Session `{session.id}` was created for another user, so it can't")
    named = await api_session(h, user_id="ana")
    assert "created for another user" in refusal(await attach(h, named.id, channel=dm, user=h.bob))
    assert await h.store.active_session(conversation_key(None, dm)) is None


async def test_attach_needs_manage_threads_in_a_server(h: Harness) -> None:
    session = await api_session(h)
    text = refusal(await attach(h, session.id, channel=h.general, user=h.alice))
    assert text.startswith("You need the Manage Threads permission")
    assert (await h.store.get_session(session.id)).binding_key is None


async def test_attach_refuses_a_session_whose_persona_is_not_loaded(h: Harness) -> None:
    session = await api_session(h, agent_id="ghost")
    text = refusal(await attach(h, session.id, channel=h.general, user=h.admin))
    assert text.startswith(f"Session `{session.id}` uses the persona `ghost`, which isn't loaded")


async def test_attach_in_a_dm_is_refused_when_dms_are_off(tmp_path: Path) -> None:
    async with harness(tmp_path, allow_dms=False) as h:
        await h.start()
        session = await api_session(h, user_id=None)
        dm = h.fake.open_dm(h.alice)
        text = refusal(await attach(h, session.id, channel=dm, user=h.alice))
        assert text.startswith("Sessions in direct messages are turned off on this bot.")
