"""`/session start`: a session in this channel, or in a new public thread."""

from __future__ import annotations

import contextlib
from typing import Any, Literal

import discord

from bot.discord_app.cogs._common import here, require_permission
from bot.discord_app.cogs.session._text import announcement, started_note
from bot.discord_app.errors import DirectMessagesOff, SessionAlreadyActive, ThreadNotPossible
from bot.discord_app.places import Place, session_metadata
from bot.discord_app.replies import Replies, quietly
from bot.discord_app.responses import NO_MENTIONS, defer, send
from bot.discord_app.voices import Voice
from bot.engine import Engine, Started
from situations import AgentProfile

Interaction = discord.Interaction[Any]
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day without messages


def startable_place(interaction: Interaction, *, allow_dms: bool) -> Place:
    """This conversation, if the caller may start (or attach) a session in it."""
    place = here(interaction)
    if place.is_dm and not allow_dms:
        raise DirectMessagesOff()
    require_permission(interaction, "manage_threads", "Manage Threads")
    return place


async def start_here(
    replies: Replies,
    interaction: Interaction,
    place: Place,
    profile: AgentProfile,
    tags: list[str],
) -> None:
    """Start the session in this conversation and greet everyone in it."""
    engine = replies.engine
    active = await engine.active_session(place.key)
    if active is not None:
        raise SessionAlreadyActive(active.agent_id)
    await defer(interaction, ephemeral=False)  # checks passed; writes may wait on the database
    started = await _start(engine, interaction, place, profile, tags)
    voice = await _voice(replies, interaction.channel, profile, started)
    if voice is None:
        await send(interaction, announcement(profile.name, interaction.user.id, started))
        return
    await send(interaction, started_note(profile.name, interaction.user.id, started.session.tags))
    await _greet(replies, voice, started)


async def start_in_thread(
    replies: Replies, interaction: Interaction, profile: AgentProfile, tags: list[str]
) -> None:
    """Create a public thread named after the persona and the caller; start the session there."""
    engine = replies.engine
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        raise ThreadNotPossible()
    # Private: a refusal after this point must not show to everyone; the thread is public.
    await defer(interaction, ephemeral=True)
    thread = await channel.create_thread(
        name=f"{profile.name} and {interaction.user.display_name}"[:100],
        type=discord.ChannelType.public_thread,
        auto_archive_duration=THREAD_ARCHIVE_MINUTES,
        reason=f"/session start by {interaction.user.id}",
    )
    place = Place(channel_id=thread.id, guild_id=thread.guild.id, parent_id=channel.id)
    try:
        started = await _start(engine, interaction, place, profile, tags)
    except Exception:
        with contextlib.suppress(discord.HTTPException):
            await thread.delete()  # no empty thread is left behind
        raise
    voice = await _voice(replies, thread, profile, started)
    if voice is None:
        text = announcement(profile.name, interaction.user.id, started)
        await thread.send(text, allowed_mentions=NO_MENTIONS)
    else:
        note = started_note(profile.name, interaction.user.id, started.session.tags)
        await thread.send(note, allowed_mentions=NO_MENTIONS)
        await _greet(replies, voice, started)
    await send(
        interaction, f"Started a session with {profile.name} in {thread.mention}.", ephemeral=True
    )


async def _voice(
    replies: Replies, channel: object, profile: AgentProfile, started: Started
) -> Voice | None:
    """The persona's webhook here, if it has a greeting to post and a webhook to post it."""
    if started.greeting is None:
        return None
    return await replies.hooks.voice(channel, profile)


async def _greet(replies: Replies, voice: Voice, started: Started) -> None:
    """Post the greeting as the persona; it is stored already, so a failure is only logged."""
    if started.greeting is not None:
        await quietly(replies.say_as(voice, started.greeting.content, stored=started.greeting))


async def _start(
    engine: Engine, interaction: Interaction, place: Place, profile: AgentProfile, tags: list[str]
) -> Started:
    """The session at `place`, started by the caller with their metadata."""
    return await engine.start_session(
        persona_id=profile.id,
        binding_key=place.key,
        user_id=str(interaction.user.id),
        metadata=session_metadata(place, interaction.user),
        tags=tags,
    )
