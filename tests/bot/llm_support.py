"""Shared pieces of the OpenAIChatModel tests: the request they send and how they read a reply.

The `make_model` fixture that builds models pointed at the fake server is in this folder's
conftest.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from bot.llm import ChatMessage, ChatRequest, OpenAIChatModel, Usage

API_KEY = "sk-test-5ecret-k3y-for-tests"

MESSAGES: list[ChatMessage] = [
    {"role": "system", "content": "You are a calm helper."},
    {"role": "user", "content": "Hello there, how are you?"},
]

ModelFactory = Callable[..., OpenAIChatModel]


def request(**overrides: Any) -> ChatRequest:
    return ChatRequest(**{"messages": MESSAGES, "model": "fake-model", **overrides})


async def collect(model: OpenAIChatModel, req: ChatRequest) -> tuple[list[str], Usage | None]:
    stream = model.stream(req)
    deltas = [delta async for delta in stream]
    return deltas, stream.usage


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
