"""What the cogs share: this channel's session, permission checks, tags, autocomplete."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.discord_app.errors import NoSessionHere, NoTagsGiven, NotAllowed
from bot.discord_app.places import Place, place_of
from bot.engine import Engine
from situations import AgentProfile
from storage import Session, normalize_tags

MAX_CHOICES = 25


def here(interaction: discord.Interaction[Any]) -> Place:
    """The conversation the interaction was run in."""
    channel = interaction.channel
    if channel is None:
        return Place(channel_id=interaction.channel_id or 0, guild_id=interaction.guild_id)
    return place_of(channel, interaction.guild_id)


async def active_here(engine: Engine, place: Place) -> Session:
    """This conversation's active session, or NoSessionHere."""
    session = await engine.active_session(place.key)
    if session is None:
        raise NoSessionHere()
    return session


async def latest_here(engine: Engine, place: Place) -> Session:
    """The active session here, else the most recent ended one (for info and export)."""
    session = await engine.active_session(place.key) or await engine.latest_session(place.key)
    if session is None:
        raise NoSessionHere()
    return session


def parse_tags(text: str | None) -> list[str]:
    """`a, b c ,d` -> ['a', 'b-c', 'd']; NoTagsGiven if nothing is left."""
    tags = normalize_tags((text or "").split(","))
    if not tags:
        raise NoTagsGiven()
    return tags


def tag_choices(known: list[str], current: str) -> list[app_commands.Choice[str]]:
    """Suggestions for a comma list: complete its last item from `known` tags."""
    done, _, partial = current.rpartition(",")
    chosen = set(normalize_tags(done.split(",")))
    prefix = "".join(f"{tag}, " for tag in normalize_tags(done.split(",")))
    needle = partial.strip().lower()
    choices = []
    for tag in known:
        if tag in chosen or needle not in tag:
            continue
        value = prefix + tag
        if len(value) <= 100:
            choices.append(app_commands.Choice(name=value, value=value))
    return choices[:MAX_CHOICES]


def persona_choices(profiles: list[AgentProfile], current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete of persona ids, matching the id or the name."""
    needle = current.strip().lower()
    choices = []
    for profile in profiles:
        if needle in profile.id.lower() or needle in profile.name.lower():
            label = f"{profile.name} ({profile.id})" if profile.name != profile.id else profile.id
            choices.append(app_commands.Choice(name=label[:100], value=profile.id))
    return choices[:MAX_CHOICES]


def require_manager(interaction: discord.Interaction[Any], session: Session) -> None:
    """Manage Threads here, or having started the session (anyone in their own DM)."""
    if interaction.guild_id is None or session.user_id == str(interaction.user.id):
        return
    if not interaction.permissions.manage_threads:
        raise NotAllowed("Manage Threads", "or to have started this session")


def require_permission(interaction: discord.Interaction[Any], name: str, label: str) -> None:
    """In a server, the member needs permission `name` (shown as `label`)."""
    if interaction.guild_id is not None and not getattr(interaction.permissions, name):
        raise NotAllowed(label)
