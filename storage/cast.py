"""Several personas in one session, and the persona each place starts with (SQLite).

A session's main persona is its `agent_id`; the others (`session_agents`) are listed in the
order they joined. A place's default persona (`persona_defaults`) is kept under a scope key the
front end chooses; `persona_defaults(scope)` lists a scope and every key nested under it
(`<scope>/...`), so a server's keys can hold its channels' keys.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .limits import check_texts
from .models import from_micros, to_micros, utc_now
from .sqlite import SqliteDatabase

__all__ = ["SELECT_SESSION_AGENTS", "PersonaDefault", "SqliteCast", "nested_range"]


class PersonaDefault(BaseModel):
    """The persona a place starts with, who set it and when."""

    model_config = ConfigDict(frozen=True)

    scope_key: str
    persona_id: str
    set_by: str | None
    set_at: datetime


def nested_range(scope: str) -> tuple[str, str]:
    """Bounds of the keys nested under `scope`: `scope + "/"` <= key < `scope + "0"`
    ("0" is the character after "/"), a range both backends answer from their index."""
    return scope + "/", scope + "0"


SELECT_SESSION_AGENTS: Final = (
    "SELECT agent_id FROM session_agents WHERE session_id = ? ORDER BY rowid"
)
_MANY_AGENTS: Final = """
SELECT session_id, agent_id FROM session_agents
WHERE session_id IN (SELECT value FROM json_each(?))
ORDER BY rowid
"""
_ADD: Final = """
INSERT INTO session_agents (session_id, agent_id, added_at) VALUES (?, ?, ?)
ON CONFLICT (session_id, agent_id) DO NOTHING
"""
_REMOVE: Final = "DELETE FROM session_agents WHERE session_id = ? AND agent_id = ?"
_SET_DEFAULT: Final = """
INSERT INTO persona_defaults (scope_key, persona_id, set_by, set_at) VALUES (?, ?, ?, ?)
ON CONFLICT (scope_key) DO UPDATE
SET persona_id = excluded.persona_id, set_by = excluded.set_by, set_at = excluded.set_at
"""
_CLEAR_DEFAULT: Final = "DELETE FROM persona_defaults WHERE scope_key = ?"
_DEFAULTS_OF: Final = """
SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults
WHERE scope_key IN (SELECT value FROM json_each(?))
"""
_DEFAULTS_UNDER: Final = """
SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults
WHERE scope_key = ? OR (scope_key >= ? AND scope_key < ?)
ORDER BY scope_key
"""


def _default(row: sqlite3.Row) -> PersonaDefault:
    return PersonaDefault(
        scope_key=row["scope_key"], persona_id=row["persona_id"], set_by=row["set_by"],
        set_at=from_micros(row["set_at"]),
    )  # fmt: skip


class SqliteCast(SqliteDatabase):
    """The personas of sessions and the defaults of places, in SQLite."""

    async def session_agents(self, session_id: UUID) -> list[str]:
        """The session's personas besides its main one, in the order they joined."""
        rows = await self._query(SELECT_SESSION_AGENTS, (str(session_id),))
        return [str(row["agent_id"]) for row in rows]

    async def sessions_agents(self, session_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
        """`session_agents` for many sessions in one query ([] for sessions with none)."""
        found: dict[UUID, list[str]] = {session_id: [] for session_id in session_ids}
        wanted = json.dumps([str(session_id) for session_id in found])
        for row in await self._query(_MANY_AGENTS, (wanted,)):
            found[UUID(row["session_id"])].append(str(row["agent_id"]))
        return found

    async def add_session_agent(self, session_id: UUID, agent_id: str) -> list[str]:
        """Add a persona to the session (once); return the session's other personas now."""
        check_texts({"agent id": agent_id})
        async with self._transaction():
            await self._require_session(session_id)
            await self._run(_ADD, (str(session_id), agent_id, to_micros(utc_now())))
            rows = await self._run(SELECT_SESSION_AGENTS, (str(session_id),))
        return [str(row["agent_id"]) for row in rows]

    async def remove_session_agent(self, session_id: UUID, agent_id: str) -> list[str]:
        """Take a persona out of the session (nothing if it was not in); return the rest."""
        async with self._transaction():
            await self._require_session(session_id)
            await self._run(_REMOVE, (str(session_id), agent_id))
            rows = await self._run(SELECT_SESSION_AGENTS, (str(session_id),))
        return [str(row["agent_id"]) for row in rows]

    async def set_persona_default(
        self, scope_key: str, persona_id: str | None, *, set_by: str | None = None
    ) -> None:
        """Make `persona_id` the persona `scope_key` starts with (None: forget the default)."""
        check_texts({"scope key": scope_key, "persona id": persona_id, "set by": set_by})
        if persona_id is None:
            await self._query(_CLEAR_DEFAULT, (scope_key,))
            return
        await self._query(_SET_DEFAULT, (scope_key, persona_id, set_by, to_micros(utc_now())))

    async def persona_default(self, scope_keys: Sequence[str]) -> PersonaDefault | None:
        """The default of the first of `scope_keys` that has one (e.g. channel, then server)."""
        rows = await self._query(_DEFAULTS_OF, (json.dumps(list(scope_keys)),))
        found = {str(row["scope_key"]): row for row in rows}
        for key in scope_keys:
            if key in found:
                return _default(found[key])
        return None

    async def persona_defaults(self, scope: str) -> list[PersonaDefault]:
        """The defaults of `scope` and of every key nested under it, by key."""
        low, high = nested_range(scope)
        rows = await self._query(_DEFAULTS_UNDER, (scope, low, high))
        return [_default(row) for row in rows]
