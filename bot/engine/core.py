"""The conversation engine: session + incoming message -> stored message, context, streamed reply.

Platform-neutral on purpose (no `discord` import): the terminal chat, the Discord bot and the HTTP
API all drive conversations through this module, so they behave the same.

A turn has two steps. `submit()` stores the user's message at once, so that nothing a person wrote
is lost if the model is down or the process dies. `respond()` then builds the context from the
store and streams the model's reply, which is stored when the stream ends. Replies within one
session are produced one at a time, in the order their messages were stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from bot.engine.chatmodel import ChatMessage, ChatModel, ChatRequest, Usage
from bot.engine.context import (
    Context,
    ContextPlan,
    conversation_order,
    plan_context,
    render_history,
)
from bot.engine.errors import EmptyReply, LLMError, PersonaUnavailable, SituationFailed
from bot.engine.locks import KeyedLocks
from bot.engine.tokens import message_tokens
from situations import (
    AgentProfile,
    PersonaNotFound,
    PersonaRegistry,
    TemplateError,
    TemplateVariables,
    render_situation,
)
from storage import Message, Role, Session, SessionStore, TokensSource

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# At most this many messages are folded into a summary by one call.
FOLD_LIMIT = 200

SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a conversation. Merge the previous summary and the new "
    "messages into one concise summary in the third person: who is taking part, facts they "
    "shared, decisions, open questions and the emotional tone. Keep names. Answer with the "
    "summary only."
)


@dataclass(frozen=True)
class Incoming:
    """A message someone wrote, as any front end sees it."""

    content: str
    author_name: str
    author_id: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Started:
    session: Session
    greeting: Message | None


@dataclass
class Turn:
    """A reply in progress: iterate `stream()` for text; then `reply` is the stored message."""

    engine: Engine
    session_id: UUID
    user_message: Message
    place: str
    context: Context | None = None
    reply: Message | None = None
    usage: Usage | None = None

    async def stream(self) -> AsyncGenerator[str, None]:
        """Yield the reply as it arrives; store it when complete. Use with contextlib.aclosing."""
        async with self.engine.locks.hold(self.session_id):
            session, profile = await self.engine.current(self.session_id)
            self.context = await self.engine.build_context(
                session, profile, upto=self.user_message, place=self.place
            )
            parts: list[str] = []
            chat = self.engine.model.stream(self.context.request)
            async for delta in chat:
                parts.append(delta)
                yield delta
            self.usage = chat.usage
            self.reply = await self.engine.store_reply(
                session, profile, "".join(parts), self.user_message, self.usage
            )

    async def collect(self) -> str:
        """Run the whole turn and return the reply text."""
        parts = [delta async for delta in self.stream()]
        return "".join(parts)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    """Conversations over a store, a persona registry and a chat model."""

    store: SessionStore
    personas: PersonaRegistry
    model: ChatModel
    default_model: str
    default_persona: str = "sara"
    clock: Clock = _utcnow
    locks: KeyedLocks = field(default_factory=KeyedLocks)

    async def start_session(
        self,
        *,
        persona_id: str | None = None,
        binding_key: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
    ) -> Started:
        """Create a session on a persona (the default one if none is named) and greet."""
        profile = self.persona(persona_id or self.default_persona)
        session = await self.store.create_session(
            agent_id=profile.id,
            situation=profile.situation,
            user_id=user_id,
            metadata={**profile.metadata, **(metadata or {})},
            tags=tags,
            render_templates=profile.render_templates,
            binding_key=binding_key,
            persona_version=profile.version,
        )
        greeting = None
        if profile.greeting:
            greeting = await self.store.append_message(
                session.id,
                role=Role.ASSISTANT,
                content=profile.greeting,
                author_name=profile.name,
                tokens=message_tokens(profile.greeting),
            )
        log.info("started session %s on persona %s", session.id, profile.id)
        return Started(session=session, greeting=greeting)

    def persona(self, persona_id: str) -> AgentProfile:
        try:
            return self.personas.get(persona_id)
        except PersonaNotFound as exc:
            raise PersonaUnavailable(str(exc)) from None

    def persona_name(self, session: Session) -> str:
        """The display name of the session's persona (its id, if the persona is gone)."""
        profile = self.personas.maybe_get(session.agent_id)
        return profile.name if profile is not None else session.agent_id

    async def submit(self, session_id: UUID, incoming: Incoming) -> Message:
        """Store a user's message; idempotent for the same external id."""
        return await self.store.append_message(
            session_id,
            role=Role.USER,
            content=incoming.content,
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            external_id=incoming.external_id,
            tokens=message_tokens(incoming.content),
        )

    def respond(self, session_id: UUID, user_message: Message, *, place: str) -> Turn:
        """A turn that answers `user_message`; nothing runs until it is streamed."""
        return Turn(engine=self, session_id=session_id, user_message=user_message, place=place)

    async def chat(self, session_id: UUID, incoming: Incoming, *, place: str) -> Turn:
        """Store `incoming`, then return the turn that answers it."""
        message = await self.submit(session_id, incoming)
        return self.respond(session_id, message, place=place)

    async def current(self, session_id: UUID) -> tuple[Session, AgentProfile]:
        """The session and its persona, moving the session to the persona's latest version."""
        session = await self.store.get_session(session_id)
        profile = self.personas.maybe_get(session.agent_id)
        if profile is None:
            raise PersonaUnavailable(
                f"This session's persona {session.agent_id!r} is no longer available (its file "
                "was removed); restore the file, or start a new session with another persona."
            )
        if session.persona_version is not None and session.persona_version != profile.version:
            log.info(
                "session %s follows persona %s to version %s",
                session.id,
                profile.id,
                profile.version,
            )
            session = await self.store.update_session(
                session.id,
                situation=profile.situation,
                persona_version=profile.version,
                render_templates=profile.render_templates,
            )
        return session, profile

    async def preview(self, session_id: UUID, *, place: str) -> Context:
        """The context the next reply would get, without calling the model."""
        session, profile = await self.current(session_id)
        return await self.build_context(session, profile, upto=None, place=place, fold=False)

    async def build_context(
        self,
        session: Session,
        profile: AgentProfile,
        *,
        upto: Message | None,
        place: str,
        fold: bool = True,
    ) -> Context:
        """Situation + summary + examples + as much recent history as the budget allows."""
        system = self._system_prompt(session, profile, upto, place)
        settings = profile.context
        candidates = await self._candidates(session, settings.max_messages + 1, upto)
        fixed = self._fixed_tokens(system, profile)
        plan = plan_context(candidates, settings=settings, fixed_tokens=fixed)
        summarized = 0
        if fold and settings.overflow == "summarize" and plan.omitted:
            keep = plan_context(candidates, settings=settings, fixed_tokens=fixed, fraction=0.5)
            folded = await self._fold(session, profile, keep)
            if folded:
                session = await self.store.get_session(session.id)
                system = self._system_prompt(session, profile, upto, place)
                plan, summarized = keep, folded
        return self._context(session, profile, system, plan, summarized)

    async def _candidates(
        self, session: Session, wanted: int, upto: Message | None
    ) -> list[Message]:
        """The latest `wanted` messages a reply to `upto` may see, in conversation order.

        Messages stored after `upto` that still wait for their own reply are not counted, so a
        burst of new messages does not shrink the window (one more read, only then).
        """
        stored = await self.store.recent_history(
            session.id, limit=wanted, after=session.summarized_through
        )
        candidates = conversation_order(stored, upto)
        waiting = len(stored) - len(candidates)
        if waiting and len(stored) == wanted:
            stored = await self.store.recent_history(
                session.id, limit=wanted + waiting, after=session.summarized_through
            )
            candidates = conversation_order(stored, upto)
        return candidates

    def _context(
        self,
        session: Session,
        profile: AgentProfile,
        system: str,
        plan: ContextPlan,
        summarized: int,
    ) -> Context:
        messages: list[ChatMessage] = [{"role": "system", "content": system}]
        for example in profile.example_dialogue:
            messages.append({"role": "user", "content": example.user})
            messages.append({"role": "assistant", "content": example.assistant})
        messages.extend(render_history(plan.kept))
        request = ChatRequest(
            messages=messages,
            model=profile.model or self.default_model,
            temperature=profile.temperature,
            max_tokens=profile.max_tokens,
        )
        return Context(
            request=request,
            history=plan.kept,
            tokens=plan.tokens + self._fixed_tokens(system, profile),
            omitted=plan.omitted,
            summarized=summarized,
        )

    def _system_prompt(
        self, session: Session, profile: AgentProfile, upto: Message | None, place: str
    ) -> str:
        source = profile
        if session.persona_version is None:  # a hand-set situation does not follow the persona
            source = profile.model_copy(
                update={
                    "situation": session.situation,
                    "render_templates": session.render_templates,
                }
            )
        variables = TemplateVariables(
            user=(upto.author_name if upto and upto.author_name else "there"),
            persona=profile.name,
            place=place,
            metadata=dict(session.metadata),
            now=self.clock(),
        )
        try:
            situation = render_situation(source, variables)
        except TemplateError as exc:
            raise SituationFailed(str(exc)) from None
        if session.summary:
            situation += f"\n\nSummary of the conversation so far:\n{session.summary}"
        return situation

    @staticmethod
    def _fixed_tokens(system: str, profile: AgentProfile) -> int:
        examples = sum(
            message_tokens(example.user) + message_tokens(example.assistant)
            for example in profile.example_dialogue
        )
        return message_tokens(system) + examples

    async def _fold(self, session: Session, profile: AgentProfile, keep: ContextPlan) -> int:
        """Fold the messages below `keep` into the session's summary with one model call.

        The caller folds down to half the budget, so the next turns need no further call.
        Returns how many messages were folded; 0 if the model failed (the turn then goes on
        with the truncated context, and the next turn tries again).
        """
        folded = await self.store.recent_history(
            session.id, limit=FOLD_LIMIT, before=keep.cut, after=session.summarized_through
        )
        if not folded:
            return 0
        try:
            summary = await self._summarize(session, profile, folded)
        except LLMError as exc:
            log.warning("could not summarize session %s: %s", session.id, exc)
            return 0
        await self.store.update_session(
            session.id, summary=summary, summarized_through=folded[-1].id
        )
        log.info("session %s: folded %d messages into the summary", session.id, len(folded))
        return len(folded)

    async def _summarize(
        self, session: Session, profile: AgentProfile, folded: Sequence[Message]
    ) -> str:
        transcript = "\n".join(
            f"{message.author_name or message.role.value}: {message.content}" for message in folded
        )
        prompt = (
            f"Previous summary:\n{session.summary or '(none)'}\n\n"
            f"New messages:\n{transcript}\n\nWrite the updated summary."
        )
        request = ChatRequest(
            messages=[
                {"role": "system", "content": SUMMARY_INSTRUCTIONS},
                {"role": "user", "content": prompt},
            ],
            model=profile.model or self.default_model,
            temperature=0.2,
        )
        text, _usage = await self.model.complete(request)
        if not text.strip():
            raise EmptyReply()
        return text.strip()

    async def store_reply(
        self,
        session: Session,
        profile: AgentProfile,
        text: str,
        answering: Message,
        usage: Usage | None,
    ) -> Message:
        """Store the assistant's reply, with the server's token count when it gave one."""
        if not text.strip():
            raise EmptyReply()
        source: TokensSource = "usage" if usage is not None else "estimate"
        tokens = usage.completion_tokens if usage is not None else message_tokens(text)
        return await self.store.append_message(
            session.id,
            role=Role.ASSISTANT,
            content=text,
            author_name=profile.name,
            reply_to=answering.id,
            tokens=tokens,
            tokens_source=source,
        )
