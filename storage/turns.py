"""A message's way through a front end, each step in one round trip to the store.

A message arrives (`arrival`: the place's active session, its personas, and whether a session
there stores the message already; given the message, it is stored there in the same round
trip when it is new and the place has an active session), then it is answered (`turn_state`:
the session, whether the message is settled, the drafts left in the session, its personas
and its recent history). On SQLite each is one thread hop (its statements in one
transaction); on PostgreSQL one statement, or two for a turn (see `storage.postgres.turns`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from uuid import UUID

from . import queries as q
from .cast import SELECT_SESSION_AGENTS
from .connection import is_busy
from .drafts import SELECT_SESSION_DRAFTS, ReplyDraft, draft_from_row
from .errors import SessionEnded, SessionNotFound
from .limits import check_texts
from .message_store import MessageStore
from .models import Message, Role, Session, to_micros, utc_now
from .rows import MESSAGE_COLUMNS, check_tokens, message_from_row, session_from_row

__all__ = ["Arrival", "NewMessage", "SqliteTurns", "TurnState", "check_new"]

MAX_ID: Final = 2**63 - 1
_UNDECODABLE: Final = "Could not decode to UTF-8"


@dataclass(frozen=True)
class Arrival:
    """What a front end needs to know of a message arriving at a binding key."""

    session: Session | None
    """The key's active session, if any."""
    seen: bool
    """True if a session at the key (active or ended) stores the message already."""
    others: tuple[str, ...] = ()
    """The active session's personas besides its main one, in the order they joined."""
    stored: Message | None = None
    """The message as stored in the active session, when it was given, new and stored."""


@dataclass(frozen=True)
class NewMessage:
    """A person's message to store as it arrives (its external id is the arrival's)."""

    content: str
    author_id: str | None
    author_name: str | None
    tokens: int


def check_new(message: NewMessage, external_id: str) -> None:
    """The checks `append_message` makes of a user message, before anything is stored."""
    check_tokens(message.tokens, "estimate")
    check_texts(
        {"message content": message.content, "author id": message.author_id,
         "author name": message.author_name, "external id": external_id}
    )  # fmt: skip


@dataclass(frozen=True)
class TurnState:
    """What answering stored message `message_id` starts from, read at once."""

    session: Session
    settled: bool
    """True if the message needs no answer: a reply to it is stored, or a limit refused it."""
    drafts: tuple[ReplyDraft, ...]
    """Every draft of the session's replies (while holding the session: a dead process's)."""
    others: tuple[str, ...]
    """The session's personas besides its main one, in the order they joined."""
    history: tuple[Message, ...]
    """The newest `limit` messages after the session's summary and before `before`, oldest
    first."""
    limit: int
    before: int | None = None


# Parameters: session id, before (exclusive), limit. Newest first, after the summary.
_TURN_HISTORY: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = ?1 AND id < ?2
  AND id > (SELECT coalesce(summarized_through, 0) FROM sessions WHERE id = ?1)
ORDER BY id DESC
LIMIT ?3
"""  # noqa: S608 - column list is a constant
_ACTIVE_AGENTS: Final = """
SELECT agent_id FROM session_agents
WHERE session_id = (SELECT id FROM sessions WHERE binding_key = ? AND status = 'active')
ORDER BY rowid
"""


def _arrive(
    conn: sqlite3.Connection, binding_key: str, external_id: str, message: Sequence[Any]
) -> tuple[list[sqlite3.Row], ...]:
    """`arrival` storing `message` (the INSERT's parameters after the session id), in one
    transaction; in the worker thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        active = conn.execute(q.SELECT_ACTIVE_SESSION, (binding_key,)).fetchall()
        holding = conn.execute(q.SESSIONS_HOLDING, (external_id, binding_key)).fetchall()
        agents = conn.execute(_ACTIVE_AGENTS, (binding_key,)).fetchall()
        stored = []
        if active and not holding:
            stored = conn.execute(q.INSERT_MESSAGE, (active[0]["id"], *message)).fetchall()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return active, holding, agents, stored


class SqliteTurns(MessageStore):
    """`arrival` and `turn_state` in SQLite: one hop each."""

    async def arrival(
        self, binding_key: str, external_id: str, *, store: NewMessage | None = None
    ) -> Arrival:
        """The active session at `binding_key` (with its other personas), and whether a
        session there, active or ended, stores message `external_id` already. With `store`,
        the message is stored in the active session too if it is new there (`stored`)."""
        if store is not None:
            return await self._arrive(binding_key, external_id, store)
        async with self._lock:
            active, holding, agents = await self._read(
                [
                    (q.SELECT_ACTIVE_SESSION, (binding_key,)),
                    (q.SESSIONS_HOLDING, (external_id, binding_key)),
                    (_ACTIVE_AGENTS, (binding_key,)),
                ]
            )
        return Arrival(
            session=session_from_row(active[0]) if active else None,
            seen=bool(holding),
            others=tuple(str(row["agent_id"]) for row in agents),
        )

    async def _arrive(self, binding_key: str, external_id: str, new: NewMessage) -> Arrival:
        check_new(new, external_id)
        params = (
            Role.USER.value, new.author_id, new.author_name, new.content, to_micros(utc_now()),
            external_id, new.tokens, "estimate", None,
        )  # fmt: skip
        try:
            async with self._lock:
                active, holding, agents, stored = await self._in_worker(
                    lambda conn: _arrive(conn, binding_key, external_id, params)
                )
        except sqlite3.OperationalError as exc:
            if not (is_busy(exc) or str(exc).startswith(_UNDECODABLE)):
                raise
            return await self._arrive_slowly(binding_key, external_id, new)
        session = session_from_row(active[0]) if active else None
        return Arrival(
            session=session,
            seen=bool(holding),
            others=tuple(str(row["agent_id"]) for row in agents),
            stored=message_from_row(stored[0], session.id) if stored and session else None,
        )

    async def _arrive_slowly(self, binding_key: str, external_id: str, new: NewMessage) -> Arrival:
        """`_arrive` in separate steps, each waiting out a busy database on its own."""
        arrival = await self.arrival(binding_key, external_id)
        if arrival.session is None or arrival.seen:
            return arrival
        try:
            stored = await self.append_message(
                arrival.session.id, role=Role.USER, content=new.content,
                author_id=new.author_id, author_name=new.author_name,
                external_id=external_id, tokens=new.tokens,
            )  # fmt: skip
        except SessionEnded:  # ended meanwhile
            return arrival
        return replace(arrival, stored=stored)

    async def turn_state(
        self, session_id: UUID, message_id: int, *, limit: int, before: int | None = None
    ) -> TurnState:
        """Everything a reply to stored message `message_id` starts from (see `TurnState`);
        SessionNotFound if there is no such session."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        sid = str(session_id)
        high = before if before is not None else MAX_ID
        async with self._lock:
            session, settled, drafts, agents, history = await self._read(
                [
                    (q.SELECT_SESSION, (sid,)),
                    (q.MESSAGE_SETTLED, (sid, message_id)),
                    (SELECT_SESSION_DRAFTS, (sid,)),
                    (SELECT_SESSION_AGENTS, (sid,)),
                    (_TURN_HISTORY, (sid, high, limit)),
                ]
            )
        if not session:
            raise SessionNotFound(session_id)
        return TurnState(
            session=session_from_row(session[0]),
            settled=bool(settled[0]["settled"]),
            drafts=tuple(draft_from_row(session_id, row) for row in drafts),
            others=tuple(str(row["agent_id"]) for row in agents),
            history=tuple(message_from_row(row, session_id) for row in reversed(history)),
            limit=limit,
            before=before,
        )
