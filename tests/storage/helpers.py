"""Small helpers for the storage tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from storage import Message, Role, Session, SessionStore


async def new_session(store: SessionStore, **fields: Any) -> Session:
    """Create a session with sensible defaults for the fields a test does not care about."""
    fields.setdefault("agent_id", "sara")
    fields.setdefault("situation", "You are Sara, a careful educator.")
    return await store.create_session(**fields)


async def say(store: SessionStore, session: Session, content: str, **fields: Any) -> Message:
    """Append a user message with a token estimate."""
    fields.setdefault("role", Role.USER)
    fields.setdefault("tokens", len(content.split()))
    return await store.append_message(session.id, content=content, **fields)


def raw_query(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a separate plain sqlite3 connection (to look under the store)."""
    connection = sqlite3.connect(db_path)
    try:
        with connection:
            return connection.execute(sql, params).fetchall()
    finally:
        connection.close()
