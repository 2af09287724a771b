"""`/session add`, `/session remove` and `/session persona`: the personas of this channel's
session. Every check runs before the answer is deferred, so a refusal stays private."""

from __future__ import annotations

from typing import Any

import discord

from bot.discord_app.cogs._common import active_here, here, require_manager
from bot.discord_app.responses import defer, send
from bot.engine import Engine
from bot.engine.cast import AlreadyIn, AlreadyMain, MainStays, NotInSession
from storage import Session

Interaction = discord.Interaction[Any]


async def _managed_session(engine: Engine, interaction: Interaction) -> tuple[Session, list[str]]:
    """This channel's active session, if the caller may manage it, and its personas."""
    session = await active_here(engine, here(interaction))
    require_manager(interaction, session)
    return session, await engine.cast.ids(session)


def cast_line(engine: Engine, ids: list[str]) -> str:
    """`Sara (main), Tutor`: the personas of a session by name."""
    names = [engine.cast.name_of(persona) for persona in ids]
    return ", ".join([f"{names[0]} (main)", *names[1:]]) if names else "none"


async def add_persona(engine: Engine, interaction: Interaction, persona_id: str) -> None:
    session, ids = await _managed_session(engine, interaction)
    profile = engine.persona(persona_id)
    if profile.id == session.agent_id:
        raise AlreadyMain(profile.name)
    if profile.id in ids:
        raise AlreadyIn(profile.name)
    await defer(interaction, ephemeral=False)
    ids = await engine.cast.add(session.id, profile.id)
    await send(
        interaction,
        f"**{profile.name}** joined the session. Personas here: {cast_line(engine, ids)}. "
        "Name a persona in your message, or reply to one, to hear from it.",
    )


async def remove_persona(engine: Engine, interaction: Interaction, persona_id: str) -> None:
    session, ids = await _managed_session(engine, interaction)
    name = engine.cast.name_of(persona_id)
    if persona_id == session.agent_id:
        raise MainStays(name)
    if persona_id not in ids:
        raise NotInSession(persona_id)
    await defer(interaction, ephemeral=False)
    ids = await engine.cast.remove(session.id, persona_id)
    await send(
        interaction, f"**{name}** left the session. Personas here: {cast_line(engine, ids)}."
    )


async def switch_persona(engine: Engine, interaction: Interaction, persona_id: str) -> None:
    session, _ = await _managed_session(engine, interaction)
    profile = engine.persona(persona_id)
    if profile.id == session.agent_id:
        raise AlreadyMain(profile.name)
    await defer(interaction, ephemeral=False)
    before = engine.cast.name_of(session.agent_id)
    by = interaction.user.display_name
    await engine.cast.switch(session.id, profile.id, by=by)
    await send(
        interaction,
        f"Switched this session's persona from {before} to **{profile.name}**; "
        f"{profile.name} answers from here on.",
    )
