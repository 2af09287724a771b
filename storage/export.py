"""Render a session and its messages as JSON or a Markdown transcript, in chunks.

The renderers take messages a batch at a time, so a history of any length is exported in
memory bounded by one batch; joining every chunk gives exactly the whole-document text.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from datetime import UTC
from typing import Final, Literal, Protocol

from .models import HistorySize, Message, Role, Session, format_timestamp

__all__ = [
    "ExportFormat",
    "estimate_export_bytes",
    "export_chunks",
]

ExportFormat = Literal["json", "md"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]])")
# Bytes each message adds beside its text: keys, ids, timestamps, indentation.
_OVERHEAD: Final[dict[str, int]] = {"json": 300, "md": 35}
_SESSION_OVERHEAD: Final = 256


class _Renderer(Protocol):
    def head(self) -> str: ...
    def batch(self, messages: Sequence[Message]) -> str: ...
    def tail(self) -> str: ...


class _Json:
    """{"session": <Julep shape>, "messages": [...]}, pretty-printed."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._separator = "\n"

    def head(self) -> str:
        document = {"session": self._session.to_julep(), "messages": []}
        text = json.dumps(document, indent=2, ensure_ascii=False)
        return text.removesuffix("]\n}")

    def batch(self, messages: Sequence[Message]) -> str:
        parts = []
        for message in messages:
            parts.append(f"{self._separator}    {_message_json(message)}")
            self._separator = ",\n"
        return "".join(parts)

    def tail(self) -> str:
        return ("]" if self._separator == "\n" else "\n  ]") + "\n}\n"


class _Markdown:
    """A readable transcript: front matter, title, optional summary, one block per message."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def head(self) -> str:
        parts = [
            _front_matter(self._session),
            f"# {self._session.agent_id} · session {self._session.id}\n",
        ]
        if self._session.summary:
            parts.append(f"> Summary: {self._session.summary}\n")
        return "\n".join(parts)

    def batch(self, messages: Sequence[Message]) -> str:
        return "".join("\n" + _message_block(self._session, message) for message in messages)

    def tail(self) -> str:
        return ""


_RENDERERS: Final[dict[str, type[_Json | _Markdown]]] = {"json": _Json, "md": _Markdown}


def _renderer(session: Session, fmt: str) -> _Renderer:
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown export format {fmt!r}; use 'json' or 'md'")
    return _RENDERERS[fmt](session)


async def export_chunks(
    session: Session, batches: AsyncIterable[Sequence[Message]], fmt: ExportFormat
) -> AsyncGenerator[str, None]:
    """The export as text chunks, one per batch of messages (plus a head and a tail)."""
    renderer = _renderer(session, fmt)
    yield renderer.head()
    async for batch in batches:
        yield renderer.batch(batch)
    yield renderer.tail()


def estimate_export_bytes(session: Session, size: HistorySize, fmt: ExportFormat) -> int:
    """A little under the export's size in bytes, from SQL sums (nothing is rendered)."""
    fixed = _SESSION_OVERHEAD + len((session.summary or "").encode())
    if fmt == "json":
        fixed += len(session.situation.encode())
    return fixed + size.text_bytes + size.messages * _OVERHEAD[fmt]


def _message_json(message: Message) -> str:
    """One message exactly as `json.dumps(..., indent=2)` lays it out two levels deep; its
    values are all scalars, so the fast compact encoder writes each of them."""
    fields = (
        f"      {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in message.to_dict().items()
    )
    return "{\n" + ",\n".join(fields) + "\n    }"


def _front_matter(session: Session) -> str:
    lines = [
        "---",
        f"session: {session.id}",
        f"persona: {json.dumps(session.agent_id, ensure_ascii=False)}",
        f"status: {session.status.value}",
        f"tags: {json.dumps(session.tags, ensure_ascii=False)}",
        f"created: {format_timestamp(session.created_at)}",
        "---",
    ]
    return "\n".join(lines) + "\n"


def _message_block(session: Session, message: Message) -> str:
    when = message.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    author = _MARKDOWN_SPECIAL.sub(r"\\\1", _author(session, message))
    return f"**{author}** ({message.role.value}, {when}):\n\n{message.content}\n"


def _author(session: Session, message: Message) -> str:
    if message.author_name:
        return message.author_name
    if message.author_id:
        return message.author_id
    if message.role is Role.ASSISTANT:
        return session.agent_id
    return message.role.value.capitalize()
