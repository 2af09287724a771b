"""The fake Discord's REST API, as the real discord.py client uses it.

Sending, editing, typing, files, Discord's refusals, unknown routes, and no 5xx or retry in a
normal session.
"""

from __future__ import annotations

import io

import discord
import pytest
from aiohttp import web

from tests.bot.discord_app.minibot import MiniBot, World, received, running
from tests.fakes.discord_server import FakeDiscord


async def test_send_edit_and_typing_are_recorded(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    await channel.typing()
    content = f"hi <@{world.alice}> @everyone"
    message = await channel.send(content, allowed_mentions=discord.AllowedMentions.none())
    await message.edit(content="hi again")
    loud = await channel.send(f"hey <@{world.alice}>")

    quiet, noisy = fake_discord.sent_messages(world.general)
    assert quiet.allowed_mentions == {"parse": []}
    assert not quiet.pings()
    assert quiet.content == "hi again"
    assert [edit["content"] for edit in quiet.edits] == ["hi again"]
    assert quiet.payload["author"]["id"] == str(fake_discord.bot_id)
    assert noisy.pings().users == {world.alice}
    assert fake_discord.typing == [world.general]
    # Discord echoes the bot's own messages back over the gateway.
    assert (await received(fake_discord, bot, loud.id)).author == bot.user


async def test_replies_with_files_and_user_attachments(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    files = [("notes.txt", b"remember milk")]
    sent = await fake_discord.send_message(world.general, world.alice, "see", attachments=files)
    message = await received(fake_discord, bot, sent["id"])
    assert await message.attachments[0].read() == b"remember milk"

    upload = discord.File(io.BytesIO(b"# notes"), "notes.md")
    reply = await message.reply("got it", file=upload, mention_author=False)
    [recorded] = fake_discord.sent_messages(world.general)
    assert recorded.reply_to == message.id
    assert recorded.file("notes.md") == b"# notes"
    assert not recorded.pings()
    assert reply.attachments[0].filename == "notes.md"


async def test_too_long_or_empty_messages_are_refused_like_discord(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert (too_long.value.status, too_long.value.code) == (400, 50035)
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send("")
    assert empty.value.code == 50006
    assert fake_discord.sent_messages(world.general) == []


async def test_unknown_routes_answer_404_and_are_recorded(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=1)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert [r.path for r in fake_discord.unknown_requests] == ["/api/v10/guilds/1/bans"]
    fake_discord.unknown_requests.clear()  # the fixture fails tests that leave any


async def test_no_request_of_a_normal_session_gets_a_5xx_or_a_retry(
    fake_discord: FakeDiscord, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp warns once per process about a string key on a request, and pytest turns that
    # warning into an error: a fake that used one answered the first request of a run with a
    # 500, which discord.py retried. Forget the keys already warned about so a string key
    # would fail this test whatever ran before it.
    monkeypatch.setattr(web.BaseRequest, "_seen_str_keys", set(), raising=False)
    async with running(fake_discord, MiniBot()) as bot:
        channel = bot.get_channel(world.general)
        assert isinstance(channel, discord.TextChannel)
        sent = await fake_discord.send_message(world.general, world.alice, "hello")
        await received(fake_discord, bot, sent["id"])
        message = await channel.send("hi")
        await message.edit(content="hi again")
        run = await fake_discord.invoke_command(
            "note add", {"text": "milk"}, channel_id=world.general, user_id=world.alice
        )
        await fake_discord.wait_until(lambda: len(run.messages) == 2)
    assert fake_discord.server_errors == []
    answered = [(r.method, r.path, r.status) for r in fake_discord.requests]
    assert [a for a in answered if a[2] is None or a[2] >= 500] == []
    paths = [(method, path) for method, path, _ in answered]
    assert paths.count(("GET", "/api/v10/users/@me")) == 1, "the first request was retried"
