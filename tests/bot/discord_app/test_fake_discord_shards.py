"""The fake Discord's sharding, checked with discord.py's own AutoShardedClient: each shard gets
READY and GUILD_CREATE for its guilds only, their messages, and shard 0 gets direct messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import discord
import yarl
from discord.gateway import DiscordWebSocket

from tests.bot.discord_app.minibot import TOKEN
from tests.fakes.discord_gateway import shard_of
from tests.fakes.discord_server import FakeDiscord


class ShardClient(discord.AutoShardedClient):
    """Records which shard saw which message."""

    def __init__(self, shard_ids: list[int], shard_count: int) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = True
        super().__init__(
            intents=intents, shard_ids=shard_ids, shard_count=shard_count, guild_ready_timeout=0.05
        )
        self.seen: list[tuple[int | None, str]] = []
        self.ready_seen = asyncio.Event()

    async def setup_hook(self) -> None:
        _, url, _ = await self.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def on_ready(self) -> None:
        self.ready_seen.set()

    async def on_message(self, message: discord.Message) -> None:
        shard = message.guild.shard_id if message.guild else None
        self.seen.append((shard, message.content))


@contextlib.asynccontextmanager
async def connected(fake: FakeDiscord, client: ShardClient) -> AsyncIterator[ShardClient]:
    discord.http.Route.BASE = fake.api_base
    task = asyncio.create_task(client.start(TOKEN))
    try:
        await asyncio.wait_for(client.ready_seen.wait(), 10)
        yield client
    finally:
        await client.close()
        await task


async def test_each_shard_gets_its_own_guilds_and_shard_0_the_direct_messages(
    fake_discord: FakeDiscord,
) -> None:
    fake = fake_discord
    owner = fake.add_user("olga")
    even = fake.add_guild("Even", owner_id=owner, shard=(0, 2))
    odd = fake.add_guild("Odd", owner_id=owner, shard=(1, 2))
    assert (shard_of(even, 2), shard_of(odd, 2)) == (0, 1)
    even_room = fake.add_channel(even, "general")
    odd_room = fake.add_channel(odd, "general")
    ana = fake.add_user("ana", guilds=[even, odd])
    dm = fake.open_dm(ana)

    async with (
        connected(fake, ShardClient([0], 2)) as zero,
        connected(fake, ShardClient([1], 2)) as one,
    ):
        assert [g.id for g in zero.guilds] == [even]
        assert [g.id for g in one.guilds] == [odd]
        assert fake.gateway.shard_ready(0) and fake.gateway.shard_ready(1)
        assert [i["shard"] for i in fake.gateway.identifies] == [[0, 2], [1, 2]]
        await fake.send_message(even_room, ana, "to the even guild")
        await fake.send_message(odd_room, ana, "to the odd guild")
        await fake.send_message(dm, ana, "a direct message")
        await fake.wait_until(lambda: len(zero.seen) == 2 and len(one.seen) == 1)
        assert zero.seen == [(0, "to the even guild"), (None, "a direct message")]
        assert one.seen == [(1, "to the odd guild")]


async def test_a_shard_without_a_session_misses_its_events(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    owner = fake.add_user("olga")
    odd = fake.add_guild("Odd", owner_id=owner, shard=(1, 2))
    room = fake.add_channel(odd, "general")
    ana = fake.add_user("ana", guilds=[odd])
    async with connected(fake, ShardClient([0], 2)) as zero:
        message = await fake.send_message(room, ana, "nobody holds shard 1")
        assert zero.seen == [] and list(zero.guilds) == []
        # The message is still in the channel, for a shard that connects later to catch up.
        assert fake.world.message(int(message["id"]))["content"] == "nobody holds shard 1"


async def test_an_out_of_range_shard_is_refused(fake_discord: FakeDiscord) -> None:
    client = ShardClient([2], 2)
    discord.http.Route.BASE = fake_discord.api_base
    task = asyncio.create_task(client.start(TOKEN))
    await fake_discord.wait_until(lambda: bool(fake_discord.gateway.identifies))
    await asyncio.sleep(0.2)
    assert not fake_discord.gateway.shards
    await client.close()
    with contextlib.suppress(Exception):
        await task
