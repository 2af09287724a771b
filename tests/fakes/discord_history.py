"""A channel's message history, as Discord's `GET /channels/{id}/messages` pages it.

Discord's documented rules: `limit` is 1-100 (default 50); `around`, `before` and `after` are
mutually exclusive; whichever is given, messages come newest first. `before` gives the `limit`
messages just before it, `after` the `limit` messages just after it (the oldest ones after it,
still newest first), `around` about half on each side with the message itself, none of them the
latest. Ephemeral messages are in no channel's history. In a guild channel the bot needs View
Channel (else 403 Missing Access) and sees no messages without Read Message History. REST message
objects carry no `member` and no `guild_id`: those are extras of the gateway's events.
"""

from __future__ import annotations

from collections.abc import Mapping

from tests.fakes import discord_objects as obj
from tests.fakes.discord_objects import Payload, Permission
from tests.fakes.discord_records import DiscordError
from tests.fakes.discord_world import World

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_ANCHORS = ("around", "before", "after")


def channel_history(world: World, channel_id: int, query: Mapping[str, str]) -> list[Payload]:
    """The page of `channel_id`'s messages that `query` asks for, newest first."""
    world.channel(channel_id)  # 404 Unknown Channel
    limit = _limit(query.get("limit"))
    anchors = {name: _snowflake(name, query[name]) for name in _ANCHORS if name in query}
    if len(anchors) > 1:
        message = "Only one of around, before and after may be passed."
        problems = [(name, "BASE_TYPE_BAD_PARAMETERS", message) for name in anchors]
        raise DiscordError.invalid_form(problems)
    if not _readable(world, channel_id):
        return []
    ids = sorted(
        int(m["id"])
        for m in world.messages.values()
        if int(m["channel_id"]) == channel_id and not int(m.get("flags") or 0) & obj.EPHEMERAL
    )
    if "after" in anchors:
        page = [i for i in ids if i > anchors["after"]][:limit]
    elif "around" in anchors:
        older = [i for i in ids if i < anchors["around"]][-(limit // 2) :] if limit > 1 else []
        page = older + [i for i in ids if i >= anchors["around"]][: limit - len(older)]
    else:
        before = anchors.get("before")
        page = [i for i in ids if before is None or i < before][-limit:]
    return [rest_message(world.messages[i]) for i in reversed(page)]


def rest_message(message: Payload) -> Payload:
    """A message as REST returns it: without the gateway's `member` and `guild_id`."""
    return {key: value for key, value in message.items() if key not in ("member", "guild_id")}


def _readable(world: World, channel_id: int) -> bool:
    """Whether the bot may read the history; 403 if it cannot even see the channel."""
    guild_id = world.guild_id_of(channel_id)
    if guild_id is None:
        return True
    granted = world.permissions(guild_id, world.bot_id)
    if not granted & Permission.VIEW_CHANNEL:
        raise DiscordError(403, 50001, "Missing Access")
    return bool(granted & Permission.READ_MESSAGE_HISTORY)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.lstrip("-").isdigit():
        problem = ("limit", "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
        raise DiscordError.invalid_form([problem])
    value = int(raw)
    if value < 1:
        problem = ("limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 1.")
        raise DiscordError.invalid_form([problem])
    if value > MAX_LIMIT:
        message = f"int value should be less than or equal to {MAX_LIMIT}."
        raise DiscordError.invalid_form([("limit", "NUMBER_TYPE_MAX", message)])
    return value


def _snowflake(name: str, raw: str) -> int:
    if not raw.isdigit():
        problem = (name, "NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')
        raise DiscordError.invalid_form([problem])
    return int(raw)
