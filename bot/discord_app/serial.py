"""Per-key job queues: jobs with one key run one after another, different keys concurrently.

The gateway hands the bot one event at a time; each message becomes a job on its channel's
queue and the event handler returns at once, so a slow reply never holds up the gateway or
another channel. Jobs of one channel keep the order in which their messages arrived. With a
`running` limit, at most that many jobs run at once over all keys; the others wait, queued
(a queued job costs far less memory than one half done), and start in the order they became
due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class SerialQueues:
    """One worker task per busy key, draining that key's jobs in order."""

    def __init__(self, name: str, *, running: int | None = None) -> None:
        if running is not None and running < 1:
            raise ValueError(f"running must be at least 1, not {running}")
        self._name = name
        self._queues: dict[str, deque[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._slots = asyncio.Semaphore(running) if running is not None else None

    def submit(self, key: str, job: Job) -> None:
        """Queue `job` behind the other jobs of `key` (never blocks)."""
        if self._closed:
            log.debug("%s: closed, dropping a job for %s", self._name, key)
            return
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = deque([job])
        task = asyncio.create_task(self._drain(key), name=f"{self._name}:{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        """How many jobs are queued or running."""
        return sum(len(queue) for queue in self._queues.values())

    @property
    def kept(self) -> int:
        """Entries kept per key (queues and workers): 0 once every key is idle, so that idle
        conversations cost nothing here."""
        return len(self._queues) + len(self._tasks)

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                async with self._slots or contextlib.nullcontext():
                    try:
                        await queue[0]()
                    except Exception:
                        log.exception("%s: a job for %s failed", self._name, key)
                queue.popleft()
        finally:
            del self._queues[key]

    async def join(self) -> None:
        """Wait until every queue is empty (jobs may queue more jobs meanwhile)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stop(self) -> None:
        """Take no more jobs and drop the queued ones; the running ones go on (see `join`)."""
        self._closed = True
        for queue in self._queues.values():
            while len(queue) > 1:
                queue.pop()

    async def close(self) -> None:
        """Drop what is queued and cancel what is running; wait for the workers to end."""
        self.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
