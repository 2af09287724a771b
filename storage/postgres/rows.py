"""Conversions between asyncpg records and the domain models, and PostgreSQL's text rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import asyncpg

from ..errors import InvalidText
from ..limits import check_texts
from ..models import Message, Session
from ..rows import stored_metadata

__all__ = ["MESSAGE_COLUMNS", "SESSION_COLUMNS", "check_storable", "message_from_record",
           "session_from_record"]  # fmt: skip

SESSION_COLUMNS: Final = (
    "id, agent_id, user_id, situation, summary, metadata_text, render_templates, created_at,"
    " updated_at, tags, status, binding_key, persona_version, summarized_through"
)
MESSAGE_COLUMNS: Final = (
    "id, session_id, role, author_id, author_name, content, created_at, external_id,"
    " tokens, tokens_source, reply_to"
)


def check_storable(values: Mapping[str, str | None]) -> None:
    """check_texts, and InvalidText for a NUL character, which PostgreSQL text cannot hold."""
    check_texts(values)
    for field, value in values.items():
        if value is not None and "\x00" in value:
            raise InvalidText(
                field,
                f"contains a NUL character (U+0000) at character {value.index(chr(0))}, "
                "which PostgreSQL cannot store",
            )


def session_from_record(row: asyncpg.Record) -> Session:
    return Session(
        id=row["id"],
        agent_id=row["agent_id"],
        user_id=row["user_id"],
        situation=row["situation"],
        summary=row["summary"],
        metadata=stored_metadata(row["metadata_text"]),
        render_templates=row["render_templates"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        tags=list(row["tags"]),
        status=row["status"],
        binding_key=row["binding_key"],
        persona_version=row["persona_version"],
        summarized_through=row["summarized_through"],
    )


def message_from_record(row: asyncpg.Record) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        role=row["role"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        content=row["content"],
        created_at=row["created_at"],
        external_id=row["external_id"],
        tokens=row["tokens"],
        tokens_source=row["tokens_source"],
        reply_to=row["reply_to"],
    )
