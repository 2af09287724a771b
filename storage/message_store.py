"""The message half of SessionStore: storing, reading, editing and exporting messages."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Final
from uuid import UUID

from . import queries as q
from .errors import AnsweredMessageGone, SessionEnded, SessionNotFound
from .export import ExportFormat, export_chunks
from .limits import check_text, check_texts
from .models import HistorySize, Message, Role, TokensSource, to_micros, utc_now
from .rows import check_tokens, message_from_row
from .sqlite import SqliteDatabase
from .usage import UsageQuery, UsageRow, select_tokens_since, select_usage

__all__ = ["MessageStore"]

_MAX_ID: Final = 2**63 - 1
EXPORT_BATCH: Final = 500
# The RAISE messages of the message triggers in 0001_initial.sql.
_TRIGGER_ERRORS: Final[dict[str, type[SessionEnded | SessionNotFound]]] = {
    "sessionbot: session ended": SessionEnded,
    "sessionbot: session not found": SessionNotFound,
}


class MessageStore(SqliteDatabase):
    """Messages of sessions in one SQLite file; `SessionStore` adds the sessions."""

    async def append_message(
        self,
        session_id: UUID,
        *,
        role: Role,
        content: str,
        author_id: str | None = None,
        author_name: str | None = None,
        external_id: str | None = None,
        tokens: int,
        tokens_source: TokensSource = "estimate",
        reply_to: int | None = None,
    ) -> Message:
        """Store a message (one statement). A repeated `external_id` returns the stored one.

        `reply_to` is the id of the message this one answers, if any; AnsweredMessageGone if
        that message is no longer stored.
        """
        check_tokens(tokens, tokens_source)
        check_texts(
            {"message content": content, "author id": author_id, "author name": author_name,
             "external id": external_id}
        )  # fmt: skip
        params = (
            str(session_id), Role(role).value, author_id, author_name, content,
            to_micros(utc_now()), external_id, tokens, tokens_source, reply_to,
        )  # fmt: skip
        async with self._lock:
            try:
                rows = await self._run(q.INSERT_MESSAGE, params)
            except sqlite3.IntegrityError as exc:
                error_type = _TRIGGER_ERRORS.get(str(exc))
                if error_type is None:
                    raise
                raise error_type(session_id) from exc
            if not rows and external_id is not None:
                lookup = (str(session_id), external_id)
                rows = await self._run(q.SELECT_MESSAGE_BY_EXTERNAL_ID, lookup)
            if not rows:
                raise AnsweredMessageGone(session_id, reply_to)
        return message_from_row(rows[0], session_id)

    async def recent_history(
        self, session_id: UUID, *, limit: int, before: int | None = None, after: int | None = None
    ) -> list[Message]:
        """The last `limit` messages with `after < id < before`, oldest first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        low = after if after is not None else 0
        high = before if before is not None else _MAX_ID
        async with self._lock:
            rows = await self._run(q.RECENT_HISTORY, (str(session_id), low, high, limit))
            if not rows:
                await self._require_session(session_id)
        return [message_from_row(row, session_id) for row in reversed(rows)]

    async def get_message(self, session_id: UUID, message_id: int) -> Message | None:
        """The session's message with this id; None if the session holds no such message."""
        rows = await self._query(q.SELECT_MESSAGE, (str(session_id), message_id))
        return message_from_row(rows[0], session_id) if rows else None

    async def latest_external_message(self, session_id: UUID) -> Message | None:
        """The newest message that has an external id; None if the session holds none."""
        rows = await self._query(q.LATEST_EXTERNAL_MESSAGE, (str(session_id),))
        return message_from_row(rows[0], session_id) if rows else None

    async def reply_to(self, session_id: UUID, message_id: int) -> Message | None:
        """The stored assistant reply answering message `message_id`; None if there is none."""
        rows = await self._query(q.REPLY_TO_MESSAGE, (str(session_id), message_id))
        return message_from_row(rows[0], session_id) if rows else None

    async def settled(self, session_id: UUID, message_id: int) -> bool:
        """True if message `message_id` needs no answer: one is stored, or a limit refused it."""
        rows = await self._query(q.MESSAGE_SETTLED, (str(session_id), message_id))
        return bool(rows[0]["settled"])

    async def refuse_message(self, message_id: int) -> None:
        """Record that a limit refused to answer message `message_id` (it stays unanswered)."""
        await self._query(q.REFUSE_MESSAGE, (message_id,))

    async def count_messages(self, session_id: UUID) -> int:
        """How many messages the session has."""
        rows = await self._query(q.COUNT_MESSAGES, (str(session_id),))
        if not rows[0]["found"]:
            raise SessionNotFound(session_id)
        return int(rows[0]["n"])

    async def message_counts(self, session_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Message counts for many sessions in one query (0 for unknown ids)."""
        counts = dict.fromkeys(session_ids, 0)
        wanted = json.dumps([str(session_id) for session_id in counts])
        for row in await self._query(q.MESSAGE_COUNTS, (wanted,)):
            counts[UUID(row["session_id"])] = int(row["n"])
        return counts

    async def edit_message(
        self, session_id: UUID, external_id: str, content: str, tokens: int
    ) -> Message | None:
        """Replace a message's content (by its external id); None if there is no such message."""
        check_tokens(tokens, "estimate")
        check_text(content, field="message content")
        params = (content, tokens, str(session_id), external_id)
        rows = await self._query(q.EDIT_MESSAGE, params)
        return message_from_row(rows[0], session_id) if rows else None

    async def delete_message(self, session_id: UUID, external_id: str) -> bool:
        """Delete a message by its external id; False if there was none."""
        rows = await self._query(q.DELETE_MESSAGE, (str(session_id), external_id))
        return bool(rows)

    async def sessions_holding(self, binding_key: str, external_id: str) -> list[UUID]:
        """Sessions at `binding_key`, active or ended, that store the message `external_id`."""
        rows = await self._query(q.SESSIONS_HOLDING, (external_id, binding_key))
        return [UUID(row[0]) for row in rows]

    async def clear_history(self, session_id: UUID) -> int:
        """Delete every message of the session and forget its summary; return how many."""
        async with self._transaction():
            await self._require_session(session_id)
            async with self._db.execute(q.CLEAR_HISTORY, (str(session_id),)) as cursor:
                deleted = cursor.rowcount
            await self._run(q.FORGET_SUMMARY, (to_micros(utc_now()), str(session_id)))
        return deleted

    async def update_message_tokens(
        self, message_id: int, tokens: int, source: TokensSource = "usage"
    ) -> bool:
        """Record a better token count for a message; False if the message is gone."""
        check_tokens(tokens, source)
        rows = await self._query(q.UPDATE_MESSAGE_TOKENS, (tokens, source, message_id))
        return bool(rows)

    async def message_batches(
        self, session_id: UUID, *, before: int | None = None, batch_size: int = EXPORT_BATCH
    ) -> AsyncIterator[list[Message]]:
        """Every message with id < `before` (all without it), oldest first, `batch_size` at a time.

        Each batch is one keyset-paginated query, so memory stays bounded by one batch and other
        tasks get the connection between batches; messages stored meanwhile may be included.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        high = before if before is not None else _MAX_ID
        after = 0
        async with self._lock:
            await self._require_session(session_id)
        while True:
            rows = await self._query(q.MESSAGE_PAGE, (str(session_id), after, high, batch_size))
            if not rows:
                return
            batch = [message_from_row(row, session_id) for row in rows]
            yield batch
            if len(rows) < batch_size:
                return
            after = batch[-1].id

    async def history_size(self, session_id: UUID) -> HistorySize:
        """Message count and text bytes from one SQL sum, without reading messages into Python."""
        async with self._lock:
            await self._require_session(session_id)
            rows = await self._run(q.HISTORY_SIZE, (str(session_id),))
        return HistorySize(messages=int(rows[0]["n"]), text_bytes=int(rows[0]["text_bytes"]))

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        """Messages, replies and tokens since `query.since`, per key group, persona, person."""
        rows = await self._query(*select_usage(query))
        return [UsageRow.from_row(row) for row in rows]

    async def tokens_since(self, key_prefix: str, since: datetime) -> int:
        """The tokens of every message stored at or after `since` under `key_prefix`."""
        rows = await self._query(*select_tokens_since(key_prefix, since))
        return int(rows[0]["tokens"])

    async def export_session(self, session_id: UUID, fmt: ExportFormat) -> str:
        """The session and all its messages as pretty JSON or a Markdown transcript, in one
        string; `export_chunks` over `message_batches` does the same in bounded memory."""
        if fmt not in ("json", "md"):
            raise ValueError(f"unknown export format {fmt!r}; use 'json' or 'md'")
        async with self._lock:
            session = await self._fetch_session(session_id)
        chunks = export_chunks(session, self.message_batches(session_id), fmt)
        return "".join([chunk async for chunk in chunks])
