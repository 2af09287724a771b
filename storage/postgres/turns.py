"""`arrival` and `turn_state` in PostgreSQL (see `storage.turns`): one statement each (an
arrival storing the message too, when given)."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from ..drafts import ReplyDraft
from ..errors import SessionNotFound
from ..limits import check_texts
from ..models import Message, Role, utc_now
from ..turns import MAX_ID, Arrival, NewMessage, TurnState, check_new
from .database import PostgresDatabase
from .rows import (
    MESSAGE_COLUMNS,
    SESSION_COLUMNS,
    check_storable,
    session_from_record,
)

__all__ = ["PostgresTurns"]

_S_COLUMNS: Final = ", ".join(f"s.{name.strip()}" for name in SESSION_COLUMNS.split(","))
_AGENTS_OF_S: Final = (
    "ARRAY(SELECT a.agent_id FROM session_agents AS a WHERE a.session_id = s.id"
    " ORDER BY a.position) AS agents"
)
# Parameters: binding key, external id. One row; the session's columns are NULL without one.
_ARRIVAL: Final = f"""
SELECT {_S_COLUMNS}, {_AGENTS_OF_S},
       EXISTS (SELECT 1 FROM sessions AS h
               JOIN messages AS m ON m.session_id = h.id AND m.external_id = $2
               WHERE h.binding_key = $1) AS seen
FROM (SELECT 1) AS one
LEFT JOIN sessions AS s ON s.binding_key = $1 AND s.status = 'active'
"""  # noqa: S608 - column lists are constants
# Parameters: binding key, external id, author id, author name, content, created at, tokens.
# As _ARRIVAL, storing the message in the active session (its row locked, as INSERT_MESSAGE
# does) unless a session at the key stores it already; the stored message's id comes back.
_ARRIVE: Final = f"""
WITH active AS (
    SELECT {_S_COLUMNS}, {_AGENTS_OF_S} FROM sessions AS s
    WHERE s.binding_key = $1 AND s.status = 'active'
    FOR NO KEY UPDATE
), seen AS (
    SELECT EXISTS (SELECT 1 FROM sessions AS h
                   JOIN messages AS m ON m.session_id = h.id AND m.external_id = $2
                   WHERE h.binding_key = $1) AS seen
), inserted AS (
    INSERT INTO messages (session_id, role, author_id, author_name, content, created_at,
                          external_id, tokens, tokens_source)
    SELECT active.id, 'user', $3, $4, $5, $6, $2, $7, 'estimate'
    FROM active, seen WHERE NOT seen.seen
    ON CONFLICT (session_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id AS stored_id, created_at AS stored_at
), touched AS (
    UPDATE sessions SET updated_at = greatest(updated_at, $6)
    WHERE id = (SELECT id FROM active) AND EXISTS (SELECT 1 FROM inserted)
)
SELECT active.*, seen.seen, inserted.stored_id, inserted.stored_at
FROM seen LEFT JOIN active ON true LEFT JOIN inserted ON true
"""  # noqa: S608 - column lists are constants
# As queries.MESSAGE_SETTLED: a reply to message $2 is stored, or a limit refused it.
_SETTLED: Final = """
EXISTS (SELECT 1 FROM messages
        WHERE session_id = $1 AND id > $2 AND reply_to = $2 AND role = 'assistant')
OR EXISTS (SELECT 1 FROM refused_messages WHERE message_id = $2)
"""
_M_COLUMNS: Final = ", ".join(f"m.{name.strip()}" for name in MESSAGE_COLUMNS.split(","))
_MESSAGE_FIELDS: Final = tuple(name.strip() for name in MESSAGE_COLUMNS.split(","))
# Parameters: session id, message id, before (exclusive), limit. One row; the drafts and the
# history (newest first) as arrays of anonymous records, which asyncpg reads as tuples.
_TURN: Final = f"""
SELECT {_S_COLUMNS}, {_AGENTS_OF_S}, ({_SETTLED}) AS settled,
       ARRAY(SELECT ROW(d.message_id, d.target, d.posted, d.updated_at)
             FROM reply_drafts AS d WHERE d.session_id = s.id
             ORDER BY d.message_id) AS drafts,
       ARRAY(SELECT ROW({_M_COLUMNS})
             FROM messages AS m
             WHERE m.session_id = s.id AND m.id < $3
               AND m.id > coalesce(s.summarized_through, 0)
             ORDER BY m.id DESC
             LIMIT $4) AS history
FROM sessions AS s WHERE s.id = $1
"""  # noqa: S608 - column lists and the settled test are constants


class PostgresTurns(PostgresDatabase):
    """`arrival` and `turn_state` in PostgreSQL."""

    async def arrival(
        self, binding_key: str, external_id: str, *, store: NewMessage | None = None
    ) -> Arrival:
        """The active session at `binding_key` (with its other personas), and whether a
        session there, active or ended, stores message `external_id` already. With `store`,
        the message is stored in the active session too if it is new there (`stored`)."""
        check_texts({"binding key": binding_key, "external id": external_id})
        if store is not None:
            check_new(store, external_id)
            check_storable(
                {"message content": store.content, "author id": store.author_id,
                 "author name": store.author_name}
            )  # fmt: skip
        if "\x00" in binding_key + external_id:
            return Arrival(session=None, seen=False)  # no stored key or id holds one
        if store is None:
            row = (await self._fetch(_ARRIVAL, (binding_key, external_id)))[0]
        else:
            params = (
                binding_key, external_id, store.author_id, store.author_name, store.content,
                utc_now(), store.tokens,
            )  # fmt: skip
            row = (await self._fetch(_ARRIVE, params))[0]
        if row["id"] is None:
            return Arrival(session=None, seen=bool(row["seen"]))
        session = session_from_record(row)
        stored = None
        if store is not None and row["stored_id"] is not None:
            stored = Message(
                id=row["stored_id"], session_id=session.id, role=Role.USER,
                author_id=store.author_id, author_name=store.author_name,
                content=store.content, created_at=row["stored_at"], external_id=external_id,
                tokens=store.tokens, tokens_source="estimate",
            )  # fmt: skip
        return Arrival(
            session=session, seen=bool(row["seen"]), others=tuple(row["agents"]), stored=stored
        )

    async def turn_state(
        self, session_id: UUID, message_id: int, *, limit: int, before: int | None = None
    ) -> TurnState:
        """Everything a reply to stored message `message_id` starts from (see `TurnState`);
        SessionNotFound if there is no such session."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        high = before if before is not None else MAX_ID
        rows = await self._fetch(_TURN, (session_id, message_id, high, limit))
        if not rows:
            raise SessionNotFound(session_id)
        row = rows[0]
        return TurnState(
            session=session_from_record(row),
            settled=bool(row["settled"]),
            drafts=tuple(
                ReplyDraft(session_id, answering, target, tuple(posted), updated_at)
                for answering, target, posted, updated_at in row["drafts"]
            ),
            others=tuple(row["agents"]),
            history=tuple(
                Message(**dict(zip(_MESSAGE_FIELDS, message, strict=True)))
                for message in reversed(row["history"])
            ),
            limit=limit,
            before=before,
        )
