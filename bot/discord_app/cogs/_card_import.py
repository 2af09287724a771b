"""`/persona import`: a character card sent as an attachment becomes a persona file."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import discord

from bot.engine.errors import SessionbotError
from situations import AgentProfile
from situations.cards import MAX_CARD_BYTES, CardError, CardExists, Imported, import_card

Interaction = discord.Interaction[Any]


class CardRefused(SessionbotError):
    """The attachment is not a card that can be imported; the sentence names the file."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"I couldn't import `{filename}`: {reason}.")


class PersonaExists(SessionbotError):
    def __init__(self, persona_id: str) -> None:
        super().__init__(
            f"A persona `{persona_id}` already exists. Run the command again with "
            "`overwrite:true` to replace it, or give another `id`."
        )


async def import_attachment(
    file: discord.Attachment, directory: Path, persona_id: str | None, overwrite: bool
) -> Imported:
    """Download the attachment (refused first if over the size cap) and import it."""
    name = discord.utils.escape_markdown(file.filename)
    if file.size > MAX_CARD_BYTES:
        raise CardRefused(name, f"it is larger than {MAX_CARD_BYTES // (1024 * 1024)} MiB")
    try:
        data = await file.read()
    except discord.HTTPException:
        raise CardRefused(name, "Discord did not let me download it; try again") from None
    try:
        return await asyncio.to_thread(
            import_card, data, directory, persona_id=persona_id, force=overwrite
        )
    except CardExists as exc:
        raise PersonaExists(exc.path.stem) from None
    except CardError as exc:
        raise CardRefused(name, exc.reason) from None


def imported_sentence(imported: Imported) -> str:
    profile = imported.profile
    lore = len(profile.lore.entries) if profile.lore is not None else 0
    entries = "1 lore entry" if lore == 1 else f"{lore} lore entries"
    return (
        f"Imported **{discord.utils.escape_markdown(profile.name)}** as `{profile.id}` "
        f"({entries}). Start a session with `/session start persona:{profile.id}`."
    )


def avatar_attachment(profile: AgentProfile) -> discord.File | None:
    """The persona's avatar file, to show in an embed (`attachment://<name>`)."""
    path = profile.avatar_file()
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return discord.File(io.BytesIO(data), filename=path.name)
