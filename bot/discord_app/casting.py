"""Personas on Discord: which one answers a message, and which one a place starts with.

Who answers follows `bot.engine.cast`: the persona named in the message, else the persona
whose message it replies to, else the session's main one. On Discord a persona's message is
a webhook message whose author name is the persona's name (as `webhooks.username` shows it);
where the bot posts as itself, a reply of one of several personas starts with a small line
naming it (`-# Tutor`, see `NamedSink`), which tells whose message a reply answers.

A server and each of its channels may have a default persona (`/persona default`), used when a
mention starts a session there: the channel's (a thread's parent channel's) first, then the
server's, then the bot's default. Scope keys are `discord:guild:<id>` and, under it,
`discord:guild:<id>/channel:<id>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

import discord

from bot.discord_app.delivery import DiscordSink
from bot.discord_app.places import Place
from bot.discord_app.webhooks import username
from bot.engine import Engine
from bot.engine.cast import choose_speaker
from situations import AgentProfile
from storage import Session

Scope = Literal["channel", "server"]


def name_line(name: str) -> str:
    """The small first line naming the persona of a bot message (pings nobody)."""
    clean = discord.utils.escape_mentions(discord.utils.escape_markdown(" ".join(name.split())))
    return f"-# {clean[:80]}\n"


class NamedSink(DiscordSink):
    """The bot's own messages for one of a session's several personas: the first part starts
    with a line naming the persona (kept through streamed edits)."""

    def __init__(
        self,
        channel: discord.abc.Messageable,
        reference: discord.MessageReference | None,
        name: str,
    ) -> None:
        super().__init__(channel, reference)
        self.header = name_line(name)

    async def send(
        self, content: str, *, reply: bool, view: discord.ui.View | None = None
    ) -> discord.Message:
        return await super().send(
            self._named(content) if reply else content, reply=reply, view=view
        )

    async def edit(
        self, message: discord.Message, content: str, *, view: discord.ui.View | None = None
    ) -> None:
        named = message.content.startswith(self.header)
        await super().edit(message, self._named(content) if named else content, view=view)

    def _named(self, content: str) -> str:
        return content if content.startswith(self.header) else self.header + content


async def bot_sink(
    engine: Engine,
    session_id: UUID,
    persona: str | None,
    channel: discord.abc.Messageable,
    reference: discord.MessageReference | None,
) -> DiscordSink:
    """The bot's own messages for a reply: named, in a session of several personas."""
    if persona is None or not await engine.cast.others(session_id):
        return DiscordSink(channel, reference)
    return NamedSink(channel, reference, engine.cast.name_of(persona))


def replied_persona(
    message: discord.Message, members: Sequence[AgentProfile], me: int | None = None
) -> str | None:
    """The persona whose message `message` replies to, if it is one of `members`: a persona's
    webhook message, or the bot's own (`me`) message that starts with the persona's name line."""
    reference = message.reference
    replied = reference.resolved if reference is not None else None
    if not isinstance(replied, discord.Message):
        return None
    if replied.webhook_id is not None:
        return next((p.id for p in members if username(p.name) == replied.author.name), None)
    if me is not None and replied.author.id == me:
        first = replied.content.partition("\n")[0] + "\n"
        return next((p.id for p in members if name_line(p.name) == first), None)
    return None


async def answering_persona(
    engine: Engine, session: Session, message: discord.Message, me: int | None = None
) -> str:
    """The id of the persona that answers `message` in `session` (`me`: the bot user's id)."""
    members = await engine.cast.members(session)
    if len(members) <= 1:
        return session.agent_id
    replied = replied_persona(message, members, me)
    return choose_speaker(session.agent_id, members, message.clean_content, replied)


def server_scope(guild_id: int) -> str:
    return f"discord:guild:{guild_id}"


def channel_scope(guild_id: int, channel_id: int) -> str:
    return f"{server_scope(guild_id)}/channel:{channel_id}"


def scope_key(place: Place, scope: Scope) -> str:
    """The key of this place's channel (a thread's parent) or of its server."""
    assert place.guild_id is not None, "defaults are per server"
    if scope == "server":
        return server_scope(place.guild_id)
    return channel_scope(place.guild_id, place.parent_id or place.channel_id)


def default_scopes(place: Place) -> list[str]:
    """Where a session starting at `place` looks for its persona, nearest first."""
    if place.guild_id is None:
        return []
    return [scope_key(place, "channel"), scope_key(place, "server")]


async def starting_persona(engine: Engine, place: Place) -> str | None:
    """The persona a mention starts with at `place` (None: the bot's default)."""
    scopes = default_scopes(place)
    profile = await engine.cast.place_default(scopes) if scopes else None
    return profile.id if profile is not None else None


def scope_label(key: str, server: str) -> str:
    """How `/persona list` names a default's place: the server, or a channel mention."""
    if key == server:
        return "This server"
    channel = key.rpartition("/channel:")[2]
    return f"<#{channel}>" if channel.isdigit() else f"`{key}`"
