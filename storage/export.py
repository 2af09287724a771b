"""Render a session and its messages as JSON or a Markdown transcript."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC

from .models import Message, Role, Session, format_timestamp

__all__ = ["render_json", "render_markdown"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]])")


def render_json(session: Session, messages: Sequence[Message]) -> str:
    """{"session": <Julep shape>, "messages": [...]}, pretty-printed."""
    document = {
        "session": session.to_julep(),
        "messages": [message.to_dict() for message in messages],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_markdown(session: Session, messages: Sequence[Message]) -> str:
    """A readable transcript: front matter, title, optional summary, one block per message."""
    parts = [_front_matter(session), f"# {session.agent_id} · session {session.id}\n"]
    if session.summary:
        parts.append(f"> Summary: {session.summary}\n")
    parts.extend(_message_block(session, message) for message in messages)
    return "\n".join(parts)


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
