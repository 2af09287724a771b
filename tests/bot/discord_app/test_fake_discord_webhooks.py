"""The fake Discord's webhooks, as the real discord.py client uses them.

Create and list (Manage Webhooks, 15 per channel, name rules), execute with `wait` and
`thread_id`, edit and delete through the webhook only, and MESSAGE_CREATE with `webhook_id`.
"""

from __future__ import annotations

import discord
import pytest

from tests.bot.discord_app.minibot import MiniBot, World, received
from tests.fakes.discord_objects import Permission
from tests.fakes.discord_server import FakeDiscord

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def thread_in(fake: FakeDiscord, forum_id: int) -> discord.Object:
    """A new post in a forum (made by the fake, as a user would)."""
    owner = fake.world.owner_id
    thread = fake.world.add_thread(forum_id, "a post", owner, private=False, thread_id=None)
    return discord.Object(int(thread["id"]))


def text_channel(bot: MiniBot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_a_created_webhook_posts_with_a_name_and_avatar_per_message(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = text_channel(bot, world.general)
    hook = await channel.create_webhook(name="sessionbot", avatar=PNG)
    assert hook.user is not None and hook.user.id == fake_discord.bot_id and hook.token
    message = await hook.send(
        "hello", username="Sara", avatar_url="https://example.com/s.png", wait=True
    )
    [sent] = fake_discord.webhooks.sent(world.general)
    assert (sent.content, sent.username, sent.avatar_url) == (
        "hello",
        "Sara",
        "https://example.com/s.png",
    )
    assert fake_discord.webhooks.hooks[hook.id].image == PNG
    seen = await received(fake_discord, bot, message.id)
    assert seen.webhook_id == hook.id and seen.author.name == "Sara"
    assert fake_discord.sent_messages(world.general) == []  # not the bot user's message
    assert await hook.send("no wait") is None
    [listed] = await channel.webhooks()
    assert listed.id == hook.id and listed.token == hook.token


async def test_edit_and_delete_go_through_the_webhook_that_posted(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = text_channel(bot, world.general)
    hook = await channel.create_webhook(name="one")
    other = await channel.create_webhook(name="two")
    message = await hook.send("first", wait=True)
    await hook.edit_message(message.id, content="edited")
    [sent] = fake_discord.webhooks.sent(world.general)
    assert sent.content == "edited" and sent.edits[-1]["content"] == "edited"
    with pytest.raises(discord.NotFound):
        await other.edit_message(message.id, content="not mine")
    with pytest.raises(discord.Forbidden):  # the bot user cannot edit a webhook's message
        await channel.get_partial_message(message.id).edit(content="as the bot")
    await hook.delete_message(message.id)
    assert sent.deleted
    with pytest.raises(discord.NotFound):
        await hook.delete_message(message.id)


async def test_threads_and_forum_posts_take_the_parents_webhook_with_thread_id(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = text_channel(bot, world.general)
    hook = await channel.create_webhook(name="sessionbot")
    thread = await channel.create_thread(name="t", type=discord.ChannelType.public_thread)
    message = await hook.send("in the thread", thread=thread, wait=True)
    [sent] = fake_discord.webhooks.sent(thread.id)
    assert sent.id == message.id
    await hook.edit_message(message.id, content="edited", thread=thread)
    with pytest.raises(discord.NotFound):  # without thread_id, Discord looks in the channel
        await hook.edit_message(message.id, content="where?")
    with pytest.raises(discord.HTTPException) as refused:  # a thread of another channel
        await hook.send("x", thread=discord.Object(world.general), wait=True)
    assert refused.value.code == 10003
    forum = next(c for c in bot.get_all_channels() if isinstance(c, discord.ForumChannel))
    forum_hook = await forum.create_webhook(name="sessionbot")
    with pytest.raises(discord.HTTPException) as no_post:
        await forum_hook.send("where does this go?", wait=True)
    assert no_post.value.code == 220001
    await forum_hook.send("in a post", thread=thread_in(fake_discord, forum.id), wait=True)


async def test_manage_webhooks_is_required_to_create_or_list(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    guild = fake_discord.add_guild(
        "Strict", bot_permissions=Permission.BOT_DEFAULT & ~Permission.MANAGE_WEBHOOKS
    )
    lobby = fake_discord.add_channel(guild, "lobby")
    await fake_discord.wait_until(lambda: bot.get_channel(lobby) is not None)
    channel = text_channel(bot, lobby)
    with pytest.raises(discord.Forbidden):
        await channel.create_webhook(name="sessionbot")
    with pytest.raises(discord.Forbidden):
        await channel.webhooks()


async def test_a_channel_holds_at_most_15_webhooks_and_names_are_checked(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = text_channel(bot, world.general)
    for number in range(14):
        fake_discord.webhooks.add(world.general, f"feed {number}")
    last = await channel.create_webhook(name="fifteenth")
    with pytest.raises(discord.HTTPException) as full:
        await channel.create_webhook(name="sixteenth")
    assert full.value.code == 30007
    await last.delete()
    with pytest.raises(discord.HTTPException) as named:
        await channel.create_webhook(name="My Discord hook")
    assert named.value.code == 50035


async def test_only_the_bots_own_webhooks_keep_buttons(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Retry", custom_id="retry:1"))
    channel = text_channel(bot, world.general)
    mine = await channel.create_webhook(name="mine")
    await mine.send("with a button", view=view, wait=True)
    theirs = fake_discord.webhooks.add(world.general, "theirs")
    foreign = discord.Webhook.partial(theirs.id, theirs.payload["token"], client=bot)
    await foreign.send("no button", wait=True)
    kept, dropped = fake_discord.webhooks.sent(world.general)
    assert kept.custom_ids() == ["retry:1"]
    assert dropped.custom_ids() == []
