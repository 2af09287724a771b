"""Conversions between SQLite rows / JSON text and the domain models."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import orjson

from .limits import MAX_JSON_DEPTH, check_json, check_text, json_depth
from .models import Message, Session, from_micros

SESSION_FIELDS: Final = (
    "id", "agent_id", "user_id", "situation", "summary", "metadata", "render_templates",
    "created_at", "updated_at", "tags", "status", "binding_key", "persona_version",
    "summarized_through",
)  # fmt: skip
"""The columns of a session row, in the order `session_from_row` reads them by position."""
SESSION_COLUMNS: Final = ", ".join(SESSION_FIELDS)
UNREADABLE_TAG: Final = "_unreadable"
"""Shown in place of a stored tag list that is not a JSON array of strings."""
MESSAGE_COLUMNS = (
    "id, session_id, role, author_id, author_name, content, created_at, external_id,"
    " tokens, tokens_source, reply_to"
)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, so equal values have equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """Check `metadata` is storable (and filterable) JSON and return its canonical text."""
    value = dict(metadata)
    check_json(value, field="metadata")
    return canonical_json(value)


def tags_json(tags: list[str]) -> str:
    """The stored text of normalised tags, each checked to be valid Unicode."""
    for tag in tags:
        check_text(tag, field="tag")
    return json.dumps(tags)


_LONG_NUMBER: Final = re.compile(r"\d{19}")
"""A run of digits orjson might read as a float rather than an integer (beyond 64 bits)."""


def _fast_json(text: str) -> Any:
    """`json.loads(text)` for the usual stored text, through orjson; None when only the standard
    library reads it the same (NaN, unpaired surrogates, integers beyond 64 bits, bad text)."""
    if _LONG_NUMBER.search(text):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def stored_metadata(text: str) -> dict[str, Any]:
    """The metadata of a stored row; a row no version of the store could read is shown as such."""
    value = _fast_json(text)
    if type(value) is dict and text.count("{") + text.count("[") <= MAX_JSON_DEPTH:
        return value
    return _checked_metadata(text)


def _checked_metadata(text: str) -> dict[str, Any]:
    """The metadata of a stored row; a row no version of the store could read is shown as such."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {"_unreadable": f"the stored metadata is not JSON sessionbot can read ({exc})"}
    if not isinstance(value, dict):
        return {"_unreadable": "the stored metadata is not a JSON object"}
    if json_depth(value) > MAX_JSON_DEPTH:
        return {"_unreadable": f"the stored metadata nests deeper than {MAX_JSON_DEPTH} levels"}
    return value


def stored_tags(text: str) -> list[str]:
    """The tags of a stored row; a list no version of the store could read is shown as such."""
    if text == "[]":
        return []
    value = _fast_json(text)
    if type(value) is list and all(type(tag) is str for tag in value):
        return value
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return [UNREADABLE_TAG]
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        return [UNREADABLE_TAG]
    return value


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def stored_moment(micros: int) -> datetime:
    """`models.from_micros` by positional arguments, which Python reads a little faster (a
    page of sessions reads two per row)."""
    return _EPOCH + timedelta(0, 0, micros)


def session_from_row(row: sqlite3.Row) -> Session:
    """The session of a `SESSION_COLUMNS` row. Pydantic reads the id and status text itself
    (in Rust: faster than building the UUID and the enum here, and as strict)."""
    return Session.model_validate(
        {
            "id": row[0],
            "agent_id": row[1],
            "user_id": row[2],
            "situation": row[3],
            "summary": row[4],
            "metadata": stored_metadata(row[5]),
            "render_templates": row[6],
            "created_at": stored_moment(row[7]),
            "updated_at": stored_moment(row[8]),
            "tags": stored_tags(row[9]),
            "status": row[10],
            "binding_key": row[11],
            "persona_version": row[12],
            "summarized_through": row[13],
        }
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
