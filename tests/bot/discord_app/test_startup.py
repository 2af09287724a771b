"""Starting the bot against the fake Discord: what it logs, and how a refused sync is told."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.discord_app.bot import CommandSyncFailed, SessionBot
from bot.runtime import open_engine
from bot.services.run import startup_failure
from tests.bot.discord_app.harness import TOKEN, harness


async def test_starting_the_text_only_bot_logs_no_voice_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: discord.py warns once per process, when the first client is built.
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.WARNING):
        async with harness(tmp_path) as h:
            await h.start()
    voice = [r.getMessage() for r in caplog.records if "voice" in r.getMessage().lower()]
    assert voice == []


async def _nothing(interaction: discord.Interaction[Any]) -> None:
    """Never runs: the command exists only to be refused by Discord."""


async def test_a_refused_command_definition_is_reported_with_discords_text_not_as_a_dev_guild(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        settings = h.settings()
        async with open_engine(settings, watch=False) as engine:
            bot = SessionBot(settings=settings, engine=engine)
            too_long = "d" * 150  # discord.py sends it; Discord allows 100 characters
            bot.tree.add_command(
                app_commands.Command(name="long", description=too_long, callback=_nothing)
            )
            async with bot:
                with pytest.raises(CommandSyncFailed) as refused:
                    await bot.start(TOKEN)
    assert (refused.value.status, refused.value.guild_id) == (400, None)
    failure = startup_failure(refused.value, settings)
    assert failure is not None
    assert failure.status == 2
    assert str(failure).startswith("Discord refused the slash command definitions (400: ")
    assert "Must be between 1 and 100 in length." in str(failure)
    assert "SESSIONBOT_DEV_GUILD" not in (failure.hint or "")
