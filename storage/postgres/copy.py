"""PostgreSQL's side of `sessionbot db copy` (see storage/copying.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from uuid import UUID

from ..copying import Totals
from ..models import Message, Session
from ..rows import metadata_json
from .database import PostgresDatabase
from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS, check_storable, session_from_record

__all__ = ["PostgresCopy"]

_TOTALS: Final = (
    "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages),"
    " (SELECT count(*) FROM refused_messages)"
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
# New ids continue after the largest one copied (is_called false: that value is used next).
_CONTINUE_IDS: Final = """
SELECT setval(pg_get_serial_sequence('messages', 'id'),
              coalesce((SELECT max(id) FROM messages), 0) + 1, false)
"""


class PostgresCopy(PostgresDatabase):
    async def copy_totals(self) -> Totals:
        row = await self._pool.fetchrow(_TOTALS)
        assert row is not None
        return Totals(int(row[0]), int(row[1]), int(row[2]))

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
