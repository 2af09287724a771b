"""The fake Discord's message history and gateway sessions, as the real discord.py client sees
them: pages of `GET /channels/{id}/messages`, messages posted while the bot is down, duplicate
delivery, and a reconnect that RESUMEs or, after an invalid session, IDENTIFYs anew."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from tests.bot.discord_app.minibot import MiniBot, World, received, running
from tests.fakes.discord_server import FakeDiscord


async def post(fake: FakeDiscord, world: World, count: int) -> list[int]:
    return [
        int((await fake.send_message(world.general, world.alice, f"m{i}"))["id"])
        for i in range(count)
    ]


async def test_history_pages_come_newest_first_after_before_and_around(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    ids = await post(fake_discord, world, 6)
    logs = bot.http.logs_from

    def page(data: list[Any]) -> list[int]:
        return [int(m["id"]) for m in data]

    assert page(await logs(world.general, 3, after=ids[1])) == [ids[4], ids[3], ids[2]]
    assert page(await logs(world.general, 2, before=ids[3])) == [ids[2], ids[1]]
    assert page(await logs(world.general, 3, around=ids[3])) == [ids[4], ids[3], ids[2]]
    assert page(await logs(world.general, 50)) == ids[::-1]
    channel = bot.get_channel(world.general)
    assert isinstance(channel, discord.TextChannel)
    oldest_first = [m.id async for m in channel.history(limit=2, after=discord.Object(ids[0]))]
    assert oldest_first == [ids[1], ids[2]]


@pytest.mark.parametrize(
    "kwargs",
    [{"limit": 101}, {"limit": 0}, {"limit": 5, "before": 2, "after": 1}],
)
async def test_history_refuses_a_limit_out_of_range_or_two_anchors(
    fake_discord: FakeDiscord, world: World, bot: MiniBot, kwargs: dict[str, int]
) -> None:
    limit = kwargs.pop("limit")
    with pytest.raises(discord.HTTPException) as refused:
        await bot.http.logs_from(world.general, limit, **kwargs)
    assert refused.value.status == 400 and refused.value.code == 50035


async def test_history_holds_no_ephemeral_message_and_no_gateway_only_fields(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    [said] = await post(fake_discord, world, 1)
    await bot.tree.sync()
    record = await fake_discord.invoke_command(
        "ping", channel_id=world.general, user_id=world.alice
    )
    await fake_discord.wait_response(record)
    data = await bot.http.logs_from(world.general, 50)
    assert [int(m["id"]) for m in data] == [said]
    assert "member" not in data[0] and "guild_id" not in data[0]


async def test_messages_posted_while_the_bot_is_down_are_in_history_but_never_dispatched(
    fake_discord: FakeDiscord, world: World
) -> None:
    missed = fake_discord.post_while_down(world.general, world.alice, "anyone there?")
    async with running(fake_discord, MiniBot()) as bot:
        channel = bot.get_channel(world.general)
        assert isinstance(channel, discord.TextChannel)
        assert [m.content async for m in channel.history(limit=5)] == ["anyone there?"]
        await fake_discord.gateway.flush()
        assert all(m.id != int(missed["id"]) for m in bot.messages)
        with pytest.raises(RuntimeError, match="connected"):
            fake_discord.post_while_down(world.general, world.alice, "too late")


async def test_a_duplicate_delivery_dispatches_the_same_message_again(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    [said] = await post(fake_discord, world, 1)
    await received(fake_discord, bot, said)
    await fake_discord.redeliver(said)
    await fake_discord.wait_until(lambda: [m.id for m in bot.messages].count(said) == 2)


async def test_a_dropped_connection_resumes_and_replays_what_was_posted_meanwhile(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    fake_discord.gateway.hold_connections()
    await fake_discord.gateway.drop()
    missed = fake_discord.post_while_down(world.general, world.alice, "while you were out")
    fake_discord.gateway.accept_connections()
    await received(fake_discord, bot, missed["id"])
    assert len(fake_discord.gateway.resumes) == 1
    assert len(fake_discord.gateway.identifies) == 1


async def test_an_invalid_session_makes_the_client_identify_anew_with_nothing_replayed(
    fake_discord: FakeDiscord, world: World, bot: MiniBot
) -> None:
    fake_discord.gateway.hold_connections()
    await fake_discord.invalidate_session()
    await fake_discord.wait_until(lambda: fake_discord.gateway.current is None)
    missed = fake_discord.post_while_down(world.general, world.alice, "lost on the gateway")
    fake_discord.gateway.accept_connections()
    # discord.py waits 5 s before an IDENTIFY that is not its first (Client.before_identify_hook)
    await fake_discord.wait_until(lambda: len(fake_discord.gateway.identifies) == 2, timeout=15)
    await fake_discord.wait_ready()
    later = await fake_discord.send_message(world.general, world.alice, "after the new READY")
    await received(fake_discord, bot, later["id"])
    assert all(m.id != int(missed["id"]) for m in bot.messages)
    assert fake_discord.gateway.resumes == []
