"""Holding a session while it is answered, so that one answerer at a time, in any process,
answers it (the store's `hold_session`: across processes on PostgreSQL, within one on SQLite).

A hold is re-entrant within a task: a front end may hold the session around a whole reply
(to put a half-written one right first) and the turn inside holds it again for free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from uuid import UUID

from bot.engine.errors import SessionbotError
from storage import Store

_HELD: ContextVar[frozenset[UUID]] = ContextVar("sessionbot_held_sessions", default=frozenset())


class AlreadySettled(SessionbotError):
    """The message was answered (or refused) meanwhile; it is answered once only."""

    def __init__(self) -> None:
        super().__init__("This message has already been answered.")


class SessionHolds:
    """The engine's session holds, over its store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @asynccontextmanager
    async def hold(self, session_id: UUID) -> AsyncIterator[None]:
        """Keep `session_id` to this task for the block (at once if this task holds it)."""
        held = _HELD.get()
        if session_id in held:
            yield
            return
        async with self._store.hold_session(session_id):
            _HELD.set(held | {session_id})
            try:
                yield
            finally:
                _HELD.set(held)  # not reset(token): a generator may close elsewhere

    @staticmethod
    def holding(session_id: UUID) -> bool:
        """True if this task holds `session_id`."""
        return session_id in _HELD.get()
