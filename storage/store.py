"""SessionStore: sessions and their messages in one SQLite file, over one aiosqlite connection."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Generator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal, Self
from uuid import UUID, uuid4

import aiosqlite

from . import queries as q
from .connection import connect
from .errors import (
    BindingConflict,
    BindingMoved,
    DuplicateSession,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .export import render_json, render_markdown
from .listing import Direction, ListQuery, OrderBy, encode_cursor
from .models import (
    UNSET,
    Message,
    Role,
    Session,
    SessionPage,
    SessionStatus,
    TokensSource,
    Unset,
    normalize_tags,
    to_micros,
    utc_now,
)
from .rows import (
    check_tokens,
    merged_metadata,
    message_from_row,
    metadata_json,
    session_from_row,
)

__all__ = ["OpeningStore", "SessionStore"]

log = logging.getLogger(__name__)

_MAX_ID: Final = 2**63 - 1
# The RAISE messages of the message triggers in 0001_initial.sql.
_TRIGGER_ERRORS: Final[dict[str, type[SessionEnded | SessionNotFound]]] = {
    "sessionbot: session ended": SessionEnded,
    "sessionbot: session not found": SessionNotFound,
}


class OpeningStore:
    """Returned by `SessionStore.open`: `await` it, or use it directly in `async with`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = path
        self._store: SessionStore | None = None

    def __await__(self) -> Generator[Any, None, SessionStore]:
        return self._open().__await__()

    async def __aenter__(self) -> SessionStore:
        self._store = await self._open()
        return self._store

    async def _open(self) -> SessionStore:
        return SessionStore(await connect(self._path))

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


