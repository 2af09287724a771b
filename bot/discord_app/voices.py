"""Posting as a persona: a webhook with its name and avatar, and a reply sink over it.

A webhook message cannot be a Discord reply, so the first part of a reply begins with a quiet
line naming whom it answers (`-# ↪ Ana`), which pings nobody.

Exactly once without a nonce: Discord's webhook execute has no `nonce`/`enforce_nonce`, and
discord.py repeats an execute that got a 5xx (or a reset connection) after waiting at least a
second. So `WebhookSink.send` notes where it started (a snowflake) before each execute:

- when the execute came back only after such a wait, an earlier try may have gone through, so
  the sink looks at the messages posted since and deletes any copy of the same text from the
  same webhook, keeping the one it was given;
- when the execute failed in a way that passes (Discord down), the next send first looks for
  the message it tried to post and adopts it instead of posting it again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app.delivery import DISCORD_FAILURES, pushback
from bot.discord_app.responses import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord_app.webhooks import Hooks
    from situations import AgentProfile

log = logging.getLogger(__name__)

RETRIED_AFTER = 0.9  # seconds: an execute this slow may have been repeated by discord.py
LOOK_BACK = 50  # messages read to find a copy or an execute whose answer was lost
SKEW = dt.timedelta(seconds=2)  # clock difference allowed between us and Discord


@dataclass(frozen=True)
class Voice:
    """How a persona posts in one place: a webhook (of the parent channel), maybe a thread."""

    hook: discord.Webhook
    thread: discord.Thread | None
    username: str
    avatar_url: str | None
    where: discord.abc.Messageable  # the channel or thread the messages appear in
    profile: AgentProfile | None = None  # the persona, to find or make its webhook again

    async def send(self, content: str, view: discord.ui.View | None = None) -> discord.Message:
        extra: dict[str, Any] = {}
        if self.thread is not None:
            extra["thread"] = self.thread
        if self.avatar_url is not None:
            extra["avatar_url"] = self.avatar_url
        if view is not None:
            extra["view"] = view
        return await self.hook.send(
            content, username=self.username, allowed_mentions=NO_MENTIONS, wait=True, **extra
        )


def quiet_line(name: str | None) -> str:
    """The first line of a reply: whom it answers, small and pinging nobody."""
    if not name:
        return ""
    clean = discord.utils.escape_mentions(discord.utils.escape_markdown(" ".join(name.split())))
    return f"-# ↪ {clean[:80]}\n"


class WebhookSink:
    """A `ReplySink` of webhook messages (see the module's note on exactly once)."""

    def __init__(self, voice: Voice, hooks: Hooks, answering: str | None) -> None:
        self.voice = voice
        self.hooks = hooks
        self.header = quiet_line(answering)
        self._unsure: tuple[int, str] | None = None  # an execute whose outcome is not known
        self._held: set[int] = set()  # message ids this sink posted or adopted

    async def send(
        self, content: str, *, reply: bool, view: discord.ui.View | None = None
    ) -> discord.Message:
        text = self.header + content if reply else content
        if self._unsure is not None:
            since, tried = self._unsure
            found = await self._look_for(since, tried)
            self._unsure = None
            if found:  # the lost try went through (maybe more than once): keep one
                message = found[-1]
                log.info("a webhook message whose answer was lost went through; not again")
                await self._drop_copies(message, since, tried, found)
                self._held.add(message.id)
                if tried != text or view is not None:
                    await self._edit(message, text, view)
                return message
        since = discord.utils.time_snowflake(discord.utils.utcnow() - SKEW)
        self._unsure = (since, text)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            message = await self.voice.send(text, view)
        except discord.NotFound:  # someone deleted the webhook: make it again, once
            renewed = await self.hooks.renew(self.voice)
            if renewed is None:
                raise
            self.voice = renewed
            message = await self.voice.send(text, view)
        self._unsure = None
        self._held.add(message.id)
        if loop.time() - began >= RETRIED_AFTER:
            await self._drop_copies(message, since, text)
        return message

    async def edit(
        self, message: discord.Message, content: str, *, view: discord.ui.View | None = None
    ) -> None:
        keep = self.header and message.content.startswith(self.header)
        await self._edit(message, self.header + content if keep else content, view)

    async def delete(self, message: discord.Message) -> None:
        await self.hooks.delete(message)

    async def _edit(
        self, message: discord.Message, content: str, view: discord.ui.View | None
    ) -> None:
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        hook = self.hooks.known(message.webhook_id)
        if hook is None:  # the bot's own message (posted while webhooks were refused)
            await message.edit(content=content, allowed_mentions=NO_MENTIONS, **extra)
            return
        if message.channel.id != hook.channel_id:
            extra["thread"] = message.channel
        edited = await hook.edit_message(
            message.id, content=content, allowed_mentions=NO_MENTIONS, **extra
        )
        message.content = edited.content

    async def _look_for(self, since: int, text: str) -> list[discord.Message]:
        """Copies of a send whose answer was lost; none if they cannot be read (no Read
        Message History): then it is posted again rather than lost."""
        try:
            return await self._copies(since, text)
        except DISCORD_FAILURES as exc:
            if pushback(exc) is not None:
                raise  # Discord is failing: the send is tried again later
            log.warning("cannot look for a lost webhook message (%s); posting it again", exc)
            return []

    async def _copies(self, since: int, text: str) -> list[discord.Message]:
        """Messages of this webhook with `text`, posted here since `since`, oldest first."""
        found = [
            message
            async for message in self.voice.where.history(
                after=discord.Object(since), limit=LOOK_BACK
            )
            if message.webhook_id == self.voice.hook.id and message.content == text
        ]
        return sorted(found, key=lambda message: message.id)

    async def _drop_copies(
        self,
        kept: discord.Message,
        since: int,
        text: str,
        found: list[discord.Message] | None = None,
    ) -> None:
        if found is None:
            try:
                found = await self._copies(since, text)
            except DISCORD_FAILURES as exc:  # the message is shown; a copy may stay
                log.warning("cannot look for copies of a webhook message: %s", exc)
                return
        for copy in found:
            if copy.id != kept.id and copy.id not in self._held:
                log.warning("deleting a copy of a webhook message that Discord made twice")
                await self.hooks.delete(copy)
