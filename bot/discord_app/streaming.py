"""Showing a reply while it streams: post once the first text arrives, then edit, throttled.

`StreamingReply` knows nothing about Discord: it drives a `ReplySink` (send, edit, delete) and
is tested with a fake one. The first message is a reply to the user's message; later parts
(past Discord's 2,000 characters) are sent as plain follow-up messages. Edits happen at most
once per `interval` while text arrives; `finish()` always shows the complete text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from bot.discord_app.split import MESSAGE_LIMIT, split_reply

M = TypeVar("M")
EDIT_INTERVAL = 1.0  # seconds between two updates of a streaming reply


class ReplySink(Protocol[M]):
    """Where a reply is shown: messages of type M that can be sent, edited and deleted."""

    async def send(self, content: str, *, reply: bool) -> M: ...

    async def edit(self, message: M, content: str) -> None: ...

    async def delete(self, message: M) -> None: ...


class StreamingReply(Generic[M]):
    """Accumulates streamed text and keeps the messages of a sink in step with it."""

    def __init__(
        self,
        sink: ReplySink[M],
        *,
        interval: float = EDIT_INTERVAL,
        limit: int = MESSAGE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._interval = interval
        self._limit = limit
        self._clock = clock
        self._text = ""
        self._messages: list[M] = []
        self._shown: list[str] = []
        self._last_update: float | None = None

    @property
    def text(self) -> str:
        return self._text

    @property
    def messages(self) -> list[M]:
        """The messages sent so far, in order."""
        return list(self._messages)

    @property
    def started(self) -> bool:
        """True once the first message has been sent."""
        return bool(self._messages)

    async def add(self, delta: str) -> None:
        """Append streamed text; update the messages if the last update is old enough."""
        self._text += delta
        now = self._clock()
        due = self._last_update is None or now - self._last_update >= self._interval
        if due and await self._sync():
            self._last_update = now

    async def finish(self, text: str | None = None) -> list[M]:
        """Show the complete text (the stored reply, if given) and return the messages."""
        if text is not None:
            self._text = text
        await self._sync()
        return self.messages

    async def discard(self) -> None:
        """Delete every message sent so far (a reply that failed half-way)."""
        messages, self._messages, self._shown = self._messages, [], []
        for message in messages:
            await self._sink.delete(message)

    async def _sync(self) -> bool:
        """Edit or send messages until they show the text; True if anything was sent."""
        parts = split_reply(self._text, self._limit)
        changed = False
        for index, part in enumerate(parts):
            if index < len(self._messages):
                if self._shown[index] != part:
                    await self._sink.edit(self._messages[index], part)
                    self._shown[index] = part
                    changed = True
            else:
                message = await self._sink.send(part, reply=index == 0)
                self._messages.append(message)
                self._shown.append(part)
                changed = True
        while len(self._messages) > len(parts):  # only if the text got shorter
            await self._sink.delete(self._messages.pop())
            self._shown.pop()
            changed = True
        return changed
