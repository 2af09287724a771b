"""Gates in front of the intake queues: a conversation's catch-up goes before its new events.

After a fresh gateway session (a start, or a reconnect Discord would not resume) the bot must
first read what it missed in each conversation, and only then handle what arrives live, or a
live message would be stored before older missed ones (and become the point catch-up reads
after). From the gateway's READY until the list of conversations to catch up is known, every
event is held; then each of those conversations keeps its events behind a gate until its
catch-up job is queued first, and every other conversation's events go straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bot.discord_app.serial import Job, SerialQueues


class Gates:
    """Holds jobs of conversations not yet caught up; lets them into `queues` in order."""

    def __init__(self, queues: SerialQueues) -> None:
        self._queues = queues
        self._held: list[tuple[str, Job]] | None = None  # everything, until `gate()`
        self._gates: dict[str, list[Job]] = {}
        self._open = asyncio.Event()
        self._open.set()

    def __len__(self) -> int:
        """How many jobs wait behind a gate (or in the hold)."""
        return len(self._held or ()) + sum(len(jobs) for jobs in self._gates.values())

    @property
    def closed(self) -> bool:
        """True while anything is held or gated."""
        return not self._open.is_set()

    def submit(self, key: str, job: Job) -> None:
        """Queue `job` for `key`, behind the gate if `key` has one (never blocks)."""
        if self._held is not None:
            self._held.append((key, job))
        elif (gate := self._gates.get(key)) is not None:
            gate.append(job)
        else:
            self._queues.submit(key, job)

    def hold(self) -> None:
        """Hold every job from now on, and the ones still gated (a new gateway session)."""
        if self._held is None:
            self._held = [(key, job) for key, jobs in self._gates.items() for job in jobs]
            self._gates = {}
        self._open.clear()

    def gate(self, keys: Iterable[str]) -> None:
        """Stop holding: `keys` get a gate (with their held jobs), the rest go to the queues."""
        held, self._held = self._held or [], None
        self._gates = {key: [] for key in keys}
        for key, job in held:
            self.submit(key, job)
        self._update()

    def open(self, key: str, first: Job) -> bool:
        """Queue `first`, then the jobs waiting at `key`'s gate; False if it has no gate."""
        waiting = self._gates.pop(key, None)
        if waiting is None:
            return False
        self._queues.submit(key, first)
        for job in waiting:
            self._queues.submit(key, job)
        self._update()
        return True

    def open_all(self) -> None:
        """Let every gated job through (nothing more to catch up, or catch-up was stopped)."""
        gates, self._gates = self._gates, {}
        for key, waiting in gates.items():
            for job in waiting:
                self._queues.submit(key, job)
        self._update()

    async def wait_open(self) -> None:
        await self._open.wait()

    def _update(self) -> None:
        if self._held is None and not self._gates:
            self._open.set()
