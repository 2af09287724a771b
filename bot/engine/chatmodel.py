"""The small protocol every chat model speaks; no SDK import, so it is cheap to import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, NotRequired, Protocol, TypedDict


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str
    name: NotRequired[str]


@dataclass(frozen=True)
class ChatRequest:
    messages: Sequence[ChatMessage]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


class ChatStream(Protocol):
    """One streamed reply: iterate it once for the text deltas; `usage` is set at the end."""

    def __aiter__(self) -> AsyncIterator[str]: ...

    @property
    def usage(self) -> Usage | None: ...


class ChatModel(Protocol):
    def stream(self, request: ChatRequest) -> ChatStream: ...

    async def complete(self, request: ChatRequest) -> tuple[str, Usage | None]: ...

    async def close(self) -> None: ...
