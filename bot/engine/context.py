"""Choosing which stored messages fit a context window, and how they are shown to the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.engine.chatmodel import ChatMessage, ChatRequest
from bot.engine.tokens import MESSAGE_OVERHEAD, estimate_tokens
from situations import ContextSettings
from storage import Message, Role


@dataclass(frozen=True)
class Context:
    """Exactly what the model will be sent for one reply, and what was left out."""

    request: ChatRequest
    history: Sequence[Message]
    tokens: int
    omitted: int
    summarized: int = 0

    @property
    def messages(self) -> Sequence[ChatMessage]:
        return self.request.messages


@dataclass(frozen=True)
class ContextPlan:
    """The messages that fit, oldest first, and how many candidates were left out."""

    kept: Sequence[Message]
    omitted: int
    tokens: int

    @property
    def cut(self) -> int | None:
        """The lowest message id kept: everything below it is out of the window."""
        return min((message.id for message in self.kept), default=None)


def conversation_order(messages: Sequence[Message], upto: Message | None) -> list[Message]:
    """Messages as the conversation reads, for a reply to `upto` (None: to everything stored).

    User messages stored after `upto` are still waiting for their own reply and are left out.
    A reply sits right after the message it answers, even when other messages were stored
    while it was being written.
    """
    pending_after = upto.id if upto is not None else None
    visible = [
        message
        for message in messages
        if pending_after is None
        or message.id <= pending_after
        or (message.reply_to is not None and message.reply_to <= pending_after)
    ]
    return sorted(visible, key=lambda message: (message.reply_to or message.id, message.id))


def plan_context(
    candidates: Sequence[Message],
    *,
    settings: ContextSettings,
    fixed_tokens: int,
    fraction: float = 1.0,
) -> ContextPlan:
    """Keep the newest messages that fit both the message cap and the token budget.

    Whole messages only, oldest dropped first. The newest message is always kept, even if it
    alone is over budget, since the model cannot answer a message it does not see.
    """
    max_messages = max(1, int(settings.max_messages * fraction))
    budget = int((settings.token_budget - fixed_tokens) * fraction)
    kept: list[Message] = []
    used = 0
    for message in reversed(candidates):
        cost = _cost(message)
        if kept and (len(kept) >= max_messages or used + cost > budget):
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return ContextPlan(kept=kept, omitted=len(candidates) - len(kept), tokens=used)


def _cost(message: Message) -> int:
    """Stored estimates include the message framing; a server's usage count does not."""
    cost = message.tokens
    if message.tokens_source == "usage":
        cost += MESSAGE_OVERHEAD
    if message.role is Role.USER:
        cost += estimate_tokens(message.author_name or "user") + 1  # the "Name: " prefix
    return cost


def render_history(messages: Sequence[Message]) -> list[ChatMessage]:
    """Stored messages as chat messages; each user line carries its author's display name."""
    rendered: list[ChatMessage] = []
    for message in messages:
        if message.role is Role.USER:
            name = message.author_name or "user"
            rendered.append({"role": "user", "content": f"{name}: {message.content}"})
        elif message.role is Role.ASSISTANT:
            rendered.append({"role": "assistant", "content": message.content})
        else:
            rendered.append({"role": "system", "content": message.content})
    return rendered
