"""Conversions between SQLite rows / JSON text and the domain models."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from typing import Any, Final
from uuid import UUID

import orjson

from .limits import MAX_JSON_DEPTH, check_json, check_text, json_depth
from .models import Message, Session, from_micros

SESSION_COLUMNS = (
    "id, agent_id, user_id, situation, summary, metadata, render_templates, created_at,"
    " updated_at, tags, status, binding_key, persona_version, summarized_through"
)
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


def _stored_tags(text: str) -> list[str]:
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


def session_from_row(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],  # pydantic reads the UUID text in Rust
        agent_id=row["agent_id"],
        user_id=row["user_id"],
        situation=row["situation"],
        summary=row["summary"],
        metadata=stored_metadata(row["metadata"]),
        render_templates=bool(row["render_templates"]),
        created_at=from_micros(row["created_at"]),
        updated_at=from_micros(row["updated_at"]),
        tags=_stored_tags(row["tags"]),
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
