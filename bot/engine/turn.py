"""One reply in progress: the context is built, the model streams, the reply is stored."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from bot.engine.chatmodel import Usage
from bot.engine.context import Context
from bot.engine.errors import LLMError
from bot.engine.events import model_error_kind
from bot.engine.holding import AlreadySettled
from storage import Message

if TYPE_CHECKING:
    from bot.engine.core import Engine


@dataclass(frozen=True)
class Incoming:
    """A message someone wrote, as any front end sees it."""

    content: str
    author_name: str
    author_id: str | None = None
    external_id: str | None = None


@dataclass
class Turn:
    """A reply in progress: iterate `stream()` for text; then `reply` is the stored message."""

    engine: Engine
    session_id: UUID
    user_message: Message
    place: str
    speaker: str | None = None  # the persona that answers (None: the session's main one)
    unanswered: bool = False  # checked by the caller, who holds the session throughout
    context: Context | None = None
    reply: Message | None = None
    usage: Usage | None = None

    async def stream(self) -> AsyncGenerator[str, None]:
        """Yield the reply as it arrives; store it when complete. Use with contextlib.aclosing."""
        engine = self.engine
        async with engine.holds.hold(self.session_id), engine.locks.hold(self.session_id):
            if not self.unanswered and await engine.store.settled(
                self.session_id, self.user_message.id
            ):
                raise AlreadySettled()  # answered meanwhile, e.g. by another process
            session, main = await engine.current(self.session_id)
            profile, company = await engine.cast.speaking(session, main, self.speaker)
            self.context = await engine.contexts.build(
                session, profile, upto=self.user_message, place=self.place, company=company
            )
            events = engine.events
            if self.context.summarized:
                events.summary_folded(self.context.summarized)
            events.reply_started()
            started = time.monotonic()
            parts: list[str] = []
            chat = engine.model.stream(self.context.request)
            try:
                async for delta in chat:
                    if not parts:
                        events.first_token(time.monotonic() - started)
                    parts.append(delta)
                    yield delta
                self.usage = chat.usage
                self.reply = await engine.store_reply(
                    session, profile, "".join(parts), self.user_message, self.usage
                )
            except LLMError as exc:
                events.model_failed(model_error_kind(exc))
                raise
            events.reply_finished(
                seconds=time.monotonic() - started, context_tokens=self.context.tokens
            )

    async def collect(self) -> str:
        """Run the whole turn and return the reply text."""
        parts = [delta async for delta in self.stream()]
        return "".join(parts)
