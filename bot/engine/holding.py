"""Replies in flight: holding a session while it is answered, so that one answerer at a time,
in any process, answers it (the store's `hold_session`: across processes on PostgreSQL, within
one on SQLite), and the drafts of replies being shown (see `storage.drafts`).

A hold is re-entrant within a task: a front end may hold the session around a whole reply
(to put a half-written one right first) and the turn inside holds it again for free.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from uuid import UUID

from bot.engine.errors import SessionbotError
from storage import Message, Store
from storage.drafts import ReplyDraft

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


class ReplyDrafts:
    """Where a front end showed a reply so far, while it is written (the engine's way to the
    store's drafts): noted at each new part, cleared once it is shown whole or has failed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def note(
        self, session_id: UUID, message_id: int, *, target: str, posted: Sequence[str]
    ) -> None:
        await self._store.save_draft(session_id, message_id, target=target, posted=posted)

    async def clear(self, session_id: UUID, message_id: int) -> None:
        await self._store.clear_draft(session_id, message_id)

    async def of_message(self, session_id: UUID, message_id: int) -> ReplyDraft | None:
        return await self._store.draft(session_id, message_id)

    async def of_session(self, session_id: UUID) -> list[ReplyDraft]:
        """Drafts left in the session (while holding it: by processes that died)."""
        return await self._store.session_drafts(session_id)

    async def stored_reply(self, session_id: UUID, message_id: int) -> Message | None:
        """The stored reply to `message_id`, if the reply got that far."""
        return await self._store.reply_to(session_id, message_id)
