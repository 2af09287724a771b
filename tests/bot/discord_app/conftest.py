"""Fixtures for tests that run the real discord.py client against the fake Discord.

`h` is the real SessionBot, started in the harness's small world (see `harness.py`). `world` and
`bot` serve the tests of the fake Discord itself (`test_fake_discord*.py`): a small guild and a
running `MiniBot`.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from tests.bot.discord_app.harness import Harness, harness
from tests.bot.discord_app.minibot import MiniBot, World, running
from tests.fakes.discord_server import FakeDiscord


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord; fails the test if the bot hit a route it lacks."""
    async with FakeDiscord() as fake:
        yield fake
        fake.assert_no_errors()


@pytest.fixture(autouse=True)
def restore_discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo, after each test, the class-level endpoints a client under test points at a fake.

    Setting an attribute to its own value makes monkeypatch remember and restore it.
    """
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:
    owner = fake_discord.add_user("olga")
    guild = fake_discord.add_guild("Test Server", owner_id=owner)
    general = fake_discord.add_channel(guild, "general")
    fake_discord.add_channel(guild, "forum", type=15)
    alice = fake_discord.add_user("alice", guilds=[guild])
    return World(guild, general, alice, owner)


@pytest.fixture
async def bot(fake_discord: FakeDiscord, world: World) -> AsyncIterator[MiniBot]:
    async with running(fake_discord, MiniBot()) as client:
        yield client


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot, started in the harness's world; stopped and checked at teardown."""
    async with harness(tmp_path) as running:
        await running.start()
        yield running
