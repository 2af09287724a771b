"""SQLite's side of `sessionbot db copy` (see storage/copying.py): reading everything in id order
and writing sessions and messages exactly as given, ids and timestamps included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from uuid import UUID

from .copying import SideRow, Totals
from .models import Message, Session, SessionStatus, to_micros
from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS, metadata_json, session_from_row, tags_json
from .sqlite import SqliteDatabase

__all__ = ["SqliteCopy"]

_TOTALS: Final = (
    "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages),"
    " (SELECT count(*) FROM refused_messages), (SELECT count(*) FROM session_agents)"
    " + (SELECT count(*) FROM persona_defaults) + (SELECT count(*) FROM message_variants)"
)
_SESSIONS_AFTER: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
# Sessions arrive active and unbound, so that the message triggers accept their messages and
# two sessions of one conversation never look active together; _SETTLE gives each its own.
_INSERT_SESSION: Final = """
INSERT INTO sessions (id, agent_id, user_id, situation, summary, metadata, render_templates,
                      created_at, updated_at, tags, status, binding_key, persona_version,
                      summarized_through)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, ?, ?)
"""
_INSERT_MESSAGE: Final = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
_SETTLE: Final = "UPDATE sessions SET status = ?, binding_key = ?, updated_at = ? WHERE id = ?"
_INSERT_REFUSED: Final = "INSERT OR IGNORE INTO refused_messages (message_id) VALUES (?)"
# The side tables in the neutral shape of storage/copying.py: timestamps are stored as
# microseconds already; `chosen` goes over as a boolean. Agents keep the order they joined in.
_SIDE_READ: Final = {
    "session_agents": "SELECT session_id, agent_id, added_at FROM session_agents"
    " ORDER BY session_id, rowid",
    "persona_defaults": "SELECT scope_key, persona_id, set_by, set_at FROM persona_defaults"
    " ORDER BY scope_key",
    "message_variants": "SELECT message_id, idx, content, tokens, tokens_source, created_at,"
    " chosen FROM message_variants ORDER BY message_id, idx",
}
_SIDE_WRITE: Final = {
    "session_agents": "INSERT OR IGNORE INTO session_agents (session_id, agent_id, added_at)"
    " VALUES (?, ?, ?)",
    "persona_defaults": "INSERT OR IGNORE INTO persona_defaults"
    " (scope_key, persona_id, set_by, set_at) VALUES (?, ?, ?, ?)",
    "message_variants": "INSERT OR IGNORE INTO message_variants"
    " (message_id, idx, content, tokens, tokens_source, created_at, chosen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)",
}


class SqliteCopy(SqliteDatabase):
    async def copy_totals(self) -> Totals:
        rows = await self._query(_TOTALS)
        return Totals(*(int(value) for value in rows[0]))

    async def sessions_after(self, after: UUID | None, limit: int) -> list[Session]:
        rows = await self._query(_SESSIONS_AFTER, ("" if after is None else str(after), limit))
        return [session_from_row(row) for row in rows]

    async def refused_ids(self) -> list[int]:
        rows = await self._query("SELECT message_id FROM refused_messages ORDER BY message_id")
        return [int(row[0]) for row in rows]

    async def write_copied(self, sessions: Sequence[Session], messages: Sequence[Message]) -> None:
        async with self._transaction():
            await self._db.executemany(_INSERT_SESSION, [_session_row(s) for s in sessions])
            await self._db.executemany(_INSERT_MESSAGE, [_message_row(m) for m in messages])
            settled = [
                (SessionStatus(s.status).value, s.binding_key, to_micros(s.updated_at), str(s.id))
                for s in sessions
            ]
            await self._db.executemany(_SETTLE, settled)

    async def write_refused(self, message_ids: Sequence[int]) -> None:
        async with self._transaction():
            await self._db.executemany(_INSERT_REFUSED, [(i,) for i in message_ids])

    async def side_rows(self, table: str) -> list[SideRow]:
        rows = await self._query(_SIDE_READ[table])
        if table == "message_variants":
            return [(*row[:6], bool(row[6])) for row in rows]
        return [tuple(row) for row in rows]

    async def write_side_rows(self, table: str, rows: Sequence[SideRow]) -> None:
        async with self._transaction():
            await self._db.executemany(_SIDE_WRITE[table], rows)

    async def finish_copy(self) -> None:
        """Nothing to do: AUTOINCREMENT already continues after the largest id written."""


def _session_row(s: Session) -> tuple[object, ...]:
    return (
        str(s.id), s.agent_id, s.user_id, s.situation, s.summary, metadata_json(s.metadata),
        int(s.render_templates), to_micros(s.created_at), to_micros(s.updated_at),
        tags_json(s.tags), s.persona_version, s.summarized_through,
    )  # fmt: skip


def _message_row(m: Message) -> tuple[object, ...]:
    return (
        m.id, str(m.session_id), m.role.value, m.author_id, m.author_name, m.content,
        to_micros(m.created_at), m.external_id, m.tokens, m.tokens_source, m.reply_to,
    )  # fmt: skip
