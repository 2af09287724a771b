"""Discord API v10 payloads of a guild and what it holds: roles, members, channels, threads.

Also the DM channel, the one channel outside a guild. Same conventions as
`tests.fakes.discord_objects` (snowflakes as strings, ISO timestamps, no discord.py imports).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tests.fakes.discord_objects import (
    DM,
    GUILD_FORUM,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Payload,
    timestamp,
)


def role(role_id: int, name: str, permissions: int, *, position: int = 0) -> Payload:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member(
    user_payload: Payload, roles: Iterable[int], *, joined: int, nick: str | None
) -> Payload:
    """A guild member with its user (as in GUILD_CREATE and interactions)."""
    return {
        "user": user_payload,
        "nick": nick,
        "avatar": None,
        "roles": [str(r) for r in roles],
        "joined_at": timestamp(joined),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }


def guild_channel(
    channel_id: int,
    guild_id: int,
    name: str,
    channel_type: int,
    *,
    position: int,
    parent_id: int | None = None,
    topic: str | None = None,
    overwrites: Sequence[Payload] = (),
) -> Payload:
    payload: Payload = {
        "id": str(channel_id),
        "guild_id": str(guild_id),
        "type": channel_type,
        "name": name,
        "position": position,
        "parent_id": None if parent_id is None else str(parent_id),
        "permission_overwrites": list(overwrites),
        "nsfw": False,
        "topic": topic,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }
    if channel_type == GUILD_FORUM:
        payload |= {
            "available_tags": [],
            "default_reaction_emoji": None,
            "default_sort_order": None,
        }
        payload |= {"default_forum_layout": 0, "default_thread_rate_limit_per_user": 0}
    return payload


def thread(
    thread_id: int,
    guild_id: int,
    parent_id: int,
    owner_id: int,
    name: str,
    *,
    private: bool = False,
    auto_archive_duration: int = 1440,
) -> Payload:
    created = timestamp(thread_id)
    return {
        "id": str(thread_id),
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "type": PRIVATE_THREAD if private else PUBLIC_THREAD,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "applied_tags": [],
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": created,
            "locked": False,
            "invitable": True,
            "create_timestamp": created,
        },
    }


def dm_channel(channel_id: int, recipient: Payload) -> Payload:
    return {"id": str(channel_id), "type": DM, "last_message_id": None, "recipients": [recipient]}


def guild(
    guild_id: int,
    name: str,
    *,
    owner_id: int,
    roles: list[Payload],
    channels: list[Payload],
    threads: list[Payload],
    members: list[Payload],
) -> Payload:
    """A full guild as sent in GUILD_CREATE."""
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "preferred_locale": "en-US",
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": roles,
        "joined_at": timestamp(),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": threads,
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
