"""One reply in progress: the context is built, the model streams, the reply is stored."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import UUID

from bot.engine.chatmodel import Usage
from bot.engine.context import Context
from bot.engine.errors import LLMError
from bot.engine.events import model_error_kind
from bot.engine.holding import AlreadySettled, SessionHolds
from storage import Message, TurnState

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
    _prepared: tuple[TurnState, int] | None = field(default=None, init=False, repr=False)

    async def prepare(self) -> TurnState:
        """Read what answering starts from, in one round trip: the session, whether the message
        is settled (answered, or refused by a limit), the drafts left in the session and the
        recent history. Call it while holding the session (`engine.holds`): `stream()` then
        starts from this read, unless drafts were found (putting them right takes a while) or
        something else held the session's lock meanwhile (a clear, a persona switch), when it
        reads again."""
        mark = self.engine.locks.mark()
        state = await self._read()
        if SessionHolds.holding(self.session_id) and not state.drafts:
            self._prepared = (state, mark)
        return state

    async def _read(self) -> TurnState:
        engine = self.engine
        profile = engine.find_persona(self.speaker or engine.default_persona)
        # The answering persona's window, if it is known before the session is read; a short
        # guess only costs `ContextBuilder` a second read.
        limit = profile.context.max_messages + 1 if profile is not None else 0
        state = await engine.store.turn_state(self.session_id, self.user_message.id, limit=limit)
        engine.cast.recent.put(self.session_id, list(state.others))
        return state

    def _still_prepared(self, held: bool) -> TurnState | None:
        """The state `prepare()` read, if nothing can have changed it since (`held`: the
        session was still held when the turn began); used once."""
        prepared, self._prepared = self._prepared, None
        if prepared is None or not held:
            return None
        if self.engine.locks.held_since(self.session_id, prepared[1]):
            return None
        return prepared[0]

    async def stream(self) -> AsyncGenerator[str, None]:
        """Yield the reply as it arrives; store it when complete. Use with contextlib.aclosing."""
        engine = self.engine
        held = SessionHolds.holding(self.session_id)  # since `prepare()`, if that came first
        async with engine.holds.hold(self.session_id), engine.locks.hold(self.session_id):
            state = self._still_prepared(held) or await self._read()
            if not self.unanswered and state.settled:
                raise AlreadySettled()  # answered meanwhile, e.g. by another process
            session, main = await engine.following(state.session)
            profile, company = await engine.cast.speaking(session, main, self.speaker)
            self.context = await engine.contexts.build(
                session,
                profile,
                upto=self.user_message,
                place=self.place,
                company=company,
                stored=state,
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
