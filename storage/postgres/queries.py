"""The fixed SQL statements of PostgresStore (every value is a bound parameter)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS

# Sessions ---------------------------------------------------------------------------------

INSERT_SESSION: Final = f"""
INSERT INTO sessions (id, agent_id, user_id, situation, summary, metadata_text, render_templates,
                      created_at, updated_at, tags, status, binding_key, persona_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, 'active', $10, $11)
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608 - column list is a constant

SELECT_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"  # noqa: S608
SELECT_SESSION_FOR_UPDATE: Final = SELECT_SESSION + " FOR NO KEY UPDATE"

SELECT_ACTIVE_SESSION: Final = (
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE binding_key = $1 AND status = 'active'"  # noqa: S608
)

SELECT_LATEST_SESSION: Final = f"""
SELECT {SESSION_COLUMNS} FROM sessions WHERE binding_key = $1
ORDER BY created_at DESC, id DESC LIMIT 1
"""  # noqa: S608

END_SESSION: Final = f"""
UPDATE sessions SET status = 'ended', updated_at = greatest(updated_at, $1)
WHERE id = $2 AND status = 'active'
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608

BIND_SESSION: Final = f"""
UPDATE sessions SET binding_key = $1, updated_at = greatest(updated_at, $2)
WHERE id = $3
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608

DELETE_SESSION: Final = "DELETE FROM sessions WHERE id = $1 RETURNING id"

SESSION_EXISTS: Final = "SELECT 1 FROM sessions WHERE id = $1"

FORGET_SUMMARY: Final = """
UPDATE sessions SET summary = NULL, summarized_through = NULL,
                    updated_at = greatest(updated_at, $1)
WHERE id = $2
"""

COUNT_ACTIVE: Final = "SELECT count(*) FROM sessions WHERE status = 'active'"

# Messages ---------------------------------------------------------------------------------

# One statement on the hot path: lock the session row, store the message only while the session
# is active (and, for a reply, while the message it answers is still there), bump updated_at.
# Returns one row: the session's status (NULL: no such session) and the stored message, if any.
INSERT_MESSAGE: Final = f"""
WITH target AS (
    SELECT status FROM sessions WHERE id = $1 FOR NO KEY UPDATE
), inserted AS (
    INSERT INTO messages (session_id, role, author_id, author_name, content, created_at,
                          external_id, tokens, tokens_source, reply_to)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
    FROM target
    WHERE target.status = 'active'
      AND ($10::bigint IS NULL
           OR EXISTS (SELECT 1 FROM messages WHERE id = $10 AND session_id = $1))
    ON CONFLICT (session_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING {MESSAGE_COLUMNS}
), touched AS (
    UPDATE sessions SET updated_at = greatest(updated_at, $6)
    WHERE id = $1 AND EXISTS (SELECT 1 FROM inserted)
)
SELECT (SELECT status FROM target) AS session_status, inserted.*
FROM (VALUES (1)) AS one LEFT JOIN inserted ON true
"""  # noqa: S608

SELECT_MESSAGE_BY_EXTERNAL_ID: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND external_id = $2"  # noqa: S608
)

SELECT_MESSAGE: Final = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = $1 AND id = $2"  # noqa: S608

LATEST_EXTERNAL_MESSAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = $1 AND external_id IS NOT NULL
ORDER BY id DESC LIMIT 1
"""  # noqa: S608

REPLY_TO_MESSAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = $1 AND id > $2 AND reply_to = $2 AND role = 'assistant'
ORDER BY id LIMIT 1
"""  # noqa: S608

MESSAGE_SETTLED: Final = """
SELECT EXISTS (SELECT 1 FROM messages
               WHERE session_id = $1 AND id > $2 AND reply_to = $2 AND role = 'assistant')
    OR EXISTS (SELECT 1 FROM refused_messages WHERE message_id = $2) AS settled
"""

REFUSE_MESSAGE: Final = (
    "INSERT INTO refused_messages (message_id) VALUES ($1) ON CONFLICT (message_id) DO NOTHING"
)

# Parameters: session id, after (exclusive), before (exclusive), limit. Newest first.
RECENT_HISTORY: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = $1 AND id > $2 AND id < $3
ORDER BY id DESC
LIMIT $4
"""  # noqa: S608

# Parameters: session id, after (exclusive), before (exclusive), limit. Oldest first.
MESSAGE_PAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = $1 AND id > $2 AND id < $3
ORDER BY id
LIMIT $4
"""  # noqa: S608

HISTORY_SIZE: Final = """
SELECT count(*) AS n,
       coalesce(sum(octet_length(content) + coalesce(octet_length(author_name), 0)
                    + coalesce(octet_length(author_id), 0)), 0) AS text_bytes
FROM messages WHERE session_id = $1
"""

COUNT_MESSAGES: Final = """
SELECT (SELECT count(*) FROM messages WHERE session_id = $1) AS n,
       EXISTS (SELECT 1 FROM sessions WHERE id = $1) AS found
"""

MESSAGE_COUNTS: Final = """
SELECT session_id, count(*) AS n FROM messages
WHERE session_id = ANY ($1::uuid[])
GROUP BY session_id
"""

EDIT_MESSAGE: Final = f"""
UPDATE messages SET content = $1, tokens = $2, tokens_source = 'estimate'
WHERE session_id = $3 AND external_id = $4
RETURNING {MESSAGE_COLUMNS}
"""  # noqa: S608

DELETE_MESSAGE: Final = (
    "DELETE FROM messages WHERE session_id = $1 AND external_id = $2 RETURNING id"
)

SESSIONS_HOLDING: Final = """
SELECT s.id FROM sessions AS s
JOIN messages AS m ON m.session_id = s.id AND m.external_id = $1
WHERE s.binding_key = $2
ORDER BY s.created_at
"""

CLEAR_HISTORY: Final = "DELETE FROM messages WHERE session_id = $1"

UPDATE_MESSAGE_TOKENS: Final = (
    "UPDATE messages SET tokens = $1, tokens_source = $2 WHERE id = $3 RETURNING id"
)

# The database itself ----------------------------------------------------------------------

EXPECTED_RELATIONS: Final = (
    "sessions", "messages", "refused_messages", "sessionbot_schema", "sessions_active_binding",
    "sessions_metadata", "sessions_tags", "messages_by_session", "messages_external_id",
    "messages_usage",
)  # fmt: skip

MISSING_RELATIONS: Final = """
SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL ORDER BY name
"""

READ_EVERY_TABLE: Final = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM sessions LIMIT 1) AS s)
     + (SELECT count(*) FROM (SELECT 1 FROM messages LIMIT 1) AS m)
     + (SELECT count(*) FROM (SELECT 1 FROM refused_messages LIMIT 1) AS r)
"""

# Columns update_session may set; anything else is a programming error.
_UPDATABLE: Final = frozenset(
    {
        "summary", "situation", "persona_version", "summarized_through", "agent_id", "user_id",
        "render_templates", "metadata_text", "tags",
    }
)  # fmt: skip


def update_session_sql(columns: Iterable[str]) -> str:
    """UPDATE setting `columns`, then updated_at; parameters: values, now, session id."""
    columns = list(columns)
    unknown = set(columns) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update session columns {sorted(unknown)}")
    assignments = "".join(f"{column} = ${n}, " for n, column in enumerate(columns, start=1))
    now, session = len(columns) + 1, len(columns) + 2
    return (
        f"UPDATE sessions SET {assignments}updated_at = greatest(updated_at, ${now}) "  # noqa: S608
        f"WHERE id = ${session} RETURNING {SESSION_COLUMNS}"
    )
