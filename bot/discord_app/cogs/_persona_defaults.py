"""`/persona default`: which persona a mention starts a session with, per channel or server;
and the defaults `/persona list` shows."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord_app.casting import Scope, scope_key, scope_label, server_scope
from bot.discord_app.cogs._common import here, require_permission
from bot.discord_app.embeds import FIELD_LIMIT, shorten
from bot.discord_app.errors import ServerOnly
from bot.discord_app.responses import send
from bot.engine import Engine

Interaction = discord.Interaction[Any]


async def set_default(
    engine: Engine, interaction: Interaction, persona_id: str | None, scope: Scope
) -> None:
    """Set (or, without a persona, clear) the default of this channel or this server."""
    if interaction.guild_id is None:
        raise ServerOnly("Manage Server")
    require_permission(interaction, "manage_guild", "Manage Server")
    place = here(interaction)
    where = "this server" if scope == "server" else f"<#{place.parent_id or place.channel_id}>"
    key = scope_key(place, scope)
    profile = await engine.cast.set_place_default(key, persona_id, set_by=str(interaction.user.id))
    if profile is None:
        sentence = f"Cleared the default persona of {where}."
    else:
        sentence = f"A mention in {where} now starts a session with **{profile.name}**."
    await send(interaction, sentence, ephemeral=True)


async def defaults_field(engine: Engine, guild_id: int | None) -> str | None:
    """`/persona list`'s lines of this server's defaults (None outside a server or if unset)."""
    if guild_id is None:
        return None
    server = server_scope(guild_id)
    found = await engine.cast.place_defaults(server)
    if not found:
        return None
    lines = [
        f"{scope_label(d.scope_key, server)}: {engine.cast.name_of(d.persona_id)} "
        f"(`{d.persona_id}`)"
        for d in found
    ]
    return shorten("\n".join(lines), FIELD_LIMIT)
