"""Replies in flight: holding a session while it is answered, and the reply's draft.

`hold_session` keeps a session to one answerer at a time. In SQLite it is process-local (one
asyncio lock per session): one process per SQLite file is the supported set-up, so a second
process on the same file is not kept out. PostgreSQL adds an advisory lock that every process
on the database respects (see `storage.postgres.drafts`).

A draft records where a reply being shown went so far (`target` and `posted` are the front
end's own ids, e.g. a channel's message ids), from its first part until it is shown whole or
its failure is. A draft still there when the message is answered next was left by a process
that died: whoever answers puts it right.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from .locks import KeyedLocks
from .models import from_micros, to_micros, utc_now
from .sqlite import SqliteDatabase

__all__ = ["SELECT_SESSION_DRAFTS", "ReplyDraft", "SqliteDrafts", "draft_from_row"]


@dataclass(frozen=True)
class ReplyDraft:
    """Where a reply to stored message `message_id` was shown so far."""

    session_id: UUID
    message_id: int
    target: str
    posted: tuple[str, ...]
    updated_at: datetime


_SAVE: Final = """
INSERT INTO reply_drafts (session_id, message_id, target, posted, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (session_id, message_id)
DO UPDATE SET target = excluded.target, posted = excluded.posted, updated_at = excluded.updated_at
"""
_SELECT: Final = """
SELECT message_id, target, posted, updated_at FROM reply_drafts
WHERE session_id = ? AND message_id = ?
"""
SELECT_SESSION_DRAFTS: Final = """
SELECT message_id, target, posted, updated_at FROM reply_drafts WHERE session_id = ?
ORDER BY message_id
"""
_DELETE: Final = "DELETE FROM reply_drafts WHERE session_id = ? AND message_id = ?"


def draft_from_row(session_id: UUID, row: sqlite3.Row) -> ReplyDraft:
    """A `reply_drafts` row (message_id, target, posted, updated_at) of `session_id`."""
    return ReplyDraft(
        session_id=session_id,
        message_id=row["message_id"],
        target=row["target"],
        posted=tuple(json.loads(row["posted"])),
        updated_at=from_micros(row["updated_at"]),
    )


class SqliteDrafts(SqliteDatabase):
    """Session holds (process-local) and reply drafts in SQLite."""

    _holds: KeyedLocks | None = None

    @asynccontextmanager
    async def hold_session(self, session_id: UUID) -> AsyncIterator[None]:
        """Keep `session_id` to this task for the block (within this process only)."""
        if self._holds is None:
            self._holds = KeyedLocks()
        async with self._holds.hold(session_id):
            yield

    async def save_draft(
        self, session_id: UUID, message_id: int, *, target: str, posted: Sequence[str]
    ) -> None:
        """Record (or update) where the reply to `message_id` was shown so far."""
        params = (
            str(session_id), message_id, target, json.dumps(list(posted)), to_micros(utc_now())
        )  # fmt: skip
        await self._query(_SAVE, params)  # one statement: atomic without BEGIN ... COMMIT

    async def draft(self, session_id: UUID, message_id: int) -> ReplyDraft | None:
        """The draft of the reply to `message_id`, if one is recorded."""
        rows = await self._query(_SELECT, (str(session_id), message_id))
        return draft_from_row(session_id, rows[0]) if rows else None

    async def session_drafts(self, session_id: UUID) -> list[ReplyDraft]:
        """Every draft of the session's replies, oldest message first."""
        rows = await self._query(SELECT_SESSION_DRAFTS, (str(session_id),))
        return [draft_from_row(session_id, row) for row in rows]

    async def clear_draft(self, session_id: UUID, message_id: int) -> None:
        """Forget the draft of the reply to `message_id` (shown whole, or its failure is)."""
        await self._query(_DELETE, (str(session_id), message_id))
