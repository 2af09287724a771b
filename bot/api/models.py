"""Request bodies in the Julep v1 shapes, checked strictly: wrong types and unknown fields are 422.

Julep options that have no meaning in sessionbot (tools, recall, sampling overrides) are
accepted so that the julep SDK's requests pass, and ignored: a session's model and sampling
settings come from its persona. The README lists them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ChatBody",
    "ChatMessageIn",
    "ContextOverflow",
    "RenderBody",
    "SessionCreate",
    "SessionFields",
    "SessionPatch",
]

# Julep says "adaptive" for what sessionbot personas call "summarize"; both are accepted.
ContextOverflow = Literal["truncate", "adaptive", "summarize"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SessionFields(_Body):
    """The fields of a session a client may set (PUT, PATCH, and part of POST)."""

    situation: str | None = None
    metadata: dict[str, Any] | None = None
    render_templates: bool | None = None
    token_budget: int | None = Field(default=None, ge=1)
    context_overflow: ContextOverflow | None = None
    system_template: str | None = None
    tags: list[str] | None = None
    # Julep options without a sessionbot meaning: accepted, ignored.
    auto_run_tools: bool | None = None
    forward_tool_calls: bool | None = None
    recall_options: Any = None


class SessionCreate(SessionFields):
    """`POST /sessions` and `POST /sessions/{id}`: Julep's `agent`/`user`, or
    `agent_id`/`user_id` (the same persona id and user id, spelled the older way)."""

    agent: str | None = None
    agent_id: str | None = None
    agents: list[str] | None = None
    user: str | None = None
    user_id: str | None = None
    users: list[str] | None = None


class SessionPatch(SessionFields):
    """`PATCH /sessions/{id}`: only the fields sent change; `status: "ended"` ends it."""

    status: Literal["active", "ended"] | None = None


class TextPart(_Body):
    type: Literal["text"] = "text"
    text: str


class ChatMessageIn(_Body):
    """One message a person sends; only `user` messages, since the persona is the assistant
    and its situation the system prompt."""

    role: str
    content: str | list[str | TextPart]
    name: str | None = Field(default=None, min_length=1, max_length=100)
    tool_call_id: None = None
    tool_calls: None = None

    @field_validator("role")
    @classmethod
    def _user_only(cls, value: str) -> str:
        if value != "user":
            raise ValueError(
                f"only 'user' messages can be sent, not {value!r}: the persona writes the "
                "assistant messages and its situation is the system prompt"
            )
        return value

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str | list[str | TextPart]) -> str | list[str | TextPart]:
        if not _text(value).strip():
            raise ValueError("must not be empty")
        return value

    @property
    def text(self) -> str:
        return _text(self.content)


def _text(content: str | list[str | TextPart]) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(part if isinstance(part, str) else part.text for part in content)


class _Generation(_Body):
    """Julep chat options without a sessionbot meaning: accepted, ignored."""

    agent: str | None = None
    auto_run_tools: bool | None = None
    frequency_penalty: float | None = None
    length_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    max_tokens: int | None = None
    metadata: dict[str, Any] | None = None
    min_p: float | None = None
    model: str | None = None
    presence_penalty: float | None = None
    recall: bool | None = None
    recall_tools: bool | None = None
    repetition_penalty: float | None = None
    response_format: Any = None
    seed: int | None = None
    stop: list[str] | None = None
    temperature: float | None = None
    tool_choice: Any = None
    top_p: float | None = None
    tools: list[Any] | None = None
    stream: bool = False
    save: bool = True

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise ValueError("sessionbot personas do not call tools; leave tools out")
        return value

    @field_validator("save")
    @classmethod
    def _always_saved(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "sessionbot always stores the conversation; use POST /sessions/{id}/render "
                "for a dry run"
            )
        return value


class ChatBody(_Generation):
    """`POST /sessions/{id}/chat`: store these messages, then answer the last one."""

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=100)


class RenderBody(_Generation):
    """`POST /sessions/{id}/render`: the context as it would be with these messages added."""

    messages: list[ChatMessageIn] = Field(default_factory=list, max_length=100)
