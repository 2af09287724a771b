"""Session holds and reply drafts in PostgreSQL (see `storage.drafts` for what they are).

A session is held across processes with a session-level advisory lock keyed from its UUID
(the two-integer key space, which never meets the migration lock's single-bigint key). All
holds of a process share one connection lent from the pool for as long as any is held, so
holding many sessions never starves the pool that the replies themselves need; on it, a lock
is taken with `pg_try_advisory_lock`, polled while another process holds the session (rare:
within a process, an asyncio lock per session queues the waiters first). A process that dies
loses its connection, and PostgreSQL releases its locks with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final
from uuid import UUID

import asyncpg

from ..drafts import ReplyDraft
from ..locks import KeyedLocks
from ..models import utc_now
from .database import PostgresDatabase

__all__ = ["PostgresDrafts", "draft_from_record", "lock_key"]

log = logging.getLogger(__name__)

LOCK_CLASS: Final = 0x53455353  # "SESS": the first half of every session hold's key
POLL_FIRST: Final = 0.02  # seconds before asking again for a session another process holds
POLL_MAX: Final = 0.5


def draft_from_record(session_id: UUID, row: asyncpg.Record) -> ReplyDraft:
    """A draft from a row of (message_id, target, posted, updated_at)."""
    return ReplyDraft(
        session_id=session_id,
        message_id=row["message_id"],
        target=row["target"],
        posted=tuple(row["posted"]),
        updated_at=row["updated_at"],
    )


_TRY_LOCK: Final = "SELECT pg_try_advisory_lock($1, $2)"
_UNLOCK: Final = "SELECT pg_advisory_unlock($1, $2)"
_SAVE: Final = """
INSERT INTO reply_drafts (session_id, message_id, target, posted, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (session_id, message_id)
DO UPDATE SET target = excluded.target, posted = excluded.posted, updated_at = excluded.updated_at
"""
_SELECT: Final = """
SELECT message_id, target, posted, updated_at FROM reply_drafts
WHERE session_id = $1 AND message_id = $2
"""
_SELECT_SESSION: Final = """
SELECT message_id, target, posted, updated_at FROM reply_drafts WHERE session_id = $1
ORDER BY message_id
"""
_DELETE: Final = "DELETE FROM reply_drafts WHERE session_id = $1 AND message_id = $2"


def lock_key(session_id: UUID) -> tuple[int, int]:
    """The advisory lock key of a session (two signed 32-bit integers)."""
    return LOCK_CLASS, int.from_bytes(session_id.bytes[:4], "big", signed=True)


class _LockLine:
    """The one lent connection on which a process holds its sessions' advisory locks."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database
        self._use = asyncio.Lock()  # one statement at a time on the connection
        self._lent: Any = None  # the `connection()` context manager while any hold is on
        self._conn: Any = None
        self._held = 0

    async def _ask(self, sql: str, key: tuple[int, int], change: int) -> bool:
        """Run a lock function on the connection (lending it first); on True, count `change`
        holds more. A failed connection is given back (its locks went with it)."""
        async with self._use:
            try:
                if self._conn is None:
                    self._lent = self._database.connection()
                    self._conn = await self._lent.__aenter__()
                answer = bool(await self._conn.fetchval(sql, *key))
            except BaseException:
                log.warning("the connection holding session locks failed; it is given back")
                await self._give_back(force=True)
                raise
            if answer:
                self._held += change
            await self._give_back()
            return answer

    async def _give_back(self, *, force: bool = False) -> None:
        if (force or self._held == 0) and self._lent is not None:
            lent, self._lent, self._conn = self._lent, None, None
            await lent.__aexit__(None, None, None)

    async def take(self, key: tuple[int, int]) -> None:
        wait = POLL_FIRST
        while not await self._ask(_TRY_LOCK, key, +1):
            await asyncio.sleep(wait)
            wait = min(POLL_MAX, wait * 2)

    async def give(self, key: tuple[int, int]) -> None:
        if not await self._ask(_UNLOCK, key, -1):
            self._held -= 1
            log.warning("session lock %s was not held any more (connection lost?)", key)


class PostgresDrafts(PostgresDatabase):
    """Session holds (across processes) and reply drafts in PostgreSQL."""

    _holds: KeyedLocks | None = None
    _line: _LockLine | None = None

    @asynccontextmanager
    async def hold_session(self, session_id: UUID) -> AsyncIterator[None]:
        """Keep `session_id` to this task, among every process on the database, for the block."""
        if self._holds is None or self._line is None:
            self._holds, self._line = KeyedLocks(), _LockLine(self)
        line = self._line
        key = lock_key(session_id)
        async with self._holds.hold(session_id):
            await line.take(key)
            try:
                yield
            finally:
                await asyncio.shield(line.give(key))

    async def save_draft(
        self, session_id: UUID, message_id: int, *, target: str, posted: Sequence[str]
    ) -> None:
        """Record (or update) where the reply to `message_id` was shown so far."""
        await self._fetch(_SAVE, [session_id, message_id, target, list(posted), utc_now()])

    async def draft(self, session_id: UUID, message_id: int) -> ReplyDraft | None:
        """The draft of the reply to `message_id`, if one is recorded."""
        rows = await self._fetch(_SELECT, [session_id, message_id])
        return draft_from_record(session_id, rows[0]) if rows else None

    async def session_drafts(self, session_id: UUID) -> list[ReplyDraft]:
        """Every draft of the session's replies, oldest message first."""
        rows = await self._fetch(_SELECT_SESSION, [session_id])
        return [draft_from_record(session_id, row) for row in rows]

    async def clear_draft(self, session_id: UUID, message_id: int) -> None:
        """Forget the draft of the reply to `message_id` (shown whole, or its failure is)."""
        await self._fetch(_DELETE, [session_id, message_id])
