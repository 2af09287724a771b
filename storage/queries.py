"""The fixed SQL statements used by SessionStore (every value is a bound parameter)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .rows import MESSAGE_COLUMNS, SESSION_COLUMNS

# Sessions ---------------------------------------------------------------------------------

INSERT_SESSION: Final = f"""
INSERT INTO sessions (id, agent_id, user_id, situation, summary, metadata, render_templates,
                      created_at, updated_at, tags, status, binding_key, persona_version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608 - column list is a constant

SELECT_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"  # noqa: S608

SELECT_ACTIVE_SESSION: Final = (
    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE binding_key = ? AND status = 'active'"  # noqa: S608
)

SELECT_LATEST_SESSION: Final = f"""
SELECT {SESSION_COLUMNS} FROM sessions WHERE binding_key = ?
ORDER BY created_at DESC, id DESC LIMIT 1
"""  # noqa: S608

END_SESSION: Final = f"""
UPDATE sessions SET status = 'ended', updated_at = max(updated_at, ?)
WHERE id = ? AND status = 'active'
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608

BIND_SESSION: Final = f"""
UPDATE sessions SET binding_key = ?, updated_at = max(updated_at, ?)
WHERE id = ?
RETURNING {SESSION_COLUMNS}
"""  # noqa: S608

DELETE_SESSION: Final = "DELETE FROM sessions WHERE id = ? RETURNING id"

SESSION_EXISTS: Final = "SELECT 1 FROM sessions WHERE id = ?"

FORGET_SUMMARY: Final = """
UPDATE sessions SET summary = NULL, summarized_through = NULL, updated_at = max(updated_at, ?)
WHERE id = ?
"""

# Messages ---------------------------------------------------------------------------------

# One statement on the hot path: triggers check the session and bump its updated_at. A reply
# (?10 set) is stored only while the message it answers is still there (history may be cleared
# or the message deleted while the reply was being written).
INSERT_MESSAGE: Final = f"""
INSERT INTO messages (session_id, role, author_id, author_name, content, created_at,
                      external_id, tokens, tokens_source, reply_to)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
WHERE ?10 IS NULL OR EXISTS (SELECT 1 FROM messages WHERE id = ?10 AND session_id = ?1)
ON CONFLICT (session_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
RETURNING {MESSAGE_COLUMNS}
"""  # noqa: S608

SELECT_MESSAGE_BY_EXTERNAL_ID: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND external_id = ?"  # noqa: S608
)

SELECT_MESSAGE: Final = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE session_id = ? AND id = ?"  # noqa: S608

# The newest message that came from elsewhere (has an external id): a front end's catch-up point.
LATEST_EXTERNAL_MESSAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = ? AND external_id IS NOT NULL
ORDER BY id DESC LIMIT 1
"""  # noqa: S608

# The assistant message answering message ?2 (stored after it, so the range scan is short).
REPLY_TO_MESSAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = ?1 AND id > ?2 AND reply_to = ?2 AND role = 'assistant'
ORDER BY id LIMIT 1
"""  # noqa: S608

# True once message ?2 needs no answer: a reply to it is stored, or a limit refused it.
MESSAGE_SETTLED: Final = """
SELECT EXISTS (SELECT 1 FROM messages
               WHERE session_id = ?1 AND id > ?2 AND reply_to = ?2 AND role = 'assistant')
    OR EXISTS (SELECT 1 FROM refused_messages WHERE message_id = ?2) AS settled
"""

REFUSE_MESSAGE: Final = "INSERT OR IGNORE INTO refused_messages (message_id) VALUES (?)"

# Parameters: session id, after (exclusive), before (exclusive), limit. Newest first.
RECENT_HISTORY: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = ? AND id > ? AND id < ?
ORDER BY id DESC
LIMIT ?
"""  # noqa: S608

# Parameters: session id, after (exclusive), before (exclusive), limit. Oldest first: one keyset
# page of a whole-history read.
MESSAGE_PAGE: Final = f"""
SELECT {MESSAGE_COLUMNS} FROM messages
WHERE session_id = ? AND id > ? AND id < ?
ORDER BY id
LIMIT ?
"""  # noqa: S608

HISTORY_SIZE: Final = """
SELECT count(*) AS n,
       coalesce(sum(length(CAST(content AS BLOB)) + coalesce(length(CAST(author_name AS BLOB)), 0)
                    + coalesce(length(CAST(author_id AS BLOB)), 0)), 0) AS text_bytes
FROM messages WHERE session_id = ?
"""

COUNT_MESSAGES: Final = """
SELECT (SELECT count(*) FROM messages WHERE session_id = ?1) AS n,
       EXISTS (SELECT 1 FROM sessions WHERE id = ?1) AS found
"""

MESSAGE_COUNTS: Final = """
SELECT session_id, count(*) AS n FROM messages
WHERE session_id IN (SELECT value FROM json_each(?))
GROUP BY session_id
"""

EDIT_MESSAGE: Final = f"""
UPDATE messages SET content = ?, tokens = ?, tokens_source = 'estimate'
WHERE session_id = ? AND external_id = ?
RETURNING {MESSAGE_COLUMNS}
"""  # noqa: S608

DELETE_MESSAGE: Final = "DELETE FROM messages WHERE session_id = ? AND external_id = ? RETURNING id"

SESSIONS_HOLDING: Final = """
SELECT s.id FROM sessions AS s
JOIN messages AS m ON m.session_id = s.id AND m.external_id = ?
WHERE s.binding_key = ?
ORDER BY s.created_at
"""

CLEAR_HISTORY: Final = "DELETE FROM messages WHERE session_id = ?"

UPDATE_MESSAGE_TOKENS: Final = (
    "UPDATE messages SET tokens = ?, tokens_source = ? WHERE id = ? RETURNING id"
)

# Columns update_session may set; anything else is a programming error.
_UPDATABLE: Final = frozenset(
    {
        "summary", "situation", "persona_version", "summarized_through", "agent_id", "user_id",
        "render_templates", "metadata", "tags",
    }
)  # fmt: skip


def update_session_sql(columns: Iterable[str]) -> str:
    """UPDATE setting `columns`, then updated_at; parameters: values, now, session id."""
    columns = list(columns)
    unknown = set(columns) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update session columns {sorted(unknown)}")
    assignments = "".join(f"{column} = ?, " for column in columns)
    return (
        f"UPDATE sessions SET {assignments}updated_at = max(updated_at, ?) "  # noqa: S608
        f"WHERE id = ? RETURNING {SESSION_COLUMNS}"
    )
