"""Per-key asyncio locks that do not pile up: one per key, dropped when nobody needs it.

The engine keeps one per session between replies; the SQLite store's session holds are one
too (process-local, see `drafts`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final
from uuid import UUID

ENDS_KEPT: Final = 4096
"""Keys whose last hold's end is remembered; beyond, every older mark counts as passed."""


class KeyedLocks:
    """One asyncio.Lock per key, dropped again when nobody holds or waits for it.

    `mark()` and `held_since(key, mark)` tell whether anyone held a key in between (e.g.
    whether what was read before taking the lock may still be used under it).
    """

    def __init__(self) -> None:
        self._locks: dict[UUID, tuple[asyncio.Lock, int]] = {}
        self._clock = 0  # counts the ends of holds
        self._ends: dict[UUID, int] = {}  # key -> the clock at its last hold's end
        self._forgotten = 0  # ends of keys no longer in `_ends` are at most this

    @asynccontextmanager
    async def hold(self, key: UUID) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                try:
                    yield
                finally:
                    self._ended(key)
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def mark(self) -> int:
        """Now, for `held_since`."""
        return self._clock

    def held_since(self, key: UUID, mark: int) -> bool:
        """True if a hold of `key` ended after `mark` (or may have: see `ENDS_KEPT`)."""
        return self._ends.get(key, self._forgotten) > mark

    def _ended(self, key: UUID) -> None:
        self._clock += 1
        if len(self._ends) >= ENDS_KEPT:
            self._ends.clear()
            self._forgotten = self._clock
        self._ends[key] = self._clock

    def __len__(self) -> int:
        return len(self._locks)
