"""The fake Discord drives the real, unmodified discord.py client end to end.

Here: connecting, gateway events (messages, edits, deletes, DMs, threads), reconnects and login.
REST is tested in `test_fake_discord_rest.py`, interactions in
`test_fake_discord_interactions.py`; `MiniBot` (in `minibot.py`) is the client they all drive.
"""

from __future__ import annotations

import discord
import pytest

from tests.bot.discord_app.minibot import TOKEN, MiniBot, World, received, running
from tests.fakes.discord_server import FakeDiscord


async def test_client_connects_identifies_and_caches_the_guild(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    assert bot.user is not None and bot.user.id == fake_discord.bot_id
    guild = bot.get_guild(world.guild)
    assert guild is not None and guild.name == "Test Server"
    assert [c.name for c in guild.channels] == ["general", "forum"]
    assert isinstance(guild.get_channel(world.general), discord.TextChannel)
    assert guild.owner_id == world.owner
    assert guild.me.guild_permissions.send_messages
    [identify] = fake_discord.gateway.identifies
    assert identify["token"] == TOKEN
    assert identify["intents"] == bot.intents.value
    assert fake_discord.gateway.compressions == ["zlib-stream"]
    assert fake_discord.gateway.heartbeats >= 1


async def test_user_messages_edits_and_deletes_reach_the_client(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    sent = await fake_discord.send_message(world.general, world.alice, "hello bot")
    message = await received(fake_discord, bot, sent["id"])
    assert message.content == "hello bot"
    assert message.author.id == world.alice
    assert message.guild is not None and message.guild.id == world.guild
    assert message.channel.id == world.general

    await fake_discord.edit_message(message.id, "hello again")
    edit = await fake_discord.wait_for(lambda: bot.edits)
    assert edit[0].message.content == "hello again"
    await fake_discord.delete_message(message.id)
    delete = await fake_discord.wait_for(lambda: bot.deletes)
    assert delete[0].message_id == message.id


async def test_without_message_content_intent_only_mentions_carry_text(
    fake_discord: FakeDiscord, world: World
) -> None:
    async with running(fake_discord, MiniBot(message_content=False)) as bot:
        plain = await fake_discord.send_message(world.general, world.alice, "secret")
        mention = f"<@{fake_discord.bot_id}> hi"
        pinged = await fake_discord.send_message(world.general, world.alice, mention)
        assert (await received(fake_discord, bot, plain["id"])).content == ""
        message = await received(fake_discord, bot, pinged["id"])
        assert message.content == mention
        assert bot.user in message.mentions


async def test_direct_messages_have_no_guild(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    dm = fake_discord.open_dm(world.alice)
    sent = await fake_discord.send_message(dm, world.alice, "hi in private")
    message = await received(fake_discord, bot, sent["id"])
    assert message.guild is None
    assert isinstance(message.channel, discord.DMChannel)
    await message.channel.send("hello")
    user = await bot.fetch_user(world.alice)
    await user.send("again")  # opens the DM over REST
    assert [m.content for m in fake_discord.sent_messages(dm)] == ["hello", "again"]

    run = await fake_discord.invoke_command("ping", channel_id=dm, user_id=world.alice)
    assert (await fake_discord.wait_response(run))["data"]["content"] == "pong"
    assert "guild_id" not in run.payload and run.user_id == world.alice


async def test_threads_created_by_users_and_by_the_client(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    thread_id = await fake_discord.create_thread(world.general, "alice's thread", world.alice)
    thread = await fake_discord.wait_for(lambda: bot.get_channel(thread_id))
    assert isinstance(thread, discord.Thread) and thread.parent_id == world.general
    sent = await fake_discord.send_message(thread_id, world.alice, "in the thread")
    message = await received(fake_discord, bot, sent["id"])
    assert message.channel == thread and message.guild is not None

    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    starter = await channel.send("topic")
    made = await starter.create_thread(name="from a message")
    private = await channel.create_thread(name="private", type=discord.ChannelType.private_thread)
    assert made.id == starter.id
    await made.join()
    assert fake_discord.channel(private.id)["type"] == 12
    await fake_discord.wait_until(lambda: len(bot.threads) == 3)
    await private.send("inside")
    assert [m.content for m in fake_discord.sent_messages(private.id)] == ["inside"]

    forum = next(c for c in fake_discord.guild(world.guild).channels.values() if c["type"] == 15)
    post = await fake_discord.create_thread(int(forum["id"]), "a post", world.alice, content="q?")
    assert (await received(fake_discord, bot, post)).content == "q?"


async def test_reconnect_resumes_and_replays_missed_events(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    await fake_discord.reconnect_gateway()
    sent = await fake_discord.send_message(world.general, world.alice, "during reconnect")
    assert (await received(fake_discord, bot, sent["id"])).content == "during reconnect"
    await fake_discord.wait_until(lambda: len(fake_discord.gateway.resumes) == 1)
    await fake_discord.wait_ready()
    assert len(fake_discord.gateway.identifies) == 1


async def test_a_second_client_connects_after_the_first_closes(
    fake_discord: FakeDiscord, world: World
) -> None:
    async with running(fake_discord, MiniBot()) as first:
        sent = await fake_discord.send_message(world.general, world.alice, "one")
        await received(fake_discord, first, sent["id"])
    assert not fake_discord.gateway.ready
    async with running(fake_discord, MiniBot()) as second:
        await fake_discord.wait_ready()
        sent = await fake_discord.send_message(world.general, world.alice, "two")
        assert (await received(fake_discord, second, sent["id"])).content == "two"
        run = await fake_discord.invoke_command(
            "ping", channel_id=world.general, user_id=world.alice
        )
        await fake_discord.wait_response(run)
    assert len(fake_discord.gateway.identifies) == 2
    assert len(fake_discord.command_syncs) == 2


async def test_a_wrong_token_fails_login() -> None:
    async with FakeDiscord(token="right") as fake:
        discord.http.Route.BASE = fake.api_base
        bot = MiniBot()
        with pytest.raises(discord.LoginFailure):
            await bot.login("wrong")
        await bot.close()
