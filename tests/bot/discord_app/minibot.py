"""`MiniBot`: the smallest discord.py client that uses what sessionbot needs.

The tests of the fake Discord itself drive it. It uses the gateway (messages, DMs, threads,
interactions), REST (send, edit, typing, files, threads), an app-command tree with a group,
defer + follow-up, autocomplete and a button view. It is pointed at the fake exactly as the bot
must be in production: ``Route.BASE`` before login, the gateway URL from ``GET /gateway/bot``
into ``DiscordWebSocket.DEFAULT_GATEWAY`` in ``setup_hook``. The `world` and `bot` fixtures
that use it are in this folder's conftest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from tests.fakes.discord_server import FakeDiscord

TOKEN = "test-token"


class Menu(discord.ui.View):
    def __init__(self, clicks: list[int]) -> None:
        super().__init__(timeout=60)
        self.clicks = clicks

    @discord.ui.button(label="OK", custom_id="menu:ok")
    async def ok(self, interaction: discord.Interaction, button: discord.ui.Button[Menu]) -> None:
        self.clicks.append(interaction.user.id)
        await interaction.response.edit_message(content="clicked", view=None)


class MiniBot(discord.Client):
    """A minimal client with the intents, commands and views sessionbot relies on."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = message_content
        # guild_ready_timeout: on_ready fires this long after the last GUILD_CREATE (default 2 s).
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.messages: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.deletes: list[discord.RawMessageDeleteEvent] = []
        self.threads: list[discord.Thread] = []
        self.clicks: list[int] = []
        self.ready_seen = asyncio.Event()
        self._add_commands()

    async def setup_hook(self) -> None:
        # The production wiring for the gateway: ask the configured REST base where it is.
        _, url, _ = await self.http.get_bot_gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready_seen.set()

    async def on_message(self, message: discord.Message) -> None:
        self.messages.append(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.deletes.append(payload)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)

    def _add_commands(self) -> None:
        @self.tree.command()
        async def ping(interaction: discord.Interaction) -> None:
            """Answer privately."""
            await interaction.response.send_message("pong", ephemeral=True)

        @self.tree.command()
        async def menu(interaction: discord.Interaction) -> None:
            """Show a button."""
            await interaction.response.send_message("pick one", view=Menu(self.clicks))

        @self.tree.command()
        @app_commands.default_permissions(manage_guild=True)
        async def purge(interaction: discord.Interaction) -> None:
            """Admins only."""
            await interaction.response.send_message("purged", ephemeral=True)

        note = app_commands.Group(name="note", description="Keep notes.")

        @note.command(name="add")
        @app_commands.describe(text="What to note.", private="Only you see the answer.")
        async def note_add(
            interaction: discord.Interaction, text: str, private: bool = False
        ) -> None:
            """Add a note."""
            await interaction.response.defer(ephemeral=private, thinking=True)
            await interaction.followup.send(f"noted: {text}")
            await interaction.followup.send("anything else?")

        @note_add.autocomplete("text")
        async def text_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            words = ["milk", "mint", "bread"]
            return [app_commands.Choice(name=w, value=w) for w in words if w.startswith(current)]

        @note.command(name="who")
        @app_commands.describe(user="Whom to name.")
        async def note_who(interaction: discord.Interaction, user: discord.User) -> None:
            """Name a user."""
            await interaction.response.send_message(f"that is {user.name}")

        self.tree.add_command(note)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: MiniBot) -> AsyncIterator[MiniBot]:
    """Start `bot` against `fake` (REST base set before login), wait for on_ready, close it."""
    discord.http.Route.BASE = fake.api_base
    task = asyncio.create_task(bot.start(TOKEN))
    ready = asyncio.create_task(bot.ready_seen.wait())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
            raise AssertionError("the client stopped before on_ready")
        assert ready in done, "on_ready did not fire within 10 s"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await task


@dataclass
class World:
    guild: int
    general: int
    alice: int
    owner: int


async def received(fake: FakeDiscord, bot: MiniBot, message_id: int | str) -> discord.Message:
    """The message with this id once the client's on_message has seen it."""
    return await fake.wait_for(
        lambda: next((m for m in bot.messages if m.id == int(message_id)), None)
    )
