"""The bot's webhooks: a persona posts with its own name and avatar (SESSIONBOT_WEBHOOKS).

In a server channel, and in threads and forum posts through their parent channel, a persona's
messages go through a webhook the bot created there: one shared webhook per channel (named
`sessionbot`), whose messages carry the persona's name and `avatar_url`; a persona with an
`avatar` file gets a webhook of its own, created with that image (Discord needs a URL per
message, and we host nothing). Webhooks are found again after a restart by listing the
channel's webhooks (`GET /channels/{id}/webhooks`), so nothing is stored.

Discord allows 15 webhooks per channel: when a persona's webhook does not fit, the persona
webhook used least recently goes (never the shared one, never anyone else's); if none of ours
can go, the persona posts through the shared webhook without its picture. Direct messages have
no webhooks, and without Manage Webhooks (or when Discord refuses) the bot posts as itself;
that is logged once per channel and `/session info` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord

from bot.discord_app.delivery import DISCORD_FAILURES
from bot.discord_app.voices import Voice
from situations import AgentProfile

log = logging.getLogger(__name__)

SHARED_NAME = "sessionbot"
PERSONA_PREFIX = "sessionbot persona "  # then the persona id and its image's digest
MAX_WEBHOOKS = 15  # per channel, Discord's limit (everyone's webhooks count)
REFUSED_FOR = 300.0  # seconds the bot posts as itself after a refusal, before asking again
FAILED_FOR = 30.0  # the same after Discord failed to answer
TOO_MANY = 30007  # Discord's error code: "Maximum number of webhooks reached (15)"

DM_NOTE = "as the bot (direct messages have no webhooks)"
OFF_NOTE = "as the bot (SESSIONBOT_WEBHOOKS is off)"
VOICE_NOTE = "through a webhook, with the persona's name and avatar"
NO_PERMISSION = (
    "as the bot: I lack the Manage Webhooks permission in this channel "
    "(grant it to show the persona's name and avatar)"
)
FORBIDDEN = (
    "as the bot: Discord refused me Manage Webhooks in this channel "
    "(check the channel's permission overrides)"
)
REFUSED = "as the bot: Discord refused to make a webhook in this channel ({error})"
FULL = "as the bot: this channel already has 15 webhooks, none of them mine to replace"

_RESERVED_DISCORD = re.compile("discord", re.IGNORECASE)
_RESERVED_CLYDE = re.compile("clyde", re.IGNORECASE)

HookChannel = (
    discord.TextChannel | discord.ForumChannel | discord.VoiceChannel | discord.StageChannel
)


@dataclass
class _Refusal:
    note: str
    until: float


class NoRoom(Exception):
    """The channel has 15 webhooks and none of ours can give way."""


class Hooks:
    """Our webhooks per parent channel, found or created on first use; one per bot."""

    def __init__(self, *, enabled: bool, me: Callable[[], int | None] = lambda: None) -> None:
        self.enabled = enabled
        self._me = me  # the bot user's id, once logged in: the maker of our webhooks
        self._mine: dict[int, list[discord.Webhook]] = {}  # parent channel id -> our webhooks
        self._others: dict[int, int] = {}  # parent channel id -> how many webhooks are not ours
        self._by_id: dict[int, discord.Webhook] = {}
        self._used: dict[int, float] = {}  # webhook id -> when it last posted
        self._locks: dict[int, asyncio.Lock] = {}
        self._refused: dict[int, _Refusal] = {}  # parent channel id -> why we post as ourselves
        self._digests: dict[tuple[str, int, int], str] = {}  # image path, mtime, size -> digest

    def note(self, channel: object) -> str:
        """How the persona posts here, in words (for `/session info`)."""
        if not self.enabled:
            return OFF_NOTE
        parent = _parent(channel)
        if parent is None:
            return DM_NOTE
        if not self._may_manage(parent):
            return NO_PERMISSION
        refusal = self._refused.get(parent.id)
        return refusal.note if refusal is not None and refusal.note != NO_PERMISSION else VOICE_NOTE

    @staticmethod
    def _may_manage(parent: HookChannel) -> bool:
        """False if the bot surely lacks Manage Webhooks in `parent` (as far as it knows)."""
        me = parent.guild.me
        return me is None or parent.permissions_for(me).manage_webhooks

    def known(self, webhook_id: int | None) -> discord.Webhook | None:
        """One of our webhooks, by id, if it has been seen since the start."""
        return None if webhook_id is None else self._by_id.get(webhook_id)

    async def voice(self, channel: object, profile: AgentProfile | None) -> Voice | None:
        """How `profile` posts in `channel`; None where the bot posts as itself."""
        parent = _parent(channel) if self.enabled else None
        if parent is None:
            return None
        if not self._may_manage(parent):  # checked each time: granting it is enough
            self._refuse(parent, NO_PERMISSION, 0.0)
            return None
        refusal = self._refused.get(parent.id)
        if refusal is not None and time.monotonic() < refusal.until:
            return None
        try:
            hook = await self._hook(parent, profile)
        except NoRoom:
            self._refuse(parent, FULL, REFUSED_FOR)
            return None
        except discord.Forbidden:
            self._refuse(parent, FORBIDDEN, REFUSED_FOR)
            return None
        except DISCORD_FAILURES as exc:
            error = f"{exc.status}: {exc.text}" if isinstance(exc, discord.HTTPException) else exc
            self._refuse(parent, REFUSED.format(error=error), FAILED_FOR)
            return None
        if self._refused.pop(parent.id, None) is not None:
            log.info("posting through a webhook in channel %s again", parent.id)
        self._used[hook.id] = time.monotonic()
        thread = channel if isinstance(channel, discord.Thread) else None
        name = profile.name if profile is not None else SHARED_NAME
        avatar_url = profile.avatar_url if profile is not None and profile.avatar is None else None
        where: Any = channel
        return Voice(hook, thread, username(name), avatar_url, where, profile)

    async def renew(self, voice: Voice) -> Voice | None:
        """The voice again after its webhook was deleted by someone (None: the bot posts
        as itself now)."""
        log.warning("webhook %s is gone; making it again", voice.hook.id)
        self._by_id.pop(voice.hook.id, None)
        for hooks in self._mine.values():
            if voice.hook in hooks:
                hooks.remove(voice.hook)
        return await self.voice(voice.where, voice.profile)

    async def delete(self, message: discord.Message) -> None:
        """Delete a message of ours: through its webhook, or as the bot."""
        hook = self.known(message.webhook_id)
        if hook is None:
            await message.delete()
            return
        thread = message.channel if message.channel.id != hook.channel_id else None
        await hook.delete_message(message.id, **({"thread": thread} if thread else {}))

    # Finding and creating ----------------------------------------------------------------

    async def _hook(self, parent: HookChannel, profile: AgentProfile | None) -> discord.Webhook:
        lock = self._locks.setdefault(parent.id, asyncio.Lock())
        async with lock:
            mine = await self._list(parent)
            image = profile.avatar_file() if profile is not None else None
            if image is None or profile is None:
                return await self._find_or_create(parent, SHARED_NAME, None)
            digest = await self._digest(image)
            prefix = unreserved(f"{PERSONA_PREFIX}{profile.id[:50]} ")
            name = prefix + digest
            found = next((hook for hook in mine if hook.name == name), None)
            if found is not None:
                return found
            await self._drop_stale(parent, prefix)
            data = await asyncio.to_thread(image.read_bytes)
            try:
                return await self._find_or_create(parent, name, data)
            except NoRoom:
                log.warning(
                    "no room for %s's own webhook in channel %s; it posts without its picture",
                    profile.id,
                    parent.id,
                )
                return await self._find_or_create(parent, SHARED_NAME, None)

    async def _list(self, parent: HookChannel) -> list[discord.Webhook]:
        """Our webhooks in `parent`, listed from Discord on first use (e.g. after a restart)."""
        mine = self._mine.get(parent.id)
        if mine is None:
            listed = await parent.webhooks()
            me = self._me()
            mine = [hook for hook in listed if _ours(hook, me)]
            self._mine[parent.id] = mine
            self._others[parent.id] = len(listed) - len(mine)
            self._by_id.update((hook.id, hook) for hook in mine)
        return mine

    async def _find_or_create(
        self, parent: HookChannel, name: str, avatar: bytes | None
    ) -> discord.Webhook:
        mine = self._mine[parent.id]
        found = next((hook for hook in mine if hook.name == name), None)
        if found is not None:
            return found
        if len(mine) + self._others[parent.id] >= MAX_WEBHOOKS:
            await self._evict(parent)
        try:
            hook = await self._create(parent, name, avatar)
        except discord.HTTPException as exc:
            if exc.code != TOO_MANY:
                raise
            self._others[parent.id] = MAX_WEBHOOKS - len(mine)  # others made some meanwhile
            await self._evict(parent)
            hook = await self._create(parent, name, avatar)
        mine.append(hook)
        self._by_id[hook.id] = hook
        log.info("created webhook %r in channel %s", name, parent.id)
        return hook

    async def _create(
        self, parent: HookChannel, name: str, avatar: bytes | None
    ) -> discord.Webhook:
        reason = "sessionbot: personas post with their own name and avatar"
        return await parent.create_webhook(name=name, avatar=avatar, reason=reason)

    async def _evict(self, parent: HookChannel) -> None:
        """Delete our persona webhook used least recently in `parent`; NoRoom if none."""
        mine = self._mine[parent.id]
        candidates = [hook for hook in mine if hook.name != SHARED_NAME]
        if not candidates:
            raise NoRoom()
        oldest = min(candidates, key=lambda hook: (self._used.get(hook.id, 0.0), hook.id))
        await self._remove(parent, oldest)

    async def _drop_stale(self, parent: HookChannel, prefix: str) -> None:
        """Delete a persona's webhooks made for an earlier picture (best effort)."""
        for hook in [h for h in self._mine[parent.id] if (h.name or "").startswith(prefix)]:
            try:
                await self._remove(parent, hook)
            except DISCORD_FAILURES as exc:
                log.warning("could not delete the old webhook %s: %s", hook.id, exc)

    async def _remove(self, parent: HookChannel, hook: discord.Webhook) -> None:
        with contextlib.suppress(discord.NotFound):  # someone deleted it already
            await hook.delete(reason="sessionbot: making room for another persona's webhook")
        self._mine[parent.id].remove(hook)
        self._by_id.pop(hook.id, None)
        self._used.pop(hook.id, None)
        log.info("deleted webhook %r in channel %s", hook.name, parent.id)

    async def _digest(self, image: Path) -> str:
        stat = await asyncio.to_thread(os.stat, image)
        key = (str(image), stat.st_mtime_ns, stat.st_size)
        digest = self._digests.get(key)
        if digest is None:
            data = await asyncio.to_thread(image.read_bytes)
            digest = hashlib.sha256(data).hexdigest()[:10]
            if len(self._digests) > 1000:
                self._digests.clear()
            self._digests[key] = digest
        return digest

    def _refuse(self, parent: HookChannel, note: str, seconds: float) -> None:
        previous = self._refused.get(parent.id)
        if previous is None or previous.note != note:
            log.warning("channel %s: the persona posts %s", parent.id, note)
        self._refused[parent.id] = _Refusal(note, time.monotonic() + seconds)
        self._mine.pop(parent.id, None)  # list again once it works: things changed


