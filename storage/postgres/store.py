"""PostgresStore: sessions and their messages in PostgreSQL, over an asyncpg pool."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from ..errors import BindingConflict, BindingMoved, DuplicateSession, SessionEnded, SessionNotFound
from ..limits import check_text
from ..listing import ListQuery
from ..models import (
    UNSET,
    Session,
    SessionChanges,
    SessionPage,
    SessionStatus,
    Unset,
    normalize_tags,
    utc_now,
)
from ..rows import merged_metadata, metadata_json
from . import queries as q
from .cast import PostgresCast
from .copy import PostgresCopy
from .drafts import PostgresDrafts
from .listing import PostgresListing, cursor_after, select_sessions
from .messages import PostgresMessages
from .migrate import Conn
from .rows import check_storable, session_from_record
from .turns import PostgresTurns
from .variants import PostgresVariants

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)


def _checked_tags(tags: Iterable[str]) -> list[str]:
    normalized = normalize_tags(tags)
    for tag in normalized:
        check_storable({"tag": tag})
    return normalized


class PostgresStore(
    PostgresCopy,
    PostgresCast,
    PostgresMessages,
    PostgresVariants,
    PostgresDrafts,
    PostgresTurns,
    PostgresListing,
):
    """Async session store over PostgreSQL (see `Store` for the interface)."""

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
        check_storable(
            {"agent id": agent_id, "situation": situation, "user id": user_id, "summary": summary,
             "binding key": binding_key, "persona version": persona_version}
        )  # fmt: skip
        params = (
            new_id, agent_id, user_id, situation, summary, metadata_json(metadata or {}),
            render_templates, utc_now(), _checked_tags(tags), binding_key, persona_version,
        )  # fmt: skip
        async with self._pool.acquire() as conn:
            try:
                row = await conn.fetchrow(q.INSERT_SESSION, *params)
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "sessions_pkey":
                    raise DuplicateSession(new_id) from exc
                if binding_key is None:
                    raise
                conflict = await _held_elsewhere(conn, binding_key)
                if conflict is None:
                    raise
                raise conflict from exc
        assert row is not None
        return session_from_record(row)

    async def get_session(self, session_id: UUID) -> Session:
        """The session with this id; SessionNotFound if there is none."""
        rows = await self._fetch(q.SELECT_SESSION, (session_id,))
        if not rows:
            raise SessionNotFound(session_id)
        return session_from_record(rows[0])

    async def active_session(self, binding_key: str) -> Session | None:
        """The active session bound to `binding_key`, if any."""
        check_text(binding_key, field="binding key")
        if "\x00" in binding_key:
            return None
        rows = await self._fetch(q.SELECT_ACTIVE_SESSION, (binding_key,))
        return session_from_record(rows[0]) if rows else None

    async def latest_session(self, binding_key: str) -> Session | None:
        """The newest session ever bound to `binding_key`, active or ended."""
        check_text(binding_key, field="binding key")
        if "\x00" in binding_key:
            return None
        rows = await self._fetch(q.SELECT_LATEST_SESSION, (binding_key,))
        return session_from_record(rows[0]) if rows else None

    async def list_sessions(self, query: ListQuery) -> SessionPage:
        """One page of sessions matching every filter of `query`, ties broken by id."""
        rows = await self._fetch(*select_sessions(query))
        items = [session_from_record(row) for row in rows[: query.limit]]
        next_cursor = cursor_after(query, items[-1]) if len(rows) > query.limit else None
        return SessionPage(items=items, next_cursor=next_cursor)

    async def update_session(self, session_id: UUID, changes: SessionChanges) -> Session:
        """Apply `changes` in one transaction and bump updated_at."""
        columns = changes.columns()
        check_storable({name.replace("_", " "): v for name, v in columns.items() if type(v) is str})
        tags = UNSET if changes.tags is UNSET else _checked_tags(changes.tags)
        async with self._transaction() as conn:
            current = await self._fetch_session(conn, session_id)
            if changes.metadata is not None or changes.replace_metadata:
                columns["metadata_text"] = metadata_json(
                    merged_metadata(
                        current.metadata, changes.metadata or {}, replace=changes.replace_metadata
                    )
                )
            if tags is not UNSET:
                columns["tags"] = tags
            return await self._update(conn, session_id, columns)

    async def retag(
        self, session_id: UUID, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Session:
        """Add and remove tags in one transaction (removing wins for a tag in both)."""
        added = _checked_tags(add)
        removed = set(_checked_tags(remove))
        async with self._transaction() as conn:
            current = await self._fetch_session(conn, session_id)
            tags = normalize_tags([*current.tags, *added])
            kept = [tag for tag in tags if tag not in removed]
            return await self._update(conn, session_id, {"tags": kept})

    async def follow_persona(
        self, session_id: UUID, *, situation: str, persona_version: str, render_templates: bool
    ) -> Session:
        """Move a session that follows its persona to the persona's current version."""
        check_storable({"situation": situation, "persona version": persona_version})
        columns = {
            "situation": situation,
            "persona_version": persona_version,
            "render_templates": render_templates,
        }
        async with self._pool.acquire() as conn:
            return await self._update(conn, session_id, columns)

    async def fold_summary(self, session_id: UUID, *, summary: str, through: int) -> Session:
        """Record a new summary covering every message up to and including id `through`."""
        check_storable({"summary": summary})
        async with self._pool.acquire() as conn:
            return await self._update(
                conn, session_id, {"summary": summary, "summarized_through": through}
            )

    async def end_session(self, session_id: UUID) -> Session:
        """Mark the session ended (idempotent); it keeps its binding key and messages."""
        rows = await self._fetch(q.END_SESSION, (utc_now(), session_id))
        if not rows:
            return await self.get_session(session_id)
        log.debug("ended session %s", session_id)
        return session_from_record(rows[0])

    async def bind_session(
        self, session_id: UUID, binding_key: str, *, expected_key: str | Unset | None = UNSET
    ) -> Session:
        """Attach an active session to `binding_key` (moving it from any previous key).

        With `expected_key`, only if the session is still where the caller last saw it
        (BindingMoved otherwise): the check and the move are one transaction, with the
        session's row locked, so two processes attaching the same session cannot both succeed.
        """
        check_storable({"binding key": binding_key})
        async with self._transaction() as conn:
            current = await self._fetch_session(conn, session_id)
            if current.status is SessionStatus.ENDED:
                raise SessionEnded(session_id)
            if expected_key is not UNSET and current.binding_key != expected_key:
                raise BindingMoved(session_id)
            if current.binding_key == binding_key:
                return current
            if (conflict := await _held_elsewhere(conn, binding_key)) is not None:
                raise conflict
            try:
                async with conn.transaction():  # a savepoint: a racing bind may still win
                    row = await conn.fetchrow(q.BIND_SESSION, binding_key, utc_now(), session_id)
            except asyncpg.UniqueViolationError as exc:
                conflict = await _held_elsewhere(conn, binding_key)
                if conflict is None:
                    raise
                raise conflict from exc
        assert row is not None
        return session_from_record(row)

    async def delete_session(self, session_id: UUID) -> None:
        """Delete the session and (by cascade) its messages."""
        rows = await self._fetch(q.DELETE_SESSION, (session_id,))
        if not rows:
            raise SessionNotFound(session_id)

    async def _update(self, conn: Conn, session_id: UUID, columns: Mapping[str, object]) -> Session:
        """UPDATE the given columns and updated_at on `conn`."""
        params = [*columns.values(), utc_now(), session_id]
        row = await conn.fetchrow(q.update_session_sql(columns), *params)
        if row is None:
            raise SessionNotFound(session_id)
        return session_from_record(row)


async def _held_elsewhere(conn: Conn, binding_key: str) -> BindingConflict | None:
    """BindingConflict naming the active session that holds `binding_key`, if one does."""
    holder = await conn.fetchval(q.SELECT_ACTIVE_SESSION, binding_key)
    return BindingConflict(binding_key, holder) if holder is not None else None
