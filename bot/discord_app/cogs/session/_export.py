"""`/session export`: a session and its whole history as a file, only to the caller."""

from __future__ import annotations

import io
from typing import Any, Literal

import discord

from bot.discord_app.errors import ExportTooLarge
from bot.discord_app.responses import defer, send
from bot.engine import Engine
from storage import Session

Interaction = discord.Interaction[Any]
Format = Literal["json", "markdown"]
EXPORT_LIMIT = 8 * 1024 * 1024  # the upload limit of a server without boosts (bytes)


async def send_export(
    engine: Engine, interaction: Interaction, session: Session, format: Format
) -> None:
    """Answer with `session-<id>.md` (a transcript) or `.json` (every field and message)."""
    await defer(interaction, ephemeral=True)
    fmt: Literal["json", "md"] = "json" if format == "json" else "md"
    text = await engine.export_session(session.id, fmt)
    data = text.encode("utf-8")
    limit = interaction.guild.filesize_limit if interaction.guild else EXPORT_LIMIT
    if len(data) > limit:
        raise ExportTooLarge(session.id)
    file = discord.File(io.BytesIO(data), filename=f"session-{session.id}.{fmt}")
    await send(
        interaction, f"Session `{session.id}` ({session.agent_id}).", file=file, ephemeral=True
    )