def _parent(channel: object) -> HookChannel | None:
    """The channel whose webhooks post in `channel` (a thread's parent); None in DMs."""
    if isinstance(channel, discord.Thread):
        channel = channel.parent
    if isinstance(channel, HookChannel):
        return channel
    return None


def username(name: str) -> str:
    """A persona's name as a webhook may show it: Discord refuses names containing "clyde"
    or "discord" (any case) and names over 80 characters, so those words get a look-alike
    letter (the Cyrillic es for its c, the Cyrillic u for its y)."""
    return unreserved(name).strip()[:80] or SHARED_NAME


def unreserved(text: str) -> str:
    """`text` with "discord" and "clyde" (any case) spelled with a look-alike letter."""
    text = _RESERVED_DISCORD.sub(lambda m: m.group(0)[:3] + "\u0441" + m.group(0)[4:], text)
    return _RESERVED_CLYDE.sub(lambda m: m.group(0)[:2] + "\u0443" + m.group(0)[3:], text)


def _ours(hook: discord.Webhook, me: int | None) -> bool:
    """A webhook this bot made, that it can post with."""
    made_by_me = me is not None and hook.user is not None and hook.user.id == me
    named = hook.name == SHARED_NAME or (hook.name or "").startswith(PERSONA_PREFIX)
    return made_by_me and named and hook.token is not None
