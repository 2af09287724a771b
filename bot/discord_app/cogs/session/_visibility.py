"""Who may see which server session in `/session list`: whoever can see its channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord_app.places import parse_key
from storage import Session, SessionPage

MAX_FETCHES = 10  # store pages read to fill one list page, at most
_STARTER_KEYS = ("started_by", "attached_by")


def can_view(interaction: discord.Interaction[Any], session: Session) -> bool:
    """True if the caller can see the channel (or thread) the session lives in.

    A private thread is shown to its owner, the session's starter and members who may manage
    threads in its parent: the bot cannot see who else was added to it. A thread that is not in
    the cache (archived, or deleted) is judged the same way from the stored metadata, and is
    taken as private unless it was recorded as public. A session whose channel is gone is shown
    to members with Manage Server only. DM sessions are scoped by owner elsewhere, so outside a
    server everything passed in is visible.
    """
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        return True
    place = parse_key(session.binding_key)
    channel: Any = guild.get_channel_or_thread(place.channel_id) if place else None
    if isinstance(channel, discord.Thread):
        thread = ThreadFacts(channel.parent, channel.is_private(), channel.owner_id)
    elif channel is None and str(session.metadata.get("parent_channel_id", "")).isdigit():
        parent = guild.get_channel(int(session.metadata["parent_channel_id"]))
        thread = ThreadFacts(parent, session.metadata.get("thread") != "public", None)
    elif channel is None:
        return member.guild_permissions.manage_guild
    else:
        return bool(channel.permissions_for(member).view_channel)
    return thread.visible_to(member, session)


@dataclass(frozen=True)
class ThreadFacts:
    """What the bot knows of a session's thread: its parent, privacy and owner."""

    parent: Any
    private: bool
    owner_id: int | None

    def visible_to(self, member: discord.Member, session: Session) -> bool:
        if self.parent is None:  # the parent channel is gone too
            return member.guild_permissions.manage_guild
        permissions = self.parent.permissions_for(member)
        if not permissions.view_channel:
            return False
        if not self.private or permissions.manage_threads:
            return True
        starters = {session.user_id, *(session.metadata.get(k) for k in _STARTER_KEYS)}
        return member.id == self.owner_id or str(member.id) in starters


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
