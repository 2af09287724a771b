"""Domain objects as the JSON shapes of the Julep v1 API (what the julep SDK parses)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from bot.api.encoding import utc
from bot.engine import Context
from bot.engine.chatmodel import ChatMessage, Usage
from situations import AgentProfile
from storage import Message, Role, Session
from storage.listing import ListedSession
from storage.models import format_timestamp

__all__ = [
    "agent_json",
    "chat_json",
    "chunk_json",
    "deleted_json",
    "history_json",
    "render_json",
    "session_json",
]

# Julep's name for what sessionbot personas call "summarize".
_OVERFLOW_TO_JULEP: Final = {"truncate": "truncate", "summarize": "adaptive"}
_SOURCES: Final = {
    Role.USER: "api_request",
    Role.ASSISTANT: "api_response",
    Role.SYSTEM: "internal",
}


def session_json(
    session: Session | ListedSession, profile: AgentProfile | None, agents: Sequence[str] = ()
) -> dict[str, Any]:
    """The Julep v1 session shape plus tags and status, and what sessionbot adds, for
    `bot.api.encoding.dumps` (the id, status and timestamps stay objects orjson writes).

    `token_budget` and `context_overflow` are the persona's context settings (null when the
    persona is not loaded); `binding_key` says where the session is attached (a Discord
    channel, thread or DM), null for a session that only the API and the terminal use.
    `agents` lists every persona of the session, the main one (`agent_id`) first.
    The keys and values are those of `Session.to_julep()` followed by these; metadata and
    tags are the session's own (not copied: the shape is written out at once, never changed).
    A listed session (`ListedSession`, what `GET /sessions` reads) gives the same JSON as the
    `Session` of the same row.
    """
    context = profile.context if profile is not None else None
    return {
        "id": session.id,
        "user_id": session.user_id,
        "agent_id": session.agent_id,
        "situation": session.situation,
        "summary": session.summary,
        "created_at": utc(session.created_at),
        "updated_at": utc(session.updated_at),
        "metadata": session.metadata,
        "render_templates": session.render_templates,
        "tags": session.tags,
        "status": session.status,
        "token_budget": context.token_budget if context is not None else None,
        "context_overflow": _OVERFLOW_TO_JULEP[context.overflow] if context else None,
        "system_template": None,
        "binding_key": session.binding_key,
        "follows_agent": session.follows_persona,
        "agents": list(agents) or [session.agent_id],
    }


def agent_json(profile: AgentProfile, default_model: str, changed_at: datetime) -> dict[str, Any]:
    """A persona in Julep's agent shape; timestamps are those of its file."""
    settings = {
        key: value
        for key, value in (("temperature", profile.temperature), ("max_tokens", profile.max_tokens))
        if value is not None
    }
    return {
        "id": profile.id,
        "name": profile.name,
        "canonical_name": profile.id,
        "about": profile.description,
        "model": profile.model or default_model,
        "instructions": [profile.situation],
        "metadata": dict(profile.metadata),
        "default_settings": settings,
        "created_at": format_timestamp(changed_at),
        "updated_at": format_timestamp(changed_at),
        "tags": list(profile.tags),
        "version": profile.version,
        "greeting": profile.greeting,
        "render_templates": profile.render_templates,
        "context": {
            "max_messages": profile.context.max_messages,
            "token_budget": profile.context.token_budget,
            "context_overflow": _OVERFLOW_TO_JULEP[profile.context.overflow],
        },
    }


def entry_json(message: Message) -> dict[str, Any]:
    created = format_timestamp(message.created_at)
    return {
        "id": str(message.id),
        "role": message.role.value,
        "name": message.author_name,
        "content": message.content,
        "source": _SOURCES[message.role],
        "token_count": message.tokens,
        "tokenizer": message.tokens_source,
        "created_at": created,
        "timestamp": created,
        "author_id": message.author_id,
        "reply_to": message.reply_to,
    }


def history_json(session: Session, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "session_id": str(session.id),
        "created_at": format_timestamp(session.created_at),
        "entries": [entry_json(message) for message in messages],
        "relations": [],
    }


def deleted_json(resource_id: UUID, at: datetime) -> dict[str, Any]:
    return {"id": str(resource_id), "deleted_at": format_timestamp(at), "jobs": []}


def usage_json(
    usage: Usage | None, context: Context | None, reply: Message | None
) -> dict[str, int]:
    """The server's usage when it sent one, else sessionbot's own estimates."""
    if usage is not None:
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
    else:
        prompt = context.tokens if context is not None else 0
        completion = reply.tokens if reply is not None else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chat_json(
    response_id: UUID,
    reply: Message,
    usage: dict[str, int],
) -> dict[str, Any]:
    """A finished chat: Julep's ChatResponse with the stored reply as the one choice."""
    created = format_timestamp(reply.created_at)
    return {
        "id": str(response_id),
        "created_at": created,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": reply.content,
                    "name": reply.author_name,
                    "id": str(reply.id),
                    "created_at": created,
                },
            }
        ],
        "usage": usage,
        "docs": [],
        "jobs": [],
    }


def chunk_json(
    response_id: UUID,
    created_at: datetime,
    content: str,
    *,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One server-sent event of a streamed chat (Julep's ChunkChatResponse)."""
    chunk: dict[str, Any] = {
        "id": str(response_id),
        "created_at": format_timestamp(created_at),
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        chunk["usage"] = usage
    if error is not None:
        chunk["error"] = error
    return chunk


def render_json(context: Context, extra: Sequence[ChatMessage]) -> dict[str, Any]:
    """Julep's RenderResponse: the messages the model would get, plus what decided them."""
    before: Sequence[ChatMessage] = context.messages
    after: Sequence[ChatMessage] = ()
    if context.post_history:  # the post-history line stays last
        before, after = context.messages[:-1], context.messages[-1:]
    messages = [dict(message) for message in (*before, *extra, *after)]
    return {
        "messages": messages,
        "docs": [],
        "tools": [],
        "tool_choice": None,
        "model": context.request.model,
        "temperature": context.request.temperature,
        "max_tokens": context.request.max_tokens,
        "tokens": context.tokens,
        "omitted": context.omitted,
        "lore": [entry.label for entry in context.lore],
    }
