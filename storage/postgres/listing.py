"""Listing sessions and adding up usage in PostgreSQL: the same ListQuery and UsageQuery as
SQLite, with the same results. Only fixed SQL fragments are joined; every value is bound."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from ..errors import InvalidCursor
from ..listing import (
    STATUSES,
    ListedSession,
    ListQuery,
    SessionListing,
    check_list_query,
    decode_cursor,
    encode_cursor,
)
from ..models import Session, from_micros, normalize_tags, to_micros
from ..rows import canonical_json, stored_metadata
from ..usage import UsageQuery, key_range, select_usage_checks
from .database import PostgresDatabase
from .rows import SESSION_COLUMNS

__all__ = [
    "PostgresListing",
    "listed_from_record",
    "select_listing",
    "select_sessions",
    "select_tokens_since",
    "select_usage",
]

_ORDER_COLUMNS: dict[str, str] = {"created_at": "s.created_at", "updated_at": "s.updated_at"}
_DIRECTIONS: dict[str, tuple[str, str]] = {"asc": ("ASC", ">"), "desc": ("DESC", "<")}


class _Params:
    """Bound values, numbered $1, $2... in the order they are added."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


def select_sessions(query: ListQuery) -> tuple[str, list[Any]]:
    """The SELECT for `query` (fetching one extra row to tell whether a next page exists)."""
    return _select(query, SESSION_COLUMNS)


_OTHERS: Final = (
    "ARRAY(SELECT a.agent_id FROM session_agents AS a WHERE a.session_id = s.id"
    " ORDER BY a.position)"
)
"""A session's other personas, in the order they joined."""


def select_listing(query: ListQuery) -> tuple[str, list[Any]]:
    """`select_sessions`, each row followed by the session's other personas."""
    return _select(query, f"{SESSION_COLUMNS}, {_OTHERS}")


def _select(query: ListQuery, columns: str) -> tuple[str, list[Any]]:
    check_list_query(query)
    bind = _Params()
    conditions = _conditions(query, bind)
    column = _ORDER_COLUMNS[query.order_by]
    keyword, _ = _DIRECTIONS[query.direction]
    where = " AND ".join(conditions) or "true"
    limit, offset = bind(query.limit + 1), bind(query.offset)
    sql = (
        f"SELECT {columns} FROM sessions AS s WHERE {where} "  # noqa: S608 - fixed fragments
        f"ORDER BY {column} {keyword}, s.id {keyword} LIMIT {limit} OFFSET {offset}"
    )
    return sql, bind.values


def _unstorable(*texts: str | None) -> bool:
    """True if a filter value holds a NUL, which no stored text can (it would match nothing)."""
    return any(text is not None and "\x00" in text for text in texts)


def _conditions(query: ListQuery, bind: _Params) -> list[str]:
    tags = [*query.tags_any, *query.tags_all]
    if _unstorable(query.agent_id, query.user_id, query.key_prefix, *tags):
        return ["false"]
    conditions: list[str] = []
    for column, value in (
        ("s.agent_id", query.agent_id),
        ("s.user_id", query.user_id),
        ("s.status", query.status),
    ):
        if value is not None:
            conditions.append(f"{column} = {bind(str(value))}")
    if query.key_prefix is not None:
        conditions.append(f"starts_with(s.binding_key, {bind(query.key_prefix)})")
    wanted_any = normalize_tags(query.tags_any)
    if wanted_any:
        conditions.append(f"s.tags && {bind(wanted_any, '::text[]')}")
    wanted_all = normalize_tags(query.tags_all)
    if wanted_all:
        conditions.append(f"s.tags @> {bind(wanted_all, '::text[]')}")
    if query.metadata_filter:
        conditions.append(_metadata_condition(query.metadata_filter, bind))
    if query.cursor is not None:
        sort_value, session_id = _cursor(query)
        _, operator = _DIRECTIONS[query.direction]
        column = _ORDER_COLUMNS[query.order_by]
        conditions.append(f"({column}, s.id) {operator} ({bind(sort_value)}, {bind(session_id)})")
    return conditions


def _metadata_condition(wanted: Mapping[str, Any], bind: _Params) -> str:
    """Containment (`@>`, answered by the GIN index) narrows; for objects and arrays, which
    containment would match as subsets, an equality per key keeps the match exact."""
    parts = [f"s.metadata @> {bind(canonical_json(dict(wanted)), '::jsonb')}"]
    for key, value in wanted.items():
        if isinstance(value, Mapping | list | tuple):
            parts.append(
                f"s.metadata -> {bind(key, '::text')} = {bind(canonical_json(value), '::jsonb')}"
            )
    return " AND ".join(parts)


