"""`/session export`: a session and its whole history as a file, only to the caller."""

from __future__ import annotations

import io
from contextlib import aclosing
from typing import Any, Literal

import discord

from bot.discord_app.errors import ExportTooLarge
from bot.discord_app.responses import defer, send
from bot.engine import Engine
from storage import ExportFormat, Session

Interaction = discord.Interaction[Any]
Format = Literal["json", "markdown"]
EXPORT_LIMIT = 10 * 1024 * 1024  # the upload limit without boosts, as discord.py has it (bytes)


async def send_export(
    engine: Engine, interaction: Interaction, session: Session, format: Format
) -> None:
    """Answer with `session-<id>.md` (a transcript) or `.json` (every field and message).

    An export that cannot be uploaded here is refused before it is built when the SQL estimate
    already exceeds the limit, and otherwise as soon as the file being built passes it.
    """
    await defer(interaction, ephemeral=True)
    fmt: ExportFormat = "json" if format == "json" else "md"
    limit = interaction.guild.filesize_limit if interaction.guild else EXPORT_LIMIT
    if await engine.export_estimate(session, fmt) > limit:
        raise ExportTooLarge(session.id)
    data = await _build(engine, session, fmt, limit)
    file = discord.File(data, filename=f"session-{session.id}.{fmt}")
    await send(
        interaction, f"Session `{session.id}` ({session.agent_id}).", file=file, ephemeral=True
    )


async def _build(engine: Engine, session: Session, fmt: ExportFormat, limit: int) -> io.BytesIO:
    """The export file, built a batch of messages at a time (the loop runs between batches)."""
    buffer = io.BytesIO()
    async with aclosing(engine.export_chunks(session, fmt)) as chunks:
        async for chunk in chunks:
            buffer.write(chunk.encode("utf-8"))
            if buffer.tell() > limit:
                raise ExportTooLarge(session.id)
    buffer.seek(0)
    return buffer
