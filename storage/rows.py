"""Conversions between SQLite rows / JSON text and the domain models."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from .errors import InvalidMetadata
from .models import Message, Session, from_micros

SESSION_COLUMNS = (
    "id, agent_id, user_id, situation, summary, metadata, render_templates, created_at,"
    " updated_at, tags, status, binding_key, persona_version, summarized_through"
)
MESSAGE_COLUMNS = (
    "id, session_id, role, author_id, author_name, content, created_at, external_id,"
    " tokens, tokens_source, reply_to"
)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, so equal values have equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """Check `metadata` is storable (and filterable) JSON and return its canonical text."""
    _check_json_value(dict(metadata), "metadata")
    return canonical_json(dict(metadata))


def _check_json_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidMetadata(f"{where} is {value}, which JSON cannot hold")
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_value(item, f"{where}[{index}]")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidMetadata(f"{where} has a non-string key {key!r}")
            _check_text(key, f"a key in {where}")
            _check_json_value(item, f"{where}[{key!r}]")
    else:
        raise InvalidMetadata(f"{where} is a {type(value).__name__}, which is not JSON")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidMetadata(f"{where} contains a NUL character")


def session_from_row(row: sqlite3.Row) -> Session:
    return Session(
        id=UUID(row["id"]),
        agent_id=row["agent_id"],
        user_id=row["user_id"],
        situation=row["situation"],
        summary=row["summary"],
        metadata=json.loads(row["metadata"]),
        render_templates=bool(row["render_templates"]),
        created_at=from_micros(row["created_at"]),
        updated_at=from_micros(row["updated_at"]),
        tags=json.loads(row["tags"]),
        status=row["status"],
        binding_key=row["binding_key"],
        persona_version=row["persona_version"],
        summarized_through=row["summarized_through"],
    )


def message_from_row(row: sqlite3.Row, session_id: UUID | None = None) -> Message:
    """Build a Message; pass `session_id` when the caller already holds it as a UUID."""
    return Message(
        id=row["id"],
        session_id=session_id or UUID(row["session_id"]),
        role=row["role"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        content=row["content"],
        created_at=from_micros(row["created_at"]),
        external_id=row["external_id"],
        tokens=row["tokens"],
        tokens_source=row["tokens_source"],
        reply_to=row["reply_to"],
    )


def merged_metadata(
    current: Mapping[str, Any], changes: Mapping[str, Any], *, replace: bool
) -> dict[str, Any]:
    """`current` updated key by key from `changes` (None removes a key), or replaced."""
    merged = {} if replace else dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def check_tokens(tokens: int, source: str) -> None:
    if tokens < 0:
        raise ValueError("tokens must not be negative")
    if source not in ("estimate", "usage"):
        raise ValueError(f"tokens_source must be 'estimate' or 'usage', not {source!r}")
