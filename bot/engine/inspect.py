"""What the model sees: the context of the next reply, laid out for a person to check.

`/session context` in Discord, `sessionbot sessions render` in the terminal and the API's
`POST /sessions/{id}/render` all read `Engine.preview`; this module only adds the counts
around it and the two ways of printing it (a plain-text prompt and a JSON object).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bot.engine.chatmodel import ChatMessage
from bot.engine.context import Context
from storage import Session

if TYPE_CHECKING:
    from bot.engine.core import Engine


@dataclass(frozen=True)
class ContextView:
    """The next reply's context and what decided it: budget, history kept and left out."""

    session: Session
    persona: str
    context: Context
    token_budget: int
    max_messages: int
    stored: int
    examples: int

    @property
    def kept(self) -> int:
        """History messages that fit the window."""
        return len(self.context.history)

    @property
    def left_out(self) -> int:
        """Stored messages outside the window (older ones, and any folded into the summary)."""
        return max(0, self.stored - self.kept)

    @property
    def kept_ids(self) -> list[int]:
        return [message.id for message in self.context.history]

    def headline(self) -> str:
        """One line: tokens against the budget and how much of the history fits."""
        return (
            f"about {self.context.tokens:,} of {self.token_budget:,} tokens (estimated); "
            f"{self.kept} of {self.stored} stored message(s) fit, {self.left_out} left out"
        )


async def inspect_context(
    engine: Engine, session_id: UUID, *, place: str, user: str | None = None
) -> ContextView:
    """The context the next reply in the session would be sent, as `user` would get it."""
    session, profile = await engine.current(session_id)
    context = await engine.preview(session_id, place=place, user=user)
    return ContextView(
        session=session,
        persona=profile.name,
        context=context,
        token_budget=profile.context.token_budget,
        max_messages=profile.context.max_messages,
        stored=await engine.count_messages(session_id),
        examples=len(profile.example_dialogue),
    )


def prompt_text(view: ContextView) -> str:
    """The whole prompt as text: a short header, then each message under its role."""
    request = view.context.request
    lines = [
        f"# Next reply in session {view.session.id}",
        f"# persona: {view.persona} · model: {request.model}",
        f"# {view.headline()}",
        f"# summary: {'yes' if view.session.summary else 'none'}"
        f" · example exchanges: {view.examples}",
        f"# lore: {', '.join(entry.label for entry in view.context.lore) or 'none fired'}",
        "# (the next message written in the session comes after the history)",
    ]
    for message in view.context.messages:
        lines += ["", f"--- {message['role']} ---", message["content"]]
    return "\n".join(lines) + "\n"


def view_json(view: ContextView) -> dict[str, Any]:
    """The same as a JSON object, for scripts: the messages plus what decided them."""
    request = view.context.request
    return {
        "session_id": str(view.session.id),
        "persona": view.persona,
        "model": request.model,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "tokens": view.context.tokens,
        "token_budget": view.token_budget,
        "history": {
            "stored": view.stored,
            "kept": view.kept,
            "left_out": view.left_out,
            "max_messages": view.max_messages,
            "kept_ids": view.kept_ids,
        },
        "summary": view.session.summary,
        "examples": view.examples,
        "lore": [entry.label for entry in view.context.lore],
        "messages": _messages(view.context.messages),
    }


def _messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    return [dict(message) for message in messages]
