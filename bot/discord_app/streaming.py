"""Showing a reply while it streams: post shortly after the first text, then edit, throttled.

`StreamingReply` knows nothing about Discord: it drives a `ReplySink` (send, edit, delete) and
is tested with a fake one. Updates run in a background task, so reading the model's stream
never waits for Discord: the first message goes out `first_delay` after the first text (a
reply that is complete by then is posted whole, in one request), later updates at most once
per `interval`, and text keeps appearing even if the model pauses. Past Discord's 2,000
characters the reply continues in further messages (only the first replies to the user's
message). `finish()` always shows the complete text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Generic, Protocol, TypeVar

from bot.discord_app.split import MESSAGE_LIMIT, split_reply

log = logging.getLogger(__name__)

M = TypeVar("M")
EDIT_INTERVAL = 1.0  # seconds between two updates of a streaming reply
FIRST_DELAY = 0.2  # seconds from the first text to the first message


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
        first_delay: float = FIRST_DELAY,
        limit: int = MESSAGE_LIMIT,
    ) -> None:
        self._sink = sink
        self._interval = interval
        self._first_delay = first_delay
        self._limit = limit
        self._text = ""
        self._messages: list[M] = []
        self._shown: list[str] = []
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._updater: asyncio.Task[None] | None = None
        self._update: asyncio.Task[None] | None = None

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
        """Append streamed text; the background updater shows it when it is due."""
        self._raise_failure()
        self._text += delta
        self._dirty.set()
        if self._updater is None and self._text.strip():
            self._updater = asyncio.create_task(self._run_updates(), name="reply-updates")

    async def finish(self, text: str | None = None) -> list[M]:
        """Show the complete text (the stored reply, if given) and return the messages."""
        await self._stop_updates()
        if text is not None:
            self._text = text
        async with self._lock:
            await self._sync()
        return self.messages

    async def discard(self) -> None:
        """Stop updating and delete every message sent so far (a reply that failed)."""
        try:
            await self._stop_updates()
        except Exception as exc:  # the reply is going anyway; its last update failed
            log.warning("an update of a discarded reply failed: %s", exc)
        messages, self._messages, self._shown = self._messages, [], []
        for message in messages:
            await self._sink.delete(message)

    async def close(self) -> None:
        """Cancel any update in flight (the reply is being abandoned, e.g. at shutdown)."""
        for task in (self._updater, self._update):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as exc:  # the reply is abandoned; nothing waits for it
                    log.warning("an update of an abandoned reply failed: %s", exc)

    async def _run_updates(self) -> None:
        delay = self._first_delay
        while True:
            await asyncio.sleep(delay)
            await self._dirty.wait()
            self._dirty.clear()
            self._update = asyncio.create_task(self._locked_sync(), name="reply-update")
            await asyncio.shield(self._update)  # stopping the loop never cuts a request short
            delay = self._interval

    async def _locked_sync(self) -> None:
        async with self._lock:
            await self._sync()

    async def _stop_updates(self) -> None:
        """End the updater; wait for an update in flight; raise its failure, if any."""
        updater, self._updater = self._updater, None
        if updater is not None:
            if not updater.done():
                updater.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await updater
            elif not updater.cancelled() and (failure := updater.exception()) is not None:
                self._update = None
                raise failure
        if self._update is not None:
            update, self._update = self._update, None
            await update

    def _raise_failure(self) -> None:
        updater = self._updater
        if updater is not None and updater.done() and not updater.cancelled():
            failure = updater.exception()
            if failure is not None:
                raise failure

    async def _sync(self) -> None:
        """Edit or send messages until they show the text."""
        parts = split_reply(self._text, self._limit)
        for index, part in enumerate(parts):
            if index < len(self._messages):
                if self._shown[index] != part:
                    await self._sink.edit(self._messages[index], part)
                    self._shown[index] = part
            else:
                message = await self._sink.send(part, reply=index == 0)
                self._messages.append(message)
                self._shown.append(part)
        while len(self._messages) > len(parts):  # only if the text got shorter
            await self._sink.delete(self._messages.pop())
            self._shown.pop()
