"""Regenerating a reply and swiping between its alternatives.

A regeneration asks the model again for the same message with the same context the reply had:
the history up to the message it answers, without the reply itself or anything after it. The
new text is stored as another alternative of the same stored reply and becomes its text, so
later turns and exports see only the chosen alternative. Only the newest reply of a session can
be regenerated or swiped; a greeting's alternatives are the persona's `alternate_greetings`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from uuid import UUID

from bot.engine.chatmodel import Usage
from bot.engine.context import Context
from bot.engine.errors import EmptyReply, SessionbotError
from bot.engine.tokens import message_tokens
from situations import AgentProfile
from storage import Message, Role, Session, TokensSource, Variant

if TYPE_CHECKING:
    from bot.engine.core import Engine

log = logging.getLogger(__name__)

NEWER_LOOKED_AT: Final = 200  # messages after a reply read to see whether a newer reply exists


class NotRegenerable(SessionbotError):
    """The reply is gone, is not a reply, or a newer reply exists."""

    def __init__(self) -> None:
        super().__init__("Only the newest reply of this conversation can be regenerated or swiped.")


@dataclass(frozen=True)
class Swipe:
    """A reply's shown alternative: its stored message, its index and how many there are."""

    reply: Message
    index: int
    count: int


async def newest_reply(engine: Engine, session_id: UUID, reply_id: int) -> Message:
    """The stored reply `reply_id`, if it is the newest reply of the session (else
    NotRegenerable)."""
    reply = await engine.store.get_message(session_id, reply_id)
    if reply is None or reply.role is not Role.ASSISTANT:
        raise NotRegenerable()
    later = await engine.store.recent_history(session_id, limit=NEWER_LOOKED_AT, after=reply_id)
    if len(later) >= NEWER_LOOKED_AT or any(m.role is Role.ASSISTANT for m in later):
        raise NotRegenerable()
    return reply


async def swipe_state(engine: Engine, reply: Message) -> Swipe:
    """Which alternative of `reply` is shown, of how many (1 of 1 when it has none)."""
    variants = await engine.store.variants(reply.session_id, reply.id)
    chosen = next((v.idx for v in variants if v.chosen), 0)
    return Swipe(reply=reply, index=chosen, count=max(1, len(variants)))


async def choose(engine: Engine, session_id: UUID, reply_id: int, step: int) -> Swipe:
    """Show the alternative `step` places after (or before) the shown one, wrapping around."""
    async with engine.locks.hold(session_id):
        reply = await newest_reply(engine, session_id, reply_id)
        variants = await engine.store.variants(session_id, reply_id)
        if not variants:
            return Swipe(reply=reply, index=0, count=1)
        chosen = next((v.idx for v in variants if v.chosen), 0)
        index = (chosen + step) % len(variants)
        shown = await engine.store.choose_variant(session_id, reply_id, index)
        if shown is None:
            raise NotRegenerable()
    return Swipe(reply=shown, index=index, count=len(variants))


async def add_greeting_alternatives(
    engine: Engine, session: Session, profile: AgentProfile, greeting: Message
) -> None:
    """Store the persona's alternate greetings (rendered like its greeting) as alternatives."""
    for text in profile.alternate_greetings:
        rendered = await engine.contexts.greeting(
            session, profile.model_copy(update={"greeting": text})
        )
        if rendered:
            await engine.store.add_variant(
                session.id, greeting.id, content=rendered, tokens=message_tokens(rendered),
                choose=False,
            )  # fmt: skip


@dataclass
class Regeneration:
    """Another alternative of a stored reply, in progress: iterate `stream()` for its text;
    then `swipe` is the stored alternative, shown."""

    engine: Engine
    session_id: UUID
    reply_id: int
    place: str
    context: Context | None = None
    usage: Usage | None = None
    swipe: Swipe | None = None

    async def stream(self) -> AsyncGenerator[str, None]:
        """Yield the new text as it arrives; store it when complete (use with aclosing)."""
        engine = self.engine
        async with engine.locks.hold(self.session_id):
            reply = await newest_reply(engine, self.session_id, self.reply_id)
            answering = None
            if reply.reply_to is not None:
                answering = await engine.store.get_message(self.session_id, reply.reply_to)
            if answering is None:  # a greeting, or its message was deleted
                raise NotRegenerable()
            session, main = await engine.current(self.session_id)
            # The persona that wrote the reply writes it again, seeing what it saw then.
            profile, company = await engine.cast.speaking(session, main, reply.author_id)
            self.context = await engine.contexts.build(
                session,
                profile,
                upto=answering,
                place=self.place,
                fold=False,
                company=company,
                before=reply.id,
            )
            chat = engine.model.stream(self.context.request)
            parts: list[str] = []
            async for delta in chat:
                parts.append(delta)
                yield delta
            self.usage = chat.usage
            self.swipe = await self._store(session, "".join(parts))

    async def _store(self, session: Session, text: str) -> Swipe:
        if not text.strip():
            raise EmptyReply()
        source: TokensSource = "usage" if self.usage is not None else "estimate"
        tokens = self.usage.completion_tokens if self.usage is not None else message_tokens(text)
        added: Variant | None = await self.engine.store.add_variant(
            self.session_id, self.reply_id, content=text, tokens=tokens, tokens_source=source
        )
        if added is None:
            raise NotRegenerable()
        self.engine.quota.spend(session.binding_key, tokens)
        shown = await self.engine.store.get_message(self.session_id, self.reply_id)
        if shown is None:
            raise NotRegenerable()
        log.info("regenerated reply %s of session %s", self.reply_id, self.session_id)
        return Swipe(reply=shown, index=added.idx, count=added.idx + 1)
