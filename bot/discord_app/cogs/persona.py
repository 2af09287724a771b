"""`/persona ...`: list, show, reload and import the persona files."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import embeds
from bot.discord_app.casting import Scope
from bot.discord_app.cogs._card_import import (
    avatar_attachment,
    import_attachment,
    imported_sentence,
)
from bot.discord_app.cogs._common import persona_choices, require_permission
from bot.discord_app.cogs._persona_defaults import defaults_field, set_default
from bot.discord_app.errors import ServerOnly
from bot.discord_app.responses import defer, send
from situations import ReloadReport

if TYPE_CHECKING:
    from bot.discord_app.bot import SessionBot

Interaction = discord.Interaction[Any]
INLINE_ERRORS = 1800  # longer error reports are attached as a file


class PersonaCog(commands.GroupCog, group_name="persona"):
    """Browse and reload the personas."""

    def __init__(self, bot: SessionBot) -> None:
        self.bot = bot
        self.engine = bot.engine
        super().__init__()

    @app_commands.command(name="list")
    async def list_(self, interaction: Interaction) -> None:
        """List the loaded personas, and the ones mentions start with here."""
        personas, errors = self.engine.list_personas(), self.engine.persona_errors()
        embed = embeds.persona_list_embed(personas, len(errors))
        defaults = await defaults_field(self.engine, interaction.guild_id)
        if defaults is not None:
            embed.add_field(name="Mentions start with", value=defaults, inline=False)
        await send(interaction, embed=embed, ephemeral=True)

    @app_commands.command()
    @app_commands.describe(persona="The persona to show")
    async def show(self, interaction: Interaction, persona: str) -> None:
        """Show a persona: model, context settings, greeting and situation."""
        profile = self.engine.persona(persona)
        embed = embeds.persona_embed(profile, self.bot.settings.model)
        lore = len(profile.lore.entries) if profile.lore is not None else 0
        embed.add_field(name="Lore", value=f"{lore} entr{'y' if lore == 1 else 'ies'}")
        avatar = await asyncio.to_thread(avatar_attachment, profile)
        if avatar is None:
            await send(interaction, embed=embed, ephemeral=True)
            return
        embed.set_thumbnail(url=f"attachment://{avatar.filename}")
        await send(interaction, embed=embed, file=avatar, ephemeral=True)

    @show.autocomplete("persona")
    async def _show_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.list_personas(), current)

    @app_commands.command()
    @app_commands.describe(
        persona="The persona a mention starts a session with (leave out to clear the default)",
        scope="This channel (a thread: its channel) or the whole server (default: channel)",
    )
    async def default(
        self, interaction: Interaction, persona: str | None = None, scope: Scope = "channel"
    ) -> None:
        """Choose the persona a mention starts a session with here (Manage Server)."""
        await set_default(self.engine, interaction, persona, scope)

    @default.autocomplete("persona")
    async def _default_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.list_personas(), current)

    @app_commands.command(name="import")
    @app_commands.rename(persona_id="id")
    @app_commands.describe(
        file="A character card: V1/V2/V3 JSON, a PNG card or a .charx",
        persona_id="The persona id (default: made from the card's name)",
        overwrite="Replace a persona with the same id",
    )
    async def import_(
        self,
        interaction: Interaction,
        file: discord.Attachment,
        persona_id: str | None = None,
        overwrite: bool = False,
    ) -> None:
        """Import a character card as a persona (Manage Server)."""
        if interaction.guild_id is None:
            raise ServerOnly("Manage Server")
        require_permission(interaction, "manage_guild", "Manage Server")
        await defer(interaction, ephemeral=True)
        directory = self.bot.settings.personas
        imported = await import_attachment(file, directory, persona_id, overwrite)
        await self.engine.reload_personas()
        await send(interaction, imported_sentence(imported), ephemeral=True)

    @app_commands.command()
    async def reload(self, interaction: Interaction) -> None:
        """Re-read the persona files now and report any errors as file:line."""
        if interaction.guild_id is None:
            raise ServerOnly("Manage Server")
        require_permission(interaction, "manage_guild", "Manage Server")
        await defer(interaction, ephemeral=True)
        report = await self.engine.reload_personas()
        summary = _summary(report, len(self.engine.list_personas()))
        if not report.errors:
            await send(interaction, summary, ephemeral=True)
            return
        lines = "\n".join(str(error) for error in report.errors)
        if len(lines) <= INLINE_ERRORS:
            await send(interaction, f"{summary}\n```\n{lines}\n```", ephemeral=True)
            return
        file = discord.File(io.BytesIO(lines.encode("utf-8")), filename="persona-errors.txt")
        await send(interaction, summary, file=file, ephemeral=True)


def _summary(report: ReloadReport, loaded: int) -> str:
    changes = [
        f"{label} {', '.join(ids)}"
        for label, ids in (
            ("added", report.added),
            ("updated", report.updated),
            ("removed", report.removed),
        )
        if ids
    ]
    changed = "; ".join(changes) if changes else "nothing changed"
    errors = len(report.errors)
    problems = "no errors" if not errors else f"{errors} error(s)"
    return f"Reloaded personas: {loaded} loaded ({changed}), {problems}."
