"""Showing a reply while it streams: post shortly after the first text, then edit, throttled.

`StreamingReply` knows nothing about Discord: it drives a `ReplySink` (send, edit, delete) and
is tested with a fake one. Updates run in a background task, so reading the model's stream
never waits for Discord: the first message goes out `first_delay` after the first text (a
reply that is complete by then is posted whole, in one request), later updates at most once
per `interval`, and text keeps appearing even if the model pauses. Past Discord's 2,000
characters the reply continues in further messages (only the first replies to the user's
message). `finish()` always shows the complete text.

When the sink fails in a way that passes (`pushback` says so and how long to wait: a rate
limit, a server error), an update is skipped rather than queued and the interval doubles, up
to `max_interval`; an update that took longer than the interval (the sink waited out a rate
limit itself) doubles it too, and quick updates bring it back. `finish()` shows the final text
again after such failures, a bounded number of times (`retries`), before giving up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from bot.discord_app.split import MESSAGE_LIMIT, split_reply

log = logging.getLogger(__name__)

M = TypeVar("M")
EDIT_INTERVAL = 1.0  # seconds between two updates of a streaming reply
FIRST_DELAY = 0.2  # seconds from the first text to the first message
MAX_INTERVAL = 10.0  # the longest wait between updates while the sink pushes back (seconds)
RECOVERY = 0.8  # after a quick update, the interval shrinks by this factor towards the normal
FINAL_RETRIES = (0.5, 1.0, 2.0, 4.0)  # seconds before each new try at showing the final text

#: How long to wait after a failure that passes (e.g. a rate limit); None if it will not pass.
Pushback = Callable[[BaseException], float | None]


def never(error: BaseException) -> float | None:
    """No failure passes."""
    return None


async def persist(
    action: Callable[[], Awaitable[None]], delays: Sequence[float], pushback: Pushback
) -> None:
    """Run `action`; after each failure that passes, wait (at least what it asks) and run it
    again, once per delay. The last failure, or one that does not pass, is raised."""
    left = iter(delays)
    while True:
        try:
            await action()
            return
        except Exception as exc:
            wait = pushback(exc)
            delay = next(left, None)
            if wait is None or delay is None:
                raise
            log.info("a passing failure (%s); trying again in %.2f s", exc, max(wait, delay))
            await asyncio.sleep(max(wait, delay))


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
        pushback: Pushback = never,
        retries: Sequence[float] = FINAL_RETRIES,
        max_interval: float = MAX_INTERVAL,
    ) -> None:
        self.sink = sink
        self._interval = interval
        self._pace = interval  # the interval now: longer while the sink pushes back
        self._max_interval = max(max_interval, interval)
        self._pushback = pushback
        self._retries = retries
        self._first_delay = first_delay
        self._limit = limit
        self._text = ""
        self._messages: list[M] = []
        self._shown: list[str] = []
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._updater: asyncio.Task[None] | None = None
        self._update: asyncio.Task[None] | None = None
        self._view: object | None = None  # to show with the last message, once
        # Called with the messages so far each time one more is sent (to note the draft).
        self.on_sent: Callable[[Sequence[M]], Awaitable[None]] | None = None

    @property
    def interval(self) -> float:
        """The current interval between updates (longer while the sink pushes back)."""
        return self._pace

    @property
    def text(self) -> str:
        return self._text

    @property
    def limit(self) -> int:
        """The most characters one message of this reply holds."""
        return self._limit

    @property
    def messages(self) -> list[M]:
        """The messages sent so far, in order."""
        return list(self._messages)

    @property
    def started(self) -> bool:
        """True once the first message has been sent."""
        return bool(self._messages)

    def resume(self, messages: Sequence[M]) -> None:
        """Show the text in messages sent before (a reply being regenerated): they are
        edited, extra ones deleted, more sent if the text needs them."""
        self._messages = list(messages)
        self._shown = [""] * len(self._messages)

    async def add(self, delta: str) -> None:
        """Append streamed text; the background updater shows it when it is due."""
        self._raise_failure()
        self._text += delta
        self._dirty.set()
        if self._updater is None and self._text.strip():
            self._updater = asyncio.create_task(self._run_updates(), name="reply-updates")

    async def finish(
        self,
        text: str | None = None,
        *,
        retries: Sequence[float] | None = None,
        view: object | None = None,
    ) -> list[M]:
        """Show the complete text (the stored reply, if given) and return the messages; after
        a failure that passes, again (`retries`: the waits; by default the reply's own). A
        finish that failed can be run again later: it picks up where it stopped. A `view`
        goes to the sink with the last message's final text (its buttons, in Discord)."""
        await self._stop_updates()
        if text is not None:
            self._text = text
        if view is not None:
            self._view = view
        await persist(
            self._locked_sync, self._retries if retries is None else retries, self._pushback
        )
        return self.messages

    async def release(self) -> list[M]:
        """Stop updating and hand over the messages sent so far (the caller replaces them)."""
        try:
            await self._stop_updates()
        except Exception as exc:  # the reply is going anyway; its last update failed
            log.warning("an update of a dropped reply failed: %s", exc)
        messages, self._messages, self._shown = self._messages, [], []
        return messages

    async def discard(self) -> None:
        """Stop updating and delete every message sent so far (a reply that failed)."""
        for message in await self.release():
            await self.sink.delete(message)

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
            delay = await self._update_once()

    async def _update_once(self) -> float:
        """Run one update; return the wait before the next (longer while the sink pushes back)."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        self._update = asyncio.create_task(self._locked_sync(), name="reply-update")
        try:
            await asyncio.shield(self._update)  # stopping the loop never cuts a request short
        except Exception as exc:
            wait = self._pushback(exc)
            if wait is None:
                raise
            self._update = None
            self._dirty.set()  # what it did not show is still to show, by the next update
            self._slow_down()
            log.info("a reply update failed (%s); next one in %.2f s", exc, max(wait, self._pace))
            return max(wait, self._pace)
        if 0 < self._interval < loop.time() - began:  # the sink waited out a limit itself
            self._slow_down()
        else:
            self._pace = max(self._interval, self._pace * RECOVERY)
        return self._pace

    def _slow_down(self) -> None:
        self._pace = min(self._max_interval, max(self._pace, self._interval) * 2)

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
            try:
                await update
            except Exception as exc:
                if self._pushback(exc) is None:
                    raise
                log.info("the last update of a reply failed (%s); the final one follows", exc)

    def _raise_failure(self) -> None:
        updater = self._updater
        if updater is not None and updater.done() and not updater.cancelled():
            failure = updater.exception()
            if failure is not None:
                raise failure

    async def _sync(self) -> None:
        """Edit or send messages until they show the text."""
        parts = split_reply(self._text, self._limit)
        sink: Any = self.sink  # a view is passed only to sinks that take one
        for index, part in enumerate(parts):
            extra = (
                {"view": self._view} if self._view is not None and index == len(parts) - 1 else {}
            )
            if index < len(self._messages):
                if self._shown[index] != part or extra:
                    await sink.edit(self._messages[index], part, **extra)
                    self._shown[index] = part
                    self._view = None if extra else self._view
            else:
                message = await sink.send(part, reply=index == 0, **extra)
                self._view = None if extra else self._view
                self._messages.append(message)
                self._shown.append(part)
                if self.on_sent is not None:
                    await self.on_sent(self.messages)
        while len(self._messages) > len(parts):  # only if the text got shorter
            await self.sink.delete(self._messages.pop())
            self._shown.pop()
