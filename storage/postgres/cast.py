"""Several personas in one session, and the persona each place starts with (PostgreSQL).

The same behaviour as SQLite's `storage.cast`; see there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final
from uuid import UUID

import asyncpg

from ..cast import PersonaDefault, nested_range
from ..models import utc_now
from .database import PostgresDatabase
from .rows import check_storable

__all__ = ["PostgresCast"]

_AGENTS: Final = "SELECT agent_id FROM session_agents WHERE session_id = $1 ORDER BY position"
_MANY_AGENTS: Final = """
SELECT session_id, agent_id FROM session_agents
WHERE session_id = ANY ($1::uuid[])
ORDER BY position
"""
_ADD: Final = """
INSERT INTO session_agents (session_id, agent_id, added_at) VALUES ($1, $2, $3)
ON CONFLICT (session_id, agent_id) DO NOTHING
"""
_REMOVE: Final = "DELETE FROM session_agents WHERE session_id = $1 AND agent_id = $2"
_SET_DEFAULT: Final = """
INSERT INTO persona_defaults (scope_key, persona_id, set_by, set_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (scope_key) DO UPDATE
SET persona_id = excluded.persona_id, set_by = excluded.set_by, set_at = excluded.set_at
"""
_CLEAR_DEFAULT: Final = "DELETE FROM persona_defaults WHERE scope_key = $1"
_DEFAULTS_OF: Final = """
SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults
WHERE scope_key = ANY ($1::text[])
"""
_DEFAULTS_UNDER: Final = """
SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults
WHERE scope_key = $1 OR (scope_key >= $2 AND scope_key < $3)
ORDER BY scope_key
"""


def _default(row: asyncpg.Record) -> PersonaDefault:
    return PersonaDefault(
        scope_key=row["scope_key"], persona_id=row["persona_id"], set_by=row["set_by"],
        set_at=row["set_at"],
    )  # fmt: skip


class PostgresCast(PostgresDatabase):
    """The personas of sessions and the defaults of places, in PostgreSQL."""

    async def session_agents(self, session_id: UUID) -> list[str]:
        """The session's personas besides its main one, in the order they joined."""
        rows = await self._fetch(_AGENTS, (session_id,))
        return [str(row["agent_id"]) for row in rows]

    async def sessions_agents(self, session_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
        """`session_agents` for many sessions in one query ([] for sessions with none)."""
        found: dict[UUID, list[str]] = {session_id: [] for session_id in session_ids}
        for row in await self._fetch(_MANY_AGENTS, (list(found),)):
            found[row["session_id"]].append(str(row["agent_id"]))
        return found

    async def add_session_agent(self, session_id: UUID, agent_id: str) -> list[str]:
        """Add a persona to the session (once); return the session's other personas now."""
        check_storable({"agent id": agent_id})
        async with self._transaction() as conn:
            await self._require_session(conn, session_id)
            await conn.execute(_ADD, session_id, agent_id, utc_now())
            rows = await conn.fetch(_AGENTS, session_id)
        return [str(row["agent_id"]) for row in rows]

    async def remove_session_agent(self, session_id: UUID, agent_id: str) -> list[str]:
        """Take a persona out of the session (nothing if it was not in); return the rest."""
        check_storable({"agent id": agent_id})
        async with self._transaction() as conn:
            await self._require_session(conn, session_id)
            await conn.execute(_REMOVE, session_id, agent_id)
            rows = await conn.fetch(_AGENTS, session_id)
        return [str(row["agent_id"]) for row in rows]

    async def set_persona_default(
        self, scope_key: str, persona_id: str | None, *, set_by: str | None = None
    ) -> None:
        """Make `persona_id` the persona `scope_key` starts with (None: forget the default)."""
        check_storable({"scope key": scope_key, "persona id": persona_id, "set by": set_by})
        if persona_id is None:
            await self._fetch(_CLEAR_DEFAULT, (scope_key,))
            return
        await self._fetch(_SET_DEFAULT, (scope_key, persona_id, set_by, utc_now()))

    async def persona_default(self, scope_keys: Sequence[str]) -> PersonaDefault | None:
        """The default of the first of `scope_keys` that has one (e.g. channel, then server)."""
        check_storable({f"scope key {i}": key for i, key in enumerate(scope_keys)})
        rows = await self._fetch(_DEFAULTS_OF, (list(scope_keys),))
        found = {str(row["scope_key"]): row for row in rows}
        for key in scope_keys:
            if key in found:
                return _default(found[key])
        return None

    async def persona_defaults(self, scope: str) -> list[PersonaDefault]:
        """The defaults of `scope` and of every key nested under it, by key."""
        check_storable({"scope": scope})
        low, high = nested_range(scope)
        return [_default(row) for row in await self._fetch(_DEFAULTS_UNDER, (scope, low, high))]
