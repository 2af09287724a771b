"""The alternatives of a reply in SQLite: regenerated replies and alternate greetings.

The message row always holds the chosen alternative (its text and tokens), so everything that
reads messages (context, exports, usage) sees the chosen one and nothing else. The first
alternative added to a message also keeps the message's original text, as alternative 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .limits import check_text
from .models import Message, TokensSource, format_timestamp, from_micros, to_micros, utc_now
from .rows import MESSAGE_COLUMNS, check_tokens, message_from_row
from .sqlite import SqliteDatabase

__all__ = ["Variant", "VariantStore"]


class Variant(BaseModel):
    """One alternative text of a reply; `chosen` marks the one the message shows."""

    model_config = ConfigDict(frozen=True)

    message_id: int
    idx: int
    content: str
    tokens: int
    tokens_source: TokensSource
    created_at: datetime
    chosen: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "idx": self.idx,
            "content": self.content,
            "tokens": self.tokens,
            "tokens_source": self.tokens_source,
            "created_at": format_timestamp(self.created_at),
            "chosen": self.chosen,
        }


_VARIANT_COLUMNS: Final = "message_id, idx, content, tokens, tokens_source, created_at, chosen"
_SELECT_OWN_MESSAGE: Final = "SELECT id FROM messages WHERE session_id = ? AND id = ?"
_KEEP_ORIGINAL: Final = """
INSERT INTO message_variants (message_id, idx, content, tokens, tokens_source, created_at, chosen)
SELECT id, 0, content, tokens, tokens_source, created_at, 1 FROM messages
WHERE id = ? AND NOT EXISTS (SELECT 1 FROM message_variants WHERE message_id = ?)
"""
_INSERT_VARIANT: Final = f"""
INSERT INTO message_variants (message_id, idx, content, tokens, tokens_source, created_at, chosen)
SELECT ?, coalesce(max(idx) + 1, 0), ?, ?, ?, ?, 0 FROM message_variants WHERE message_id = ?
RETURNING {_VARIANT_COLUMNS}
"""  # noqa: S608
_MARK_CHOSEN: Final = "UPDATE message_variants SET chosen = (idx = ?) WHERE message_id = ?"
_SELECT_VARIANT: Final = (
    f"SELECT {_VARIANT_COLUMNS} FROM message_variants WHERE message_id = ? AND idx = ?"  # noqa: S608
)
_SHOW_VARIANT: Final = f"""
UPDATE messages SET content = ?, tokens = ?, tokens_source = ? WHERE id = ?
RETURNING {MESSAGE_COLUMNS}
"""  # noqa: S608
_SELECT_VARIANTS: Final = f"""
SELECT {_VARIANT_COLUMNS} FROM message_variants
WHERE message_id = (SELECT id FROM messages WHERE session_id = ? AND id = ?)
ORDER BY idx
"""  # noqa: S608


def _variant(row: Any) -> Variant:
    return Variant(
        message_id=row["message_id"],
        idx=row["idx"],
        content=row["content"],
        tokens=row["tokens"],
        tokens_source=row["tokens_source"],
        created_at=from_micros(row["created_at"]),
        chosen=bool(row["chosen"]),
    )


class VariantStore(SqliteDatabase):
    """Alternatives of stored messages (see the module's note)."""

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
        check_text(content, field="message content")
        async with self._transaction():
            if not await self._run(_SELECT_OWN_MESSAGE, (str(session_id), message_id)):
                return None
            await self._run(_KEEP_ORIGINAL, (message_id, message_id))
            params = (message_id, content, tokens, tokens_source, to_micros(utc_now()), message_id)
            added = _variant((await self._run(_INSERT_VARIANT, params))[0])
            if choose:
                await self._run(_MARK_CHOSEN, (added.idx, message_id))
                await self._run(_SHOW_VARIANT, (content, tokens, tokens_source, message_id))
                added = added.model_copy(update={"chosen": True})
        return added

    async def choose_variant(self, session_id: UUID, message_id: int, idx: int) -> Message | None:
        """Make alternative `idx` the message's text; None if there is no such alternative."""
        async with self._transaction():
            if not await self._run(_SELECT_OWN_MESSAGE, (str(session_id), message_id)):
                return None
            rows = await self._run(_SELECT_VARIANT, (message_id, idx))
            if not rows:
                return None
            chosen = _variant(rows[0])
            await self._run(_MARK_CHOSEN, (idx, message_id))
            params = (chosen.content, chosen.tokens, chosen.tokens_source, message_id)
            shown = await self._run(_SHOW_VARIANT, params)
        return message_from_row(shown[0], session_id)

    async def variants(self, session_id: UUID, message_id: int) -> list[Variant]:
        """Every alternative of a message, by index; [] for a message that has none."""
        rows = await self._query(_SELECT_VARIANTS, (str(session_id), message_id))
        return [_variant(row) for row in rows]
