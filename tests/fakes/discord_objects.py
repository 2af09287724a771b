"""Discord API v10 payloads as the fake Discord server sends them, and the numbers they use.

Plain functions that build JSON-ready dicts in the shapes discord.py 2.x parses (snowflakes as
strings, ISO timestamps), plus a snowflake generator and the permission and intent bits the fake
needs. Nothing here imports discord.py: the fake must not learn the API from the client it tests.
A guild's own payloads (roles, members, channels, threads) are in `discord_guild_objects`.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

Payload = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})

# Interaction types and callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15


class Permission:
    """The permission bits the fake deals in (a subset of Discord's)."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = (1 << 51) - 1

    #: What a new server gives @everyone (roughly; enough for chatting and slash commands).
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )
    #: What the bot's managed role gets by default: what sessionbot's invite URL asks for.
    BOT_DEFAULT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | SEND_MESSAGES_IN_THREADS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | MANAGE_THREADS
        | MANAGE_WEBHOOKS
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
    )


class Snowflakes:
    """Snowflake ids in Discord's layout: milliseconds since 2015 << 22, then a counter.

    Ids are unique and increase, so sorting by id sorts by creation like on Discord.
    """

    def __init__(self) -> None:
        self._last = 0
        self.ahead = 0.0  # seconds Discord's clock is ahead of real time (tests let time pass)

    def next(self) -> int:
        now = (int((time.time() + self.ahead) * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(now, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """The next id of a guild whose events shard `shard_id` of `shard_count` receives (the
        millisecond part decides the shard: a later millisecond is taken when needed)."""
        snowflake = self.next()
        while (snowflake >> 22) % shard_count != shard_id:
            snowflake = ((snowflake >> 22) + 1) << 22
        self._last = snowflake
        return snowflake


def timestamp(snowflake: int | None = None) -> str:
    """ISO 8601 time of a snowflake (or now), as Discord writes it."""
    if snowflake is None:
        moment = dt.datetime.now(dt.UTC)
    else:
        ms = (snowflake >> 22) + DISCORD_EPOCH_MS
        moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.isoformat(timespec="microseconds")


def user(user_id: int, name: str, *, bot: bool = False) -> Payload:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def attachment(
    attachment_id: int, filename: str, size: int, url: str, content_type: str
) -> Payload:
    return {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


def mentioned_ids(content: str) -> tuple[list[int], list[int], bool]:
    """The user ids, role ids and @everyone/@here found in `content`, as Discord parses them."""
    users = list(dict.fromkeys(int(m) for m in _USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(int(m) for m in _ROLE_MENTION.findall(content)))
    return users, roles, bool(_EVERYONE.search(content))


def message(
    message_id: int,
    channel_id: int,
    author: Payload,
    content: str,
    *,
    guild_id: int | None,
    author_member: Payload | None = None,
    mentions: Iterable[Payload] = (),
    mention_roles: Iterable[int] = (),
    mention_everyone: bool = False,
    attachments: Iterable[Payload] = (),
    embeds: Iterable[Payload] = (),
    components: Iterable[Payload] = (),
    flags: int = 0,
    referenced: Payload | None = None,
    message_type: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Payload:
    """A message object. `author_member` is the author's member entry without `user`."""
    payload: Payload = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": timestamp(message_id),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": mention_everyone,
        "mentions": list(mentions),
        "mention_roles": [str(r) for r in mention_roles],
        "attachments": list(attachments),
        "embeds": list(embeds),
        "components": list(components),
        "reactions": [],
        "pinned": False,
        "type": message_type if message_type is not None else (19 if referenced else 0),
        "flags": flags,
    }
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        if author_member is not None:
            payload["member"] = author_member
    if referenced is not None:
        payload["message_reference"] = {
            "type": 0,
            "message_id": referenced["id"],
            "channel_id": referenced["channel_id"],
            **({"guild_id": str(guild_id)} if guild_id is not None else {}),
        }
        payload["referenced_message"] = referenced
    if extra:
        payload.update(extra)
    return payload


def ready(
    session_id: str,
    bot_user: Payload,
    guild_ids: Iterable[int],
    resume_url: str,
    application_id: int,
    shard: tuple[int, int] = (0, 1),
) -> Payload:
    return {
        "v": 10,
        "user": bot_user,
        "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "shard": list(shard),
        "application": {"id": str(application_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
        "_trace": ["fake-discord"],
    }


def application(application_id: int, bot_user: Payload, owner: Payload) -> Payload:
    """`GET /oauth2/applications/@me`."""
    return {
        "id": str(application_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot": bot_user,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "owner": owner,
        "team": None,
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": 0,
        "integration_types_config": {"0": {}},
    }
