"""PostgreSQL's side of `sessionbot db copy` (see storage/copying.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from uuid import UUID

from ..copying import SideRow, Totals
from ..models import Message, Session, from_micros, to_micros
from ..rows import metadata_json
from .database import PostgresDatabase
from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS, check_storable, session_from_record

__all__ = ["PostgresCopy"]

_TOTALS: Final = (
    "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages),"
    " (SELECT count(*) FROM refused_messages), (SELECT count(*) FROM session_agents)"
    " + (SELECT count(*) FROM persona_defaults) + (SELECT count(*) FROM message_variants)"
)
# In id order, which for uuids is the order of their text, as in SQLite.
_FIRST_SESSIONS: Final = f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id LIMIT $1"  # noqa: S608
_SESSIONS_AFTER: Final = (
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id > $1 ORDER BY id LIMIT $2"  # noqa: S608
)
_INSERT_SESSION: Final = """
INSERT INTO sessions (id, agent_id, user_id, situation, summary, metadata_text, render_templates,
                      created_at, updated_at, tags, status, binding_key, persona_version,
                      summarized_through)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
_INSERT_MESSAGE: Final = f"""
INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""  # noqa: S608
_INSERT_REFUSED: Final = (
    "INSERT INTO refused_messages (message_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING"
)
# The side tables in the neutral shape of storage/copying.py (ids as text, timestamps as
# microseconds since the epoch); agents keep the order they joined in (`position`).
_SIDE_READ: Final = {
    "session_agents": "SELECT session_id::text, agent_id, added_at FROM session_agents"
    " ORDER BY session_id, position",
    "persona_defaults": "SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults"
    " ORDER BY scope_key",
    "message_variants": "SELECT message_id, idx, content, tokens, tokens_source, created_at,"
    " chosen FROM message_variants ORDER BY message_id, idx",
}
_SIDE_WRITE: Final = {
    "session_agents": "INSERT INTO session_agents (session_id, agent_id, added_at)"
    " VALUES ($1::uuid, $2, $3) ON CONFLICT DO NOTHING",
    "persona_defaults": "INSERT INTO persona_defaults (scope_key, persona_id, set_by, set_at)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    "message_variants": "INSERT INTO message_variants"
    " (message_id, idx, content, tokens, tokens_source, created_at, chosen)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
}
_SIDE_TIME: Final = {"session_agents": 2, "persona_defaults": 3, "message_variants": 5}
"""Which column of each side table is a timestamp."""

# New ids continue after the largest one copied (is_called false: that value is used next).
_CONTINUE_IDS: Final = """
SELECT setval(pg_get_serial_sequence('messages', 'id'),
              coalesce((SELECT max(id) FROM messages), 0) + 1, false)
"""


class PostgresCopy(PostgresDatabase):
    async def copy_totals(self) -> Totals:
        row = await self._pool.fetchrow(_TOTALS)
        assert row is not None
        return Totals(*(int(value) for value in row))

    async def sessions_after(self, after: UUID | None, limit: int) -> list[Session]:
        if after is None:
            rows = await self._fetch(_FIRST_SESSIONS, (limit,))
        else:
            rows = await self._fetch(_SESSIONS_AFTER, (after, limit))
        return [session_from_record(row) for row in rows]

    async def refused_ids(self) -> list[int]:
        rows = await self._fetch("SELECT message_id FROM refused_messages ORDER BY message_id")
        return [int(row[0]) for row in rows]

    async def write_copied(self, sessions: Sequence[Session], messages: Sequence[Message]) -> None:
        for m in messages:
            check_storable(
                {"message content": m.content, "author id": m.author_id,
                 "author name": m.author_name, "external id": m.external_id}
            )  # fmt: skip
        async with self._transaction() as conn:
            await conn.executemany(_INSERT_SESSION, [_session_row(s) for s in sessions])
            await conn.executemany(_INSERT_MESSAGE, [_message_row(m) for m in messages])

    async def write_refused(self, message_ids: Sequence[int]) -> None:
        await self._fetch(_INSERT_REFUSED, (list(message_ids),))

    async def side_rows(self, table: str) -> list[SideRow]:
        at = _SIDE_TIME[table]
        return [
            tuple(to_micros(value) if i == at else value for i, value in enumerate(row))
            for row in await self._fetch(_SIDE_READ[table])
        ]

    async def write_side_rows(self, table: str, rows: Sequence[SideRow]) -> None:
        at = _SIDE_TIME[table]
        records = [
            tuple(from_micros(int(value or 0)) if i == at else value for i, value in enumerate(row))
            for row in rows
        ]
        for row in rows:
            check_storable(
                {f"{table} column {i}": v for i, v in enumerate(row) if isinstance(v, str)}
            )
        async with self._transaction() as conn:
            await conn.executemany(_SIDE_WRITE[table], records)

    async def finish_copy(self) -> None:
        await self._fetch(_CONTINUE_IDS)


def _session_row(s: Session) -> tuple[object, ...]:
    check_storable(
        {"agent id": s.agent_id, "situation": s.situation, "user id": s.user_id,
         "summary": s.summary, "binding key": s.binding_key, "persona version": s.persona_version}
    )  # fmt: skip
    return (
        s.id, s.agent_id, s.user_id, s.situation, s.summary, metadata_json(s.metadata),
        s.render_templates, s.created_at, s.updated_at, list(s.tags), s.status.value,
        s.binding_key, s.persona_version, s.summarized_through,
    )  # fmt: skip


def _message_row(m: Message) -> tuple[object, ...]:
    return (
        m.id, m.session_id, m.role.value, m.author_id, m.author_name, m.content, m.created_at,
        m.external_id, m.tokens, m.tokens_source, m.reply_to,
    )  # fmt: skip
