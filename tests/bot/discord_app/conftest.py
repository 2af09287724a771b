"""Fixtures for tests that run the real discord.py client against the fake Discord."""

from collections.abc import AsyncIterator

import discord
import pytest
from discord.gateway import DiscordWebSocket

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
