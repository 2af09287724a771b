"""SessionStore: sessions and their messages in one SQLite file, over one aiosqlite connection."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID, uuid4

from . import queries as q
from .cast import SqliteCast
from .drafts import SqliteDrafts
from .errors import (
    BindingConflict,
    BindingMoved,
    DuplicateSession,
    SessionEnded,
    SessionNotFound,
    StorageError,
)
from .health import StoreHealth
from .limits import check_text, check_texts
from .listing import ListQuery, SqliteListing, encode_cursor, select_sessions
from .message_store import MessageStore
from .models import (
    UNSET,
    Session,
    SessionChanges,
    SessionPage,
    SessionStatus,
    Unset,
    normalize_tags,
    to_micros,
    utc_now,
)
from .rows import merged_metadata, metadata_json, session_from_row, tags_json
from .sqlite_copy import SqliteCopy
from .turns import SqliteTurns
from .variants import VariantStore

__all__ = ["SessionStore"]

log = logging.getLogger(__name__)


class SessionStore(
    StoreHealth,
    SqliteCopy,
    SqliteCast,
    SqliteTurns,
    MessageStore,
    VariantStore,
    SqliteDrafts,
    SqliteListing,
):
    """Async session store over one SQLite file (see `Store` for the interface)."""

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
        check_texts(
            {"agent id": agent_id, "situation": situation, "user id": user_id, "summary": summary,
             "binding key": binding_key, "persona version": persona_version}
        )  # fmt: skip
        params = (
            str(new_id), agent_id, user_id, situation, summary, metadata_json(metadata or {}),
            int(render_templates), now, now, tags_json(normalize_tags(tags)), binding_key,
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

    async def latest_session(self, binding_key: str) -> Session | None:
        """The newest session ever bound to `binding_key`, active or ended."""
        rows = await self._query(q.SELECT_LATEST_SESSION, (binding_key,))
        return session_from_row(rows[0]) if rows else None

    async def list_sessions(self, query: ListQuery) -> SessionPage:
        """One page of sessions matching every filter of `query`, ties broken by id."""
        rows = await self._query(*select_sessions(query))
        page = rows[: query.limit]
        next_cursor = None
        if len(rows) > query.limit:
            last = page[-1]
            next_cursor = encode_cursor(query.order_by, last[query.order_by], last["id"])
        return SessionPage(items=[session_from_row(row) for row in page], next_cursor=next_cursor)

    async def update_session(self, session_id: UUID, changes: SessionChanges) -> Session:
        """Apply `changes` in one transaction and bump updated_at."""
        columns = changes.columns()
        check_texts({name.replace("_", " "): v for name, v in columns.items() if type(v) is str})
        tags = UNSET if changes.tags is UNSET else tags_json(normalize_tags(changes.tags))
        async with self._transaction():
            current = await self._fetch_session(session_id)
            if changes.metadata is not None or changes.replace_metadata:
                columns["metadata"] = metadata_json(
                    merged_metadata(
                        current.metadata, changes.metadata or {}, replace=changes.replace_metadata
                    )
                )
            if tags is not UNSET:
                columns["tags"] = tags
            return await self._update(session_id, columns)

    async def retag(
        self, session_id: UUID, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Session:
        """Add and remove tags in one transaction (removing wins for a tag in both)."""
        added = normalize_tags(add)
        removed = set(normalize_tags(remove))
        tags_json([*added, *removed])
        async with self._transaction():
            current = await self._fetch_session(session_id)
            tags = normalize_tags([*current.tags, *added])
            return await self._update(
                session_id, {"tags": tags_json([tag for tag in tags if tag not in removed])}
            )

    async def follow_persona(
        self, session_id: UUID, *, situation: str, persona_version: str, render_templates: bool
    ) -> Session:
        """Move a session that follows its persona to the persona's current version."""
        check_texts({"situation": situation, "persona version": persona_version})
        columns = {
            "situation": situation,
            "persona_version": persona_version,
            "render_templates": render_templates,
        }
        async with self._lock:
            return await self._update(session_id, columns)

    async def fold_summary(self, session_id: UUID, *, summary: str, through: int) -> Session:
        """Record a new summary covering every message up to and including id `through`."""
        check_text(summary, field="summary")
        async with self._lock:
            return await self._update(
                session_id, {"summary": summary, "summarized_through": through}
            )

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
        check_text(binding_key, field="binding key")
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

    async def _update(self, session_id: UUID, columns: Mapping[str, object]) -> Session:
        """UPDATE the given columns and updated_at; the caller holds the lock."""
        values = [int(v) if isinstance(v, bool) else v for v in columns.values()]
        params = [*values, to_micros(utc_now()), str(session_id)]
        rows = await self._run(q.update_session_sql(columns), params)
        if not rows:
            raise SessionNotFound(session_id)
        return session_from_row(rows[0])

    async def _active_id(self, binding_key: str) -> UUID | None:
        rows = await self._run(q.SELECT_ACTIVE_SESSION, (binding_key,))
        return UUID(rows[0]["id"]) if rows else None
