"""The message half of PostgresStore: storing, reading, editing and exporting messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Final
from uuid import UUID

from ..errors import AnsweredMessageGone, SessionEnded, SessionNotFound
from ..export import ExportFormat, export_chunks
from ..limits import check_text, check_texts
from ..models import HistorySize, Message, Role, TokensSource, utc_now
from ..rows import check_tokens
from ..usage import UsageQuery, UsageRow
from . import queries as q
from .database import PostgresDatabase
from .listing import select_tokens_since, select_usage
from .rows import check_storable, message_from_record, session_from_record

__all__ = ["PostgresMessages"]

_MAX_ID: Final = 2**63 - 1
EXPORT_BATCH: Final = 500


class PostgresMessages(PostgresDatabase):
    """Messages of sessions in PostgreSQL; `PostgresStore` adds the sessions."""

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
        check_storable(
            {"message content": content, "author id": author_id, "author name": author_name,
             "external id": external_id}
        )  # fmt: skip
        params = (
            session_id, Role(role).value, author_id, author_name, content, utc_now(),
            external_id, tokens, tokens_source, reply_to,
        )  # fmt: skip
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(q.INSERT_MESSAGE, *params)
            assert row is not None
            if row["session_status"] is None:
                raise SessionNotFound(session_id)
            if row["session_status"] != "active":
                raise SessionEnded(session_id)
            if row["id"] is not None:
                return message_from_record(row)
            if external_id is not None:
                row = await conn.fetchrow(q.SELECT_MESSAGE_BY_EXTERNAL_ID, session_id, external_id)
                if row is not None:
                    return message_from_record(row)
        raise AnsweredMessageGone(session_id, reply_to)

    async def recent_history(
        self, session_id: UUID, *, limit: int, before: int | None = None, after: int | None = None
    ) -> list[Message]:
        """The last `limit` messages with `after < id < before`, oldest first."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        low = after if after is not None else 0
        high = before if before is not None else _MAX_ID
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(q.RECENT_HISTORY, session_id, low, high, limit)
            if not rows:
                await self._require_session(conn, session_id)
        return [message_from_record(row) for row in reversed(rows)]

    async def get_message(self, session_id: UUID, message_id: int) -> Message | None:
        """The session's message with this id; None if the session holds no such message."""
        rows = await self._fetch(q.SELECT_MESSAGE, (session_id, message_id))
        return message_from_record(rows[0]) if rows else None

    async def latest_external_message(self, session_id: UUID) -> Message | None:
        """The newest message that has an external id; None if the session holds none."""
        rows = await self._fetch(q.LATEST_EXTERNAL_MESSAGE, (session_id,))
        return message_from_record(rows[0]) if rows else None

    async def reply_to(self, session_id: UUID, message_id: int) -> Message | None:
        """The stored assistant reply answering message `message_id`; None if there is none."""
        rows = await self._fetch(q.REPLY_TO_MESSAGE, (session_id, message_id))
        return message_from_record(rows[0]) if rows else None

    async def settled(self, session_id: UUID, message_id: int) -> bool:
        """True if message `message_id` needs no answer: one is stored, or a limit refused it."""
        rows = await self._fetch(q.MESSAGE_SETTLED, (session_id, message_id))
        return bool(rows[0]["settled"])

    async def refuse_message(self, message_id: int) -> None:
        """Record that a limit refused to answer message `message_id` (it stays unanswered)."""
        await self._fetch(q.REFUSE_MESSAGE, (message_id,))

    async def count_messages(self, session_id: UUID) -> int:
        """How many messages the session has."""
        rows = await self._fetch(q.COUNT_MESSAGES, (session_id,))
        if not rows[0]["found"]:
            raise SessionNotFound(session_id)
        return int(rows[0]["n"])

    async def message_counts(self, session_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Message counts for many sessions in one query (0 for unknown ids)."""
        counts = dict.fromkeys(session_ids, 0)
        for row in await self._fetch(q.MESSAGE_COUNTS, (list(counts),)):
            counts[row["session_id"]] = int(row["n"])
        return counts

    async def edit_message(
        self, session_id: UUID, external_id: str, content: str, tokens: int
    ) -> Message | None:
        """Replace a message's content (by its external id); None if there is no such message."""
        check_tokens(tokens, "estimate")
        check_storable({"message content": content, "external id": external_id})
        rows = await self._fetch(q.EDIT_MESSAGE, (content, tokens, session_id, external_id))
        return message_from_record(rows[0]) if rows else None

    async def delete_message(self, session_id: UUID, external_id: str) -> bool:
        """Delete a message by its external id; False if there was none."""
        check_text(external_id, field="external id")
        if "\x00" in external_id:
            return False  # no stored id holds one
        rows = await self._fetch(q.DELETE_MESSAGE, (session_id, external_id))
        return bool(rows)

    async def sessions_holding(self, binding_key: str, external_id: str) -> list[UUID]:
        """Sessions at `binding_key`, active or ended, that store the message `external_id`."""
        check_texts({"binding key": binding_key, "external id": external_id})
        if "\x00" in binding_key + external_id:
            return []  # no stored key or id holds one
        rows = await self._fetch(q.SESSIONS_HOLDING, (external_id, binding_key))
        return [row[0] for row in rows]

    async def clear_history(self, session_id: UUID) -> int:
        """Delete every message of the session and forget its summary; return how many."""
        async with self._transaction() as conn:
            await self._fetch_session(conn, session_id)
            status = await conn.execute(q.CLEAR_HISTORY, session_id)
            await conn.execute(q.FORGET_SUMMARY, utc_now(), session_id)
        return int(status.split()[-1])

    async def update_message_tokens(
        self, message_id: int, tokens: int, source: TokensSource = "usage"
    ) -> bool:
        """Record a better token count for a message; False if the message is gone."""
        check_tokens(tokens, source)
        rows = await self._fetch(q.UPDATE_MESSAGE_TOKENS, (tokens, source, message_id))
        return bool(rows)

    async def message_batches(
        self, session_id: UUID, *, before: int | None = None, batch_size: int = EXPORT_BATCH
    ) -> AsyncIterator[list[Message]]:
        """Every message with id < `before` (all without it), oldest first, `batch_size` at a time.

        Each batch is one keyset-paginated query on a pooled connection, so memory stays bounded
        by one batch; messages stored meanwhile may be included.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        high = before if before is not None else _MAX_ID
        after = 0
        async with self._pool.acquire() as conn:
            await self._require_session(conn, session_id)
        while True:
            rows = await self._fetch(q.MESSAGE_PAGE, (session_id, after, high, batch_size))
            if not rows:
                return
            batch = [message_from_record(row) for row in rows]
            yield batch
            if len(rows) < batch_size:
                return
            after = batch[-1].id

    async def history_size(self, session_id: UUID) -> HistorySize:
        """Message count and text bytes from one SQL sum, without reading messages into Python."""
        async with self._pool.acquire() as conn:
            await self._require_session(conn, session_id)
            row = await conn.fetchrow(q.HISTORY_SIZE, session_id)
        assert row is not None
        return HistorySize(messages=int(row["n"]), text_bytes=int(row["text_bytes"]))

    async def usage(self, query: UsageQuery) -> list[UsageRow]:
        """Messages, replies and tokens since `query.since`, per key group, persona, person."""
        rows = await self._fetch(*select_usage(query))
        return [UsageRow.from_row(row) for row in rows]

    async def tokens_since(self, key_prefix: str, since: datetime) -> int:
        """The tokens of every message stored at or after `since` under `key_prefix`."""
        rows = await self._fetch(*select_tokens_since(key_prefix, since))
        return int(rows[0]["tokens"])

    async def export_session(self, session_id: UUID, fmt: ExportFormat) -> str:
        """The session and all its messages as pretty JSON or a Markdown transcript."""
        if fmt not in ("json", "md"):
            raise ValueError(f"unknown export format {fmt!r}; use 'json' or 'md'")
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(q.SELECT_SESSION, session_id)
        if row is None:
            raise SessionNotFound(session_id)
        chunks = export_chunks(session_from_record(row), self.message_batches(session_id), fmt)
        return "".join([chunk async for chunk in chunks])
