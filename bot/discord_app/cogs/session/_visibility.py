"""Who may see which server session in `/session list`: whoever can see its channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.discord_app.places import parse_key
from storage import Session, SessionPage

MAX_FETCHES = 10  # store pages read to fill one list page, at most


def can_view(interaction: discord.Interaction[Any], session: Session) -> bool:
    """True if the caller can see the channel (or thread) the session lives in.

    A session whose channel is gone is shown to members with Manage Server only. DM sessions
    are scoped by owner elsewhere, so outside a server everything passed in is visible.
    """
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return True
    place = parse_key(session.binding_key)
    channel: Any = guild.get_channel_or_thread(place.channel_id) if place else None
    if channel is None:  # an archived or deleted thread: judge by its parent channel
        parent = str(session.metadata.get("parent_channel_id", ""))
        channel = guild.get_channel(int(parent)) if parent.isdigit() else None
    if channel is None:
        return member.guild_permissions.manage_guild
    return bool(channel.permissions_for(member).view_channel)


async def visible_page(
    fetch: Callable[[str | None], Awaitable[SessionPage]],
    cursor: str | None,
    visible: Callable[[Session], bool],
    *,
    size: int,
) -> tuple[list[Session], str | None]:
    """Read store pages from `cursor` until `size` visible sessions (or the end) are found.

    Whole store pages are kept, so a list page may hold up to 2 * size - 1 lines; the cursor
    returned continues exactly where the reading stopped.
    """
    kept: list[Session] = []
    for _ in range(MAX_FETCHES):
        found = await fetch(cursor)
        kept.extend(session for session in found.items if visible(session))
        cursor = found.next_cursor
        if len(kept) >= size or cursor is None:
            break
    return kept, cursor
