"""Showing replies while Discord fails: which failures pass, and posting without duplicates.

discord.py already waits out every 429, route or global (it sleeps the `retry_after` Discord
gives and tries again, five tries in all), and retries 500, 502, 504 and 524 itself (five
tries, 1 to 9 s apart). It raises for 503, for the statuses it does not retry, and when its
tries run out. `pushback` sorts what it raises: a failure that passes (429, 5xx, a lost
connection) and how long Discord asked us to wait, or None for one that will not (400, 403,
404).

A message create that failed may still have gone through: a 5xx can come after Discord made
the message. `DiscordSink` therefore sends with a nonce and Discord's `enforce_nonce` (as
discord.py does for its own retries), and a send after a failed one reuses that nonce, so
Discord answers with the message it already made instead of making a second one.

When Discord stays down past a reply's own retries, `Later` keeps trying in the background
(about half an hour, backing off to a minute): a stored reply is then shown whole, where its
first part already is; a reply that failed is replaced by its failure line (`Notice`), every
step of which is safe to repeat. What can never be shown is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import discord

from bot.discord_app.responses import NO_MENTIONS

log = logging.getLogger(__name__)

#: What a Discord call raises when Discord refused or missed it.
DISCORD_FAILURES = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)
DISCORD_FAILED = (
    "Discord kept failing while I was posting this reply, so it is not shown in full. "
    "Press Retry to answer again."
)


def pushback(error: BaseException) -> float | None:
    """Seconds Discord asked us to wait after a failure that passes; None if it will not."""
    if isinstance(error, discord.RateLimited):
        return error.retry_after
    if isinstance(error, discord.HTTPException):
        if error.status == 429:
            return _retry_after(error)
        return 0.0 if error.status >= 500 else None
    if isinstance(error, aiohttp.ClientError | OSError | TimeoutError):
        return 0.0
    return None


def _retry_after(error: discord.HTTPException) -> float:
    response: Any = error.response
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else 1.0
    except ValueError:
        return 1.0


def backoff(first: float, cap: float, total: float) -> tuple[float, ...]:
    """Waits that double from `first` up to `cap` each, until they add up to `total`."""

    def waits() -> Iterator[float]:
        wait, spent = first, 0.0
        while spent < total:
            yield wait
            spent += wait
            wait = min(cap, wait * 2)

    return tuple(waits())


#: Waits while trying to show a failure once Discord answers again: about half an hour.
NOTICE_RETRIES = backoff(2.0, 60.0, 1800.0)


class DiscordSink:
    """A `ReplySink` of Discord messages; the first part replies to the user's message."""

    def __init__(
        self, channel: discord.abc.Messageable, reference: discord.MessageReference | None
    ) -> None:
        self.channel = channel
        self.reference = reference
        self._nonce: int | None = None  # of a send whose outcome is not known

    async def send(
        self, content: str, *, reply: bool, view: discord.ui.View | None = None
    ) -> discord.Message:
        if self._nonce is None:
            self._nonce = secrets.randbits(63)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        if reply and self.reference is not None:
            extra["reference"] = self.reference
        message = await self.channel.send(
            content, nonce=self._nonce, allowed_mentions=NO_MENTIONS, **extra
        )
        self._nonce = None
        if message.content != content:  # an earlier try went through, with other text
            await self.edit(message, content, view=view)
        return message

    async def edit(
        self, message: discord.Message, content: str, *, view: discord.ui.View | None = None
    ) -> None:
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        await message.edit(content=content, allowed_mentions=NO_MENTIONS, **extra)

    async def delete(self, message: discord.Message) -> None:
        await message.delete()


class MessageSink(Protocol):
    """Where a reply's Discord messages go: the bot's own (`DiscordSink`) or a persona's
    webhook (`voices.WebhookSink`)."""

    async def send(
        self, content: str, *, reply: bool, view: discord.ui.View | None = None
    ) -> discord.Message: ...

    async def edit(
        self, message: discord.Message, content: str, *, view: discord.ui.View | None = None
    ) -> None: ...

    async def delete(self, message: discord.Message) -> None: ...


@dataclass
class Notice:
    """A failure line that replaces a reply: its messages go, the line (and button) comes."""

    sink: MessageSink
    content: str
    view: discord.ui.View | None
    leftovers: list[discord.Message] = field(default_factory=list)
    replacing: discord.Message | None = None  # a failed attempt's line (Retry): edited

    async def show(self) -> None:
        """Post it. Each step is safe to repeat, so after a failure it can simply run again."""
        while self.leftovers:
            with contextlib.suppress(discord.NotFound):
                await self.sink.delete(self.leftovers[0])
            self.leftovers.pop(0)
        if self.replacing is not None:
            await self.sink.edit(self.replacing, self.content, view=self.view)
        else:
            await self.sink.send(self.content, reply=True, view=self.view)


class Later:
    """What waits for Discord to answer again; cancelled when the bot closes."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def show(self, action: Awaitable[object], what: str) -> None:
        """Run `action` (which retries while Discord fails); log if it fails for good."""
        task = asyncio.create_task(self._logged(action, what), name="shown-later")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _logged(action: Awaitable[object], what: str) -> None:
        try:
            await action
        except DISCORD_FAILURES as exc:
            log.error("could not show %s in Discord: %s", what, exc)
        else:
            log.info("showed %s once Discord answered again", what)

    async def join(self) -> None:
        """Wait until every waiting notice is shown or given up."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            log.warning("%d repl(ies) not shown: Discord did not answer", len(self._tasks))
        await asyncio.gather(*self._tasks, return_exceptions=True)
