"""Usage figures: messages, replies and tokens per server (key group), persona and person.

One grouped query reads every message since a moment, session by session, through the
covering index `messages_usage` (0005), so it never reads message text. A person's row counts
what they wrote and the replies that answered them (a greeting answers nobody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from .limits import check_texts
from .models import to_micros

__all__ = ["UsageQuery", "UsageRow", "key_range", "select_tokens_since", "select_usage",
           "select_usage_checks"]  # fmt: skip


@dataclass(frozen=True)
class UsageQuery:
    """What to add up: messages stored at or after `since`, narrowed by the filters given.

    key_prefix: sessions whose binding key starts with it (e.g. one server's conversations).
    author_id: only that person's messages and the replies to them.
    """

    since: datetime
    key_prefix: str | None = None
    agent_id: str | None = None
    author_id: str | None = None


class _Row(Protocol):
    """A result row by column name: sqlite3.Row and asyncpg's Record alike."""

    def __getitem__(self, key: str, /) -> Any: ...


class UsageRow(BaseModel):
    """The totals of one (key group, persona, person); person None: nobody's (greetings).

    `key_group` is the binding key without its trailing digits (a channel's id), so that every
    channel of one server shares a row; None for sessions bound to no conversation.
    """

    model_config = ConfigDict(frozen=True)

    key_group: str | None
    agent_id: str
    person: str | None
    messages: int
    replies: int
    tokens: int

    @classmethod
    def from_row(cls, row: _Row) -> UsageRow:
        """A row of the grouped usage SELECT (either store's row type)."""
        return cls(
            key_group=row["key_group"], agent_id=row["agent_id"], person=row["person"],
            messages=int(row["messages"]), replies=int(row["replies"]),
            tokens=int(row["tokens"]),
        )  # fmt: skip


_PERSON = "CASE WHEN m.role = 'user' THEN m.author_id ELSE q.author_id END"

_USAGE = f"""
SELECT rtrim(s.binding_key, '0123456789') AS key_group, s.agent_id AS agent_id, {_PERSON} AS person,
       sum(m.role = 'user') AS messages, sum(m.role = 'assistant') AS replies,
       sum(m.tokens) AS tokens
FROM sessions AS s
JOIN messages AS m INDEXED BY messages_usage ON m.session_id = s.id AND m.created_at >= ?
LEFT JOIN messages AS q ON q.id = m.reply_to AND m.role = 'assistant'
"""  # noqa: S608 - a constant expression

_TOKENS_SINCE = """
SELECT coalesce(sum(m.tokens), 0) AS tokens
FROM sessions AS s
JOIN messages AS m INDEXED BY messages_usage ON m.session_id = s.id AND m.created_at >= ?
WHERE s.binding_key >= ? AND s.binding_key < ?
"""


def key_range(prefix: str) -> tuple[str, str]:
    """The binding keys starting with `prefix`, as an index range [low, high)."""
    if not prefix:
        return "", "\U0010ffff"
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def select_usage(query: UsageQuery) -> tuple[str, list[Any]]:
    """The grouped usage SELECT for `query` and its parameters."""
    select_usage_checks(query)
    conditions: list[str] = []
    params: list[Any] = [to_micros(query.since)]
    if query.key_prefix is not None:
        conditions.append("s.binding_key >= ? AND s.binding_key < ?")
        params.extend(key_range(query.key_prefix))
    if query.agent_id is not None:
        conditions.append("s.agent_id = ?")
        params.append(query.agent_id)
    if query.author_id is not None:
        conditions.append(f"{_PERSON} = ?")
        params.append(query.author_id)
    where = f"WHERE {' AND '.join(conditions)}\n" if conditions else ""
    return f"{_USAGE}{where}GROUP BY 1, 2, 3", params


def select_usage_checks(query: UsageQuery) -> None:
    """InvalidText for a filter value that is not valid Unicode."""
    check_texts(
        {"key prefix": query.key_prefix, "agent id": query.agent_id, "author id": query.author_id}
    )


def select_tokens_since(key_prefix: str, since: datetime) -> tuple[str, list[Any]]:
    """The sum of the tokens stored at or after `since` in sessions under `key_prefix`."""
    check_texts({"key prefix": key_prefix})
    return _TOKENS_SINCE, [to_micros(since), *key_range(key_prefix)]
