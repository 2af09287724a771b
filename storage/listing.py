"""Listing sessions: the query object, keyset cursors, and its SQL for SQLite.

Only fixed SQL fragments are concatenated; every value is a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import InvalidCursor
from .limits import check_json, check_text, check_texts
from .models import SessionStatus, normalize_tags
from .rows import SESSION_COLUMNS, canonical_json

__all__ = [
    "Direction",
    "ListQuery",
    "OrderBy",
    "check_list_query",
    "decode_cursor",
    "encode_cursor",
    "select_sessions",
]

OrderBy = Literal["created_at", "updated_at"]
Direction = Literal["asc", "desc"]

_ORDER_COLUMNS: dict[str, str] = {"created_at": "s.created_at", "updated_at": "s.updated_at"}
_DIRECTIONS: dict[str, tuple[str, str]] = {"asc": ("ASC", ">"), "desc": ("DESC", "<")}


@dataclass(frozen=True)
class ListQuery:
    """Which sessions `list_sessions` returns, in which order, and which page of them.

    metadata_filter: exact JSON values per top-level key ("1234" is not 1234).
    key_prefix: binding keys that start with it, character for character.
    cursor: `next_cursor` of the previous page, with the same order_by and direction.
    """

    metadata_filter: Mapping[str, Any] = field(default_factory=dict)
    tags_any: Iterable[str] = ()
    tags_all: Iterable[str] = ()
    agent_id: str | None = None
    user_id: str | None = None
    status: SessionStatus | None = None
    key_prefix: str | None = None
    order_by: OrderBy = "created_at"
    direction: Direction = "desc"
    limit: int = 50
    cursor: str | None = None
    offset: int = 0


def select_sessions(query: ListQuery) -> tuple[str, list[Any]]:
    """The SELECT for `query` (fetching one extra row to tell whether a next page exists)."""
    check_list_query(query)
    conditions, params = _conditions(query)
    column = _ORDER_COLUMNS[query.order_by]
    keyword, _ = _DIRECTIONS[query.direction]
    where = " AND ".join(conditions) or "1"
    sql = (
        f"SELECT {SESSION_COLUMNS} FROM sessions AS s WHERE {where} "  # noqa: S608 - fixed fragments
        f"ORDER BY {column} {keyword}, s.id {keyword} LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit + 1, query.offset]


def check_list_query(query: ListQuery) -> None:
    """ValueError for an order, limit or offset out of range; refuse filter values no stored
    session could match (and SQLite could not bind)."""
    if query.order_by not in _ORDER_COLUMNS or query.direction not in _DIRECTIONS:
        raise ValueError(f"cannot order by {query.order_by!r} {query.direction!r}")
    if not 1 <= query.limit <= 1000 or query.offset < 0:
        raise ValueError("limit must be 1..1000 and offset must not be negative")
    check_json(dict(query.metadata_filter), field="metadata filter")
    check_texts(
        {"agent id": query.agent_id, "user id": query.user_id, "key prefix": query.key_prefix}
    )
    for tag in [*query.tags_any, *query.tags_all]:
        check_text(tag, field="tag")


def _conditions(query: ListQuery) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("s.agent_id", query.agent_id),
        ("s.user_id", query.user_id),
        ("s.status", query.status),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(str(value))
    if query.key_prefix is not None:
        conditions.append("s.binding_key GLOB ?")
        params.append(glob_prefix(query.key_prefix))
    _add_tag_conditions(query, conditions, params)
    for key, value in query.metadata_filter.items():
        condition, values = metadata_condition(key, value)
        conditions.append(condition)
        params.extend(values)
    _add_cursor_condition(query, conditions, params)
    return conditions, params


def _add_tag_conditions(query: ListQuery, conditions: list[str], params: list[Any]) -> None:
    wanted_any = normalize_tags(query.tags_any)
    if wanted_any:
        conditions.append(
            "s.id IN (SELECT t.session_id FROM session_tags AS t"
            " WHERE t.tag IN (SELECT value FROM json_each(?)))"
        )
        params.append(json.dumps(wanted_any))
    wanted_all = normalize_tags(query.tags_all)
    if wanted_all:
        conditions.append(
            "s.id IN (SELECT t.session_id FROM session_tags AS t"
            " WHERE t.tag IN (SELECT value FROM json_each(?))"
            " GROUP BY t.session_id HAVING count(*) = ?)"
        )
        params.extend([json.dumps(wanted_all), len(wanted_all)])


def _add_cursor_condition(query: ListQuery, conditions: list[str], params: list[Any]) -> None:
    if query.cursor is None:
        return
    sort_value, session_id = decode_cursor(query.cursor, query.order_by)
    _, operator = _DIRECTIONS[query.direction]
    conditions.append(f"({_ORDER_COLUMNS[query.order_by]}, s.id) {operator} (?, ?)")
    params.extend([sort_value, session_id])


def glob_prefix(prefix: str) -> str:
    """A GLOB pattern matching exactly the strings that start with `prefix`."""
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in prefix)
    return escaped + "*"


def metadata_condition(key: str, value: Any) -> tuple[str, list[Any]]:
    """SQL matching sessions whose metadata[key] is exactly the JSON value `value`.

    Reads the `session_metadata` index table (kept by triggers, see migration 0003). Keys are
    compared as bound strings (no JSON path: SQLite paths cannot spell every key), so any key
    works. Values compare with their JSON type, so the string "1234" never matches
    the number 1234 and true never matches 1; numbers compare by value (1 matches 1.0);
    objects and arrays compare as canonical JSON text (key order does not matter).
    """
    match_sql = "s.id IN (SELECT m.session_id FROM session_metadata AS m WHERE m.key = ? AND {})"
    if value is None or isinstance(value, bool):
        json_type = {None: "null", True: "true", False: "false"}[value]
        return match_sql.format("m.type = ?"), [key, json_type]
    if isinstance(value, int | float):
        return match_sql.format("m.type IN ('integer', 'real') AND m.atom = ?"), [key, value]
    if isinstance(value, str):
        return match_sql.format("m.type = 'text' AND m.atom = ?"), [key, value]
    if isinstance(value, Mapping | list | tuple):
        json_type = "object" if isinstance(value, Mapping) else "array"
        condition = "m.type = ? AND m.atom = json(?)"
        return match_sql.format(condition), [key, json_type, canonical_json(value)]
    raise TypeError(f"cannot filter metadata by a {type(value).__name__} value")


def encode_cursor(order_by: OrderBy, sort_value: int, session_id: str) -> str:
    payload = json.dumps([order_by, sort_value, session_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order_by: OrderBy) -> tuple[int, str]:
    """The (sort value, session id) a cursor points after; InvalidCursor if it is foreign."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidCursor from exc
    match payload:
        case [str() as kind, int() as sort_value, str() as session_id] if kind == order_by:
            return sort_value, session_id
    raise InvalidCursor