def _cursor(query: ListQuery) -> tuple[datetime, UUID]:
    assert query.cursor is not None
    sort_value, session_id = decode_cursor(query.cursor, query.order_by)
    try:
        return from_micros(sort_value), UUID(session_id)
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor from exc


def listed_from_record(row: asyncpg.Record) -> ListedSession:
    """The `ListedSession` of a `select_listing` record (columns by position)."""
    return ListedSession(
        str(row[0]), row[1], row[2], row[3], row[4], stored_metadata(row[5]), row[6], row[7],
        row[8], list(row[9]), STATUSES[row[10]], row[11], row[12], row[13], tuple(row[14]),
    )  # fmt: skip


class PostgresListing(PostgresDatabase):
    """Listings in PostgreSQL."""

    async def session_listing(self, query: ListQuery) -> SessionListing:
        """The page `list_sessions(query)` returns, read as `ListedSession`s, personas and all,
        in one query."""
        rows = await self._fetch(*select_listing(query))
        items = [listed_from_record(row) for row in rows[: query.limit]]
        next_cursor = cursor_after(query, items[-1]) if len(rows) > query.limit else None
        return SessionListing(items, next_cursor)


def cursor_after(query: ListQuery, last: Session | ListedSession) -> str:
    """The cursor of the page after one that ends with `last`."""
    sort_value = last.created_at if query.order_by == "created_at" else last.updated_at
    return encode_cursor(query.order_by, to_micros(sort_value), str(last.id))


_PERSON = "CASE WHEN m.role = 'user' THEN m.author_id ELSE q.author_id END"

_USAGE = f"""
SELECT rtrim(s.binding_key, '0123456789') AS key_group, s.agent_id AS agent_id, {_PERSON} AS person,
       count(*) FILTER (WHERE m.role = 'user') AS messages,
       count(*) FILTER (WHERE m.role = 'assistant') AS replies,
       sum(m.tokens) AS tokens
FROM sessions AS s
JOIN messages AS m ON m.session_id = s.id AND m.created_at >= $1
LEFT JOIN messages AS q ON q.id = m.reply_to AND m.role = 'assistant'
"""  # noqa: S608 - a constant expression

_TOKENS_SINCE = """
SELECT coalesce(sum(m.tokens), 0) AS tokens
FROM sessions AS s
JOIN messages AS m ON m.session_id = s.id AND m.created_at >= $1
WHERE s.binding_key >= $2 AND s.binding_key < $3
"""


def select_usage(query: UsageQuery) -> tuple[str, list[Any]]:
    """The grouped usage SELECT for `query`, rows in SQLite's GROUP BY order."""
    select_usage_checks(query)
    bind = _Params()
    bind(query.since)
    conditions: list[str] = []
    if _unstorable(query.key_prefix, query.agent_id, query.author_id):
        return f"{_USAGE}WHERE false GROUP BY 1, 2, 3", bind.values
    if query.key_prefix is not None:
        low, high = key_range(query.key_prefix)
        conditions.append(f"s.binding_key >= {bind(low)} AND s.binding_key < {bind(high)}")
    if query.agent_id is not None:
        conditions.append(f"s.agent_id = {bind(query.agent_id)}")
    if query.author_id is not None:
        conditions.append(f"{_PERSON} = {bind(query.author_id)}")
    where = f"WHERE {' AND '.join(conditions)}\n" if conditions else ""
    order = (
        "ORDER BY rtrim(s.binding_key, '0123456789') COLLATE \"C\" NULLS FIRST,"
        f' s.agent_id COLLATE "C", ({_PERSON}) COLLATE "C" NULLS FIRST'
    )
    return f"{_USAGE}{where}GROUP BY 1, 2, 3 {order}", bind.values


def select_tokens_since(key_prefix: str, since: datetime) -> tuple[str, list[Any]]:
    """The sum of the tokens stored at or after `since` in sessions under `key_prefix`."""
    select_usage_checks(UsageQuery(since=since, key_prefix=key_prefix))
    if _unstorable(key_prefix):
        return _TOKENS_SINCE + " AND false", [since, "", ""]
    return _TOKENS_SINCE, [since, *key_range(key_prefix)]