class SessionStore:
    """Async session store. Every operation holds one lock, so no statement from another
    task ever lands inside someone else's transaction on the shared connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._closed = False

    # Lifecycle ----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> OpeningStore:
        """Open (creating if needed) and migrate the database at `path`."""
        return OpeningStore(path)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await self._db.execute_fetchall("PRAGMA analysis_limit = 400")
                await self._db.execute_fetchall("PRAGMA optimize")
            finally:
                await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # Sessions -----------------------------------------------------------------------------

    async def create_session(
        self,
        *,
        agent_id: str,
        situation: str,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        render_templates: bool = False,
        binding_key: str | None = None,
        persona_version: str | None = None,
        summary: str | None = None,
        session_id: UUID | None = None,
    ) -> Session:
        """Create an active session; BindingConflict if `binding_key` already has one."""
        new_id = session_id or uuid4()
        now = to_micros(utc_now())
        params = (
            str(new_id), agent_id, user_id, situation, summary, metadata_json(metadata or {}),
            int(render_templates), now, now, json.dumps(normalize_tags(tags)), binding_key,
            persona_version,
        )  # fmt: skip
        async with self._lock:
            try:
                rows = await self._run(q.INSERT_SESSION, params)
            except sqlite3.IntegrityError as exc:
                conflict = await self._creation_conflict(exc, new_id, binding_key)
                if conflict is None:
                    raise
                raise conflict from exc
        return session_from_row(rows[0])

    async def _creation_conflict(
        self, exc: sqlite3.IntegrityError, session_id: UUID, binding_key: str | None
    ) -> StorageError | None:
        if "sessions.id" in str(exc):
            return DuplicateSession(session_id)
        if binding_key is None:
            return None
        holder = await self._active_id(binding_key)
        return BindingConflict(binding_key, holder) if holder is not None else None

    async def get_session(self, session_id: UUID) -> Session:
        """The session with this id; SessionNotFound if there is none."""
        async with self._lock:
            return await self._fetch_session(session_id)

    async def active_session(self, binding_key: str) -> Session | None:
        """The active session bound to `binding_key`, if any."""
        rows = await self._query(q.SELECT_ACTIVE_SESSION, (binding_key,))
        return session_from_row(rows[0]) if rows else None

    async def list_sessions(
        self,
        *,
        metadata_filter: Mapping[str, Any] | None = None,
        tags_any: Iterable[str] = (),
        tags_all: Iterable[str] = (),
        agent_id: str | None = None,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        key_prefix: str | None = None,
        order_by: OrderBy = "created_at",
        direction: Direction = "desc",
        limit: int = 50,
        cursor: str | None = None,
        offset: int = 0,
    ) -> SessionPage:
        """One page of sessions matching every given filter, ordered with ties broken by id.

        metadata_filter: exact JSON values per top-level key ("1234" is not 1234).
        key_prefix: binding keys that start with it, character for character.
        cursor: `next_cursor` of the previous page, with the same order_by and direction.
        """
        query = ListQuery(
            metadata_filter=metadata_filter or {}, tags_any=tags_any, tags_all=tags_all,
            agent_id=agent_id, user_id=user_id, status=status, key_prefix=key_prefix,
            order_by=order_by, direction=direction, limit=limit, cursor=cursor, offset=offset,
        )  # fmt: skip
        rows = await self._query(*query.sql())
        page = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = page[-1]
            next_cursor = encode_cursor(order_by, last[order_by], last["id"])
        return SessionPage(items=[session_from_row(row) for row in page], next_cursor=next_cursor)

    async def update_session(
        self,
        session_id: UUID,
        *,
        metadata: Mapping[str, Any] | None = None,
        tags_add: Iterable[str] = (),
        tags_remove: Iterable[str] = (),
        summary: str | Unset | None = UNSET,
        situation: str | Unset = UNSET,
        persona_version: str | Unset | None = UNSET,
        summarized_through: int | Unset | None = UNSET,
        agent_id: str | Unset = UNSET,
        user_id: str | Unset | None = UNSET,
        render_templates: bool | Unset = UNSET,
        replace_metadata: bool = False,
    ) -> Session:
        """Change the given fields in one transaction and bump updated_at.

        `metadata` is merged key by key (a None value removes the key) unless
        `replace_metadata` is true, in which case it replaces the whole object.
        """
        fields: dict[str, object] = {
            "summary": summary, "situation": situation, "persona_version": persona_version,
            "summarized_through": summarized_through, "agent_id": agent_id, "user_id": user_id,
            "render_templates": render_templates,
        }  # fmt: skip
        changes = {column: value for column, value in fields.items() if value is not UNSET}
        async with self._transaction():
            current = await self._fetch_session(session_id)
            if metadata is not None or replace_metadata:
                changes["metadata"] = metadata_json(
                    merged_metadata(current.metadata, metadata or {}, replace=replace_metadata)
                )
            tags = normalize_tags([*current.tags, *normalize_tags(tags_add)])
            removed = set(normalize_tags(tags_remove))
            changes["tags"] = json.dumps([tag for tag in tags if tag not in removed])
            values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
            params = [*values, to_micros(utc_now()), str(session_id)]
            rows = await self._run(q.update_session_sql(changes), params)
        return session_from_row(rows[0])

    async def end_session(self, session_id: UUID) -> Session:
        """Mark the session ended (idempotent); it keeps its binding key and messages."""
        async with self._lock:
            rows = await self._run(q.END_SESSION, (to_micros(utc_now()), str(session_id)))
            if not rows:
                return await self._fetch_session(session_id)
        log.debug("ended session %s", session_id)
        return session_from_row(rows[0])

    async def bind_session(
        self, session_id: UUID, binding_key: str, *, expected_key: str | Unset | None = UNSET
    ) -> Session:
        """Attach an active session to `binding_key` (moving it from any previous key).

        With `expected_key`, only if the session is still where the caller last saw it
        (BindingMoved otherwise): the check and the move are one transaction, so two processes
        attaching the same session cannot both succeed.
        """
        async with self._transaction():
            current = await self._fetch_session(session_id)
            if current.status is SessionStatus.ENDED:
                raise SessionEnded(session_id)
            if expected_key is not UNSET and current.binding_key != expected_key:
                raise BindingMoved(session_id)
            if current.binding_key == binding_key:
                return current
            holder = await self._active_id(binding_key)
            if holder is not None:
                raise BindingConflict(binding_key, holder)
            params = (binding_key, to_micros(utc_now()), str(session_id))
            rows = await self._run(q.BIND_SESSION, params)
        return session_from_row(rows[0])

    async def delete_session(self, session_id: UUID) -> None:
        """Delete the session and (by cascade) its messages and tags."""
        rows = await self._query(q.DELETE_SESSION, (str(session_id),))
        if not rows:
            raise SessionNotFound(session_id)

    # Messages -----------------------------------------------------------------------------

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

        `reply_to` is the id of the message this one answers, if any.
        """
        check_tokens(tokens, tokens_source)
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
            if not rows:
                lookup = (str(session_id), external_id)
                rows = await self._run(q.SELECT_MESSAGE_BY_EXTERNAL_ID, lookup)
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

    async def export_session(self, session_id: UUID, fmt: Literal["json", "md"]) -> str:
        """The session and all its messages as pretty JSON or a Markdown transcript."""
        renderers = {"json": render_json, "md": render_markdown}
        if fmt not in renderers:
            raise ValueError(f"unknown export format {fmt!r}; use 'json' or 'md'")
        async with self._transaction("BEGIN"):
            session = await self._fetch_session(session_id)
            rows = await self._run(q.ALL_MESSAGES, (str(session_id),))
        messages = [message_from_row(row, session_id) for row in rows]
        return renderers[fmt](session, messages)

    # Plumbing -----------------------------------------------------------------------------

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement, one thread hop; the caller holds the lock."""
        return list(await self._db.execute_fetchall(sql, params))

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await self._run(sql, params)

    @asynccontextmanager
    async def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> AsyncIterator[None]:
        async with self._lock:
            await self._run(begin)
            try:
                yield
            except BaseException:
                await self._run("ROLLBACK")
                raise
            await self._run("COMMIT")

    async def _fetch_session(self, session_id: UUID) -> Session:
        rows = await self._run(q.SELECT_SESSION, (str(session_id),))
        if not rows:
            raise SessionNotFound(session_id)
        return session_from_row(rows[0])

    async def _require_session(self, session_id: UUID) -> None:
        if not await self._run(q.SESSION_EXISTS, (str(session_id),)):
            raise SessionNotFound(session_id)

    async def _active_id(self, binding_key: str) -> UUID | None:
        rows = await self._run(q.SELECT_ACTIVE_SESSION, (binding_key,))
        return UUID(rows[0]["id"]) if rows else None
