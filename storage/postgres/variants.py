"""The alternatives of a reply in PostgreSQL, as `storage.variants` does it in SQLite."""

from __future__ import annotations

from typing import Final
from uuid import UUID

import asyncpg

from ..models import Message, TokensSource, utc_now
from ..rows import check_tokens
from ..variants import Variant
from .database import PostgresDatabase
from .rows import MESSAGE_COLUMNS, check_storable, message_from_record

__all__ = ["PostgresVariants"]

_VARIANT_COLUMNS: Final = "message_id, idx, content, tokens, tokens_source, created_at, chosen"
# Locks the message row, so two alternatives added at once get different indexes.
_LOCK_OWN_MESSAGE: Final = "SELECT id FROM messages WHERE session_id = $1 AND id = $2 FOR UPDATE"
_KEEP_ORIGINAL: Final = """
INSERT INTO message_variants (message_id, idx, content, tokens, tokens_source, created_at, chosen)
SELECT id, 0, content, tokens, tokens_source, created_at, true FROM messages
WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM message_variants WHERE message_id = $1)
"""
_INSERT_VARIANT: Final = f"""
INSERT INTO message_variants (message_id, idx, content, tokens, tokens_source, created_at, chosen)
SELECT $1, coalesce(max(idx) + 1, 0), $2, $3, $4, $5, false FROM message_variants
WHERE message_id = $1
RETURNING {_VARIANT_COLUMNS}
"""  # noqa: S608
_MARK_CHOSEN: Final = "UPDATE message_variants SET chosen = (idx = $1) WHERE message_id = $2"
_SELECT_VARIANT: Final = (
    f"SELECT {_VARIANT_COLUMNS} FROM message_variants WHERE message_id = $1 AND idx = $2"  # noqa: S608
)
_SHOW_VARIANT: Final = f"""
UPDATE messages SET content = $1, tokens = $2, tokens_source = $3 WHERE id = $4
RETURNING {MESSAGE_COLUMNS}
"""  # noqa: S608
_SELECT_VARIANTS: Final = f"""
SELECT {_VARIANT_COLUMNS} FROM message_variants
WHERE message_id = (SELECT id FROM messages WHERE session_id = $1 AND id = $2)
ORDER BY idx
"""  # noqa: S608


def _variant(row: asyncpg.Record) -> Variant:
    return Variant(
        message_id=row["message_id"],
        idx=row["idx"],
        content=row["content"],
        tokens=row["tokens"],
        tokens_source=row["tokens_source"],
        created_at=row["created_at"],
        chosen=row["chosen"],
    )


class PostgresVariants(PostgresDatabase):
    """Alternatives of stored messages (see `storage.variants`)."""

    async def add_variant(
        self,
        session_id: UUID,
        message_id: int,
        *,
        content: str,
        tokens: int,
        tokens_source: TokensSource = "estimate",
        choose: bool = True,
    ) -> Variant | None:
        """Store another alternative of a message (chosen, unless `choose` is False); None if
        the session holds no such message."""
        check_tokens(tokens, tokens_source)
        check_storable({"message content": content})
        async with self._transaction() as conn:
            if await conn.fetchval(_LOCK_OWN_MESSAGE, session_id, message_id) is None:
                return None
            await conn.execute(_KEEP_ORIGINAL, message_id)
            row = await conn.fetchrow(
                _INSERT_VARIANT, message_id, content, tokens, tokens_source, utc_now()
            )
            assert row is not None
            added = _variant(row)
            if choose:
                await conn.execute(_MARK_CHOSEN, added.idx, message_id)
                await conn.execute(_SHOW_VARIANT, content, tokens, tokens_source, message_id)
                added = added.model_copy(update={"chosen": True})
        return added

    async def choose_variant(self, session_id: UUID, message_id: int, idx: int) -> Message | None:
        """Make alternative `idx` the message's text; None if there is no such alternative."""
        async with self._transaction() as conn:
            if await conn.fetchval(_LOCK_OWN_MESSAGE, session_id, message_id) is None:
                return None
            row = await conn.fetchrow(_SELECT_VARIANT, message_id, idx)
            if row is None:
                return None
            chosen = _variant(row)
            await conn.execute(_MARK_CHOSEN, idx, message_id)
            shown = await conn.fetchrow(
                _SHOW_VARIANT, chosen.content, chosen.tokens, chosen.tokens_source, message_id
            )
        assert shown is not None
        return message_from_record(shown)

    async def variants(self, session_id: UUID, message_id: int) -> list[Variant]:
        """Every alternative of a message, by index; [] for a message that has none."""
        rows = await self._fetch(_SELECT_VARIANTS, (session_id, message_id))
        return [_variant(row) for row in rows]
