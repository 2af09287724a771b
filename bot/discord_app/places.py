"""Places: Discord channels, threads and DMs, their conversation keys and session metadata.

A guild text channel and a thread are `discord:<guild_id>:<channel_id>`; a DM channel is
`discord:dm:<channel_id>`. Each key has at most one active session (the store enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.engine import Binding

PREFIX = "discord:"
DM = "dm"


@dataclass(frozen=True)
class Place:
    """Where a conversation happens, reduced to ids."""

    channel_id: int
    guild_id: int | None = None
    parent_id: int | None = None  # the channel a thread belongs to
    private_thread: bool = False  # only its members (and moderators) can see it

    @property
    def key(self) -> str:
        return conversation_key(self.guild_id, self.channel_id)

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None


def conversation_key(guild_id: int | None, channel_id: int) -> str:
    """The binding key of a channel, thread or DM channel."""
    if guild_id is None:
        return f"{PREFIX}{DM}:{channel_id}"
    return f"{PREFIX}{guild_id}:{channel_id}"


def guild_prefix(guild_id: int | None) -> str:
    """The key prefix of every conversation in one guild (or of every DM)."""
    return f"{PREFIX}{guild_id if guild_id is not None else DM}:"


def parse_key(key: str | None) -> Place | None:
    """The place a binding key names; None for keys of other front ends."""
    if key is None or not key.startswith(PREFIX):
        return None
    scope, _, channel = key.removeprefix(PREFIX).partition(":")
    if not channel.isdigit() or not (scope == DM or scope.isdigit()):
        return None
    return Place(channel_id=int(channel), guild_id=None if scope == DM else int(scope))


def place_of(channel: object, guild_id: int | None) -> Place:
    """The place of a channel as discord.py gives it (threads know their parent)."""
    channel_id = getattr(channel, "id", 0)
    if isinstance(channel, discord.Thread):
        return Place(
            channel_id=channel_id,
            guild_id=guild_id,
            parent_id=channel.parent_id,
            private_thread=channel.is_private(),
        )
    return Place(channel_id=channel_id, guild_id=guild_id)


def binding(place: Place) -> Binding:
    """The place as the engine's attach rules see it: a Discord channel, private if a DM."""
    return Binding(
        key=place.key,
        family=PREFIX,
        private=place.is_dm,
        place="Discord channel",
        noun="channel",
        start_hint="start one here with `/session start`",
        end_hint="end it with `/session end` first",
    )


def place_metadata(place: Place) -> dict[str, Any]:
    """The platform facts of `place`: platform, guild (or DM), channel and a thread's parent.

    Ids are strings: JSON consumers (JavaScript) cannot hold 64-bit integers exactly.
    """
    metadata: dict[str, Any] = {"platform": "discord", "channel_id": str(place.channel_id)}
    if place.guild_id is not None:
        metadata["guild_id"] = str(place.guild_id)
    else:
        metadata["dm"] = True
    if place.parent_id is not None:
        metadata["parent_channel_id"] = str(place.parent_id)
        metadata["thread"] = "private" if place.private_thread else "public"
    return metadata


def session_metadata(place: Place, user: discord.abc.User) -> dict[str, Any]:
    """The platform facts stored with a session started at `place` by `user`."""
    return {
        **place_metadata(place),
        "started_by": str(user.id),
        "started_by_name": user.display_name,
    }


def attach_metadata(place: Place, user: discord.abc.User) -> dict[str, Any]:
    """The metadata changes for a session attached to `place` by `user`, to merge key by key.

    Place keys that do not apply here are None, so a merge removes any the session already
    had (a `parent_channel_id` when attached to a channel, `dm` or `guild_id`).
    """
    cleared: dict[str, Any] = dict.fromkeys(("guild_id", "dm", "parent_channel_id", "thread"))
    return {
        **cleared,
        **place_metadata(place),
        "attached_by": str(user.id),
        "attached_by_name": user.display_name,
    }


def place_name(channel: object) -> str:
    """How the persona's templates see the place (`place` variable)."""
    if isinstance(channel, discord.DMChannel):
        return "a direct message"
    name = getattr(channel, "name", None)
    return f"#{name}" if name else "Discord"
