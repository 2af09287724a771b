"""Listing sessions: the query object, keyset cursors, and its SQL for SQLite; and listings,
pages of sessions read for showing (`ListedSession`), with their personas, in one query.

Only fixed SQL fragments are concatenated; every value is a bound parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

import orjson

from .errors import InvalidCursor
from .limits import check_json, check_text, check_texts
from .models import SessionStatus, normalize_tags
from .rows import SESSION_COLUMNS, canonical_json, stored_metadata, stored_moment, stored_tags
from .sqlite import SqliteDatabase

__all__ = [
    "Direction",
    "ListQuery",
    "ListedSession",
    "OrderBy",
    "SessionListing",
    "SqliteListing",
    "check_list_query",
    "decode_cursor",
    "encode_cursor",
    "listed_from_row",
    "select_listing",
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
    return _select(query, SESSION_COLUMNS)


_OTHERS: Final = (
    "(SELECT json_group_array(json_array(a.rowid, a.agent_id)) FROM session_agents AS a"
    " WHERE a.session_id = s.id)"
)
"""A session's other personas as JSON [[rowid, agent id], ...]: the rowid says the order they
joined in, which an aggregate does not keep (SQLite before 3.44 has no ORDER BY inside one)."""


def select_listing(query: ListQuery) -> tuple[str, list[Any]]:
    """`select_sessions`, each row followed by the session's other personas (see `_OTHERS`)."""
    return _select(query, f"{SESSION_COLUMNS}, {_OTHERS}")


def _select(query: ListQuery, columns: str) -> tuple[str, list[Any]]:
    check_list_query(query)
    conditions, params = _conditions(query)
    column = _ORDER_COLUMNS[query.order_by]
    keyword, _ = _DIRECTIONS[query.direction]
    where = " AND ".join(conditions) or "1"
    sql = (
        f"SELECT {columns} FROM sessions AS s WHERE {where} "  # noqa: S608 - fixed fragments
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


class ListedSession(NamedTuple):
    """A session as a listing shows it: the fields of `Session`, with the same names and values,
    and `others`, the session's personas besides its main one in the order they joined.

    Read straight from the stored row, without pydantic validation (the store checked every
    value when it wrote it; text it cannot read back shows as `Session` shows it), and with the
    id as the text of the UUID (`str(Session.id)`) rather than a `UUID`: a page of 100 is read
    several times faster than as `Session` models plus a personas query.
    """

    id: str
    agent_id: str
    user_id: str | None
    situation: str
    summary: str | None
    metadata: dict[str, Any]
    render_templates: bool
    created_at: datetime
    updated_at: datetime
    tags: list[str]
    status: SessionStatus
    binding_key: str | None
    persona_version: str | None
    summarized_through: int | None
    others: tuple[str, ...]

    @property
    def follows_persona(self) -> bool:
        """See `Session.follows_persona`."""
        return self.persona_version is not None

    @property
    def agents(self) -> list[str]:
        """Every persona of the session, the main one first, then in the order they joined."""
        if not self.others:
            return [self.agent_id]
        return [self.agent_id, *(agent for agent in self.others if agent != self.agent_id)]


@dataclass(frozen=True)
class SessionListing:
    """One page of `session_listing`; pass `next_cursor` back to get the next page."""

    items: list[ListedSession]
    next_cursor: str | None


STATUSES: Final = {status.value: status for status in SessionStatus}
"""Stored status text -> SessionStatus, a dict lookup rather than the enum's slower call."""


def _others(text: str) -> tuple[str, ...]:
    if text == "[]":
        return ()
    return tuple(agent for _, agent in sorted(orjson.loads(text)))


def listed_from_row(row: sqlite3.Row) -> ListedSession:
    """The `ListedSession` of a `select_listing` row (columns by position, as `SESSION_FIELDS`)."""
    return ListedSession(
        row[0], row[1], row[2], row[3], row[4], stored_metadata(row[5]), bool(row[6]),
        stored_moment(row[7]), stored_moment(row[8]), stored_tags(row[9]), STATUSES[row[10]],
        row[11], row[12], row[13], _others(row[14]),
    )  # fmt: skip


class SqliteListing(SqliteDatabase):
    """Listings in SQLite."""

    async def session_listing(self, query: ListQuery) -> SessionListing:
        """The page `list_sessions(query)` returns, read as `ListedSession`s, personas and all,
        in one query."""
        rows = await self._query(*select_listing(query))
        next_cursor = None
        if len(rows) > query.limit:
            last = rows[query.limit - 1]
            next_cursor = encode_cursor(query.order_by, last[query.order_by], last["id"])
        return SessionListing([listed_from_row(row) for row in rows[: query.limit]], next_cursor)
