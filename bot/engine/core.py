"""The conversation engine: sessions, personas and turns, the same for every front end.

Platform-neutral on purpose (no `discord` import): the terminal chat, the Discord bot and the
HTTP API all drive conversations through `Engine`, so they behave the same. Front ends ask the
engine, never its store or persona registry directly.

A turn has two steps. `submit()` stores the user's message at once, so that nothing a person wrote
is lost if the model is down or the process dies. `respond()` then builds the context from the
store and streams the model's reply, which is stored when the stream ends. Replies within one
session are produced one at a time, in the order their messages were stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from bot.engine.arrival import arrive
from bot.engine.attach import Binding, attach
from bot.engine.cast import Cast
from bot.engine.chatmodel import ChatModel, Usage
from bot.engine.context import Context, ContextBuilder
from bot.engine.errors import EmptyReply, PersonaUnavailable
from bot.engine.events import NO_EVENTS, EngineEvents
from bot.engine.holding import ReplyDrafts, SessionHolds
from bot.engine.quota import Ask, Quota, Refusal
from bot.engine.starting import Pinned, Started, start
from bot.engine.tokens import message_tokens
from bot.engine.turn import Incoming, Turn
from bot.engine.usage import UsageReport, usage_report
from situations import (
    AgentProfile,
    PersonaError,
    PersonaNotFound,
    PersonaRegistry,
    ReloadReport,
    TemplateRenderer,
)
from storage import (
    Arrival,
    ExportFormat,
    ListQuery,
    Message,
    Role,
    Session,
    SessionChanges,
    SessionPage,
    Store,
    StoreStatus,
    TokensSource,
    UsageQuery,
    estimate_export_bytes,
    export_chunks,
)
from storage.listing import SessionListing
from storage.locks import KeyedLocks

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    """Conversations over a store, a persona registry and a chat model.

    `renderer` renders template situations; by default the engine has its own, which
    `close()` stops.
    """

    store: Store
    personas: PersonaRegistry
    model: ChatModel
    default_model: str
    default_persona: str = "sara"
    clock: Clock = _utcnow
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    renderer: TemplateRenderer = field(default_factory=TemplateRenderer)
    quota: Quota = field(default_factory=Quota)
    events: EngineEvents = NO_EVENTS
    contexts: ContextBuilder = field(init=False)
    cast: Cast = field(init=False)
    holds: SessionHolds = field(init=False)  # one answerer per session, in every process
    drafts: ReplyDrafts = field(init=False)  # replies being shown, for whoever answers next

    def __post_init__(self) -> None:
        self.contexts = ContextBuilder(
            store=self.store,
            model=self.model,
            default_model=self.default_model,
            clock=self.clock,
            renderer=self.renderer,
        )
        self.cast = Cast(store=self.store, personas=self.personas, locks=self.locks)
        self.holds = SessionHolds(self.store)
        self.drafts = ReplyDrafts(self.store)

    async def close(self) -> None:
        """Stop the template renderer's worker process (the store and model are the caller's)."""
        await self.renderer.aclose()

    # Personas ------------------------------------------------------------------------------

    def persona(self, persona_id: str) -> AgentProfile:
        """The loaded persona; PersonaUnavailable (naming the loaded ones) if there is none."""
        try:
            return self.personas.get(persona_id)
        except PersonaNotFound as exc:
            raise PersonaUnavailable(str(exc)) from None

    def find_persona(self, persona_id: str) -> AgentProfile | None:
        return self.personas.maybe_get(persona_id)

    def list_personas(self) -> list[AgentProfile]:
        return self.personas.all()

    def persona_errors(self) -> list[PersonaError]:
        """The persona files that are not loaded, each with its file:line error."""
        return self.personas.errors

    async def reload_personas(self) -> ReloadReport:
        """Read the personas directory again (the files that fail keep their last good version)."""
        return await self.personas.load()

    def persona_name(self, session: Session) -> str:
        """The display name of the session's persona (its id, if the persona is gone)."""
        profile = self.personas.maybe_get(session.agent_id)
        return profile.name if profile is not None else session.agent_id

    # Sessions ------------------------------------------------------------------------------

    async def start_session(
        self,
        *,
        persona_id: str | None = None,
        binding_key: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        pinned: Pinned | None = None,
        session_id: UUID | None = None,
    ) -> Started:
        """Create a session on a persona (the default one if none is named) and greet.

        Without `pinned` the session follows its persona; `session_id` chooses the new id.
        """
        profile = self.persona(persona_id or self.default_persona)
        return await start(
            self,
            profile,
            binding_key=binding_key,
            user_id=user_id,
            metadata=metadata,
            tags=tags,
            pinned=pinned,
            session_id=session_id,
        )

    async def session(self, session_id: UUID) -> Session:
        """The session with this id; storage's SessionNotFound if there is none."""
        return await self.store.get_session(session_id)

    async def active_session(self, binding_key: str) -> Session | None:
        return await self.store.active_session(binding_key)

    async def latest_session(self, binding_key: str) -> Session | None:
        """The newest session ever bound to `binding_key`, active or ended."""
        return await self.store.latest_session(binding_key)

    async def list_sessions(self, query: ListQuery) -> SessionPage:
        return await self.store.list_sessions(query)

    async def session_listing(self, query: ListQuery) -> SessionListing:
        """`list_sessions` for showing: each session with its personas, in one query."""
        return await self.store.session_listing(query)

    async def count_messages(self, session_id: UUID) -> int:
        return await self.store.count_messages(session_id)

    async def message_counts(self, session_ids: Iterable[UUID]) -> dict[UUID, int]:
        return await self.store.message_counts(session_ids)

    async def history(
        self, session_id: UUID, *, limit: int | None = None, before: int | None = None
    ) -> list[Message]:
        """The session's messages with id < `before`, oldest first (the latest `limit`, if given).

        A whole long history is better read with `history_batches`.
        """
        if limit is None:
            limit = await self.store.count_messages(session_id)
        return await self.store.recent_history(session_id, limit=limit, before=before)

    def history_batches(
        self, session_id: UUID, *, before: int | None = None
    ) -> AsyncIterator[list[Message]]:
        """The session's messages (with id < `before`), oldest first, a bounded batch at a time."""
        return self.store.message_batches(session_id, before=before)

    async def tag_session(
        self, session_id: UUID, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Session:
        return await self.store.retag(session_id, add=add, remove=remove)

    async def update_session(self, session_id: UUID, changes: SessionChanges) -> Session:
        return await self.store.update_session(session_id, changes)

    async def end_session(self, session_id: UUID) -> Session:
        """Mark the session ended (idempotent); it keeps its place and its messages."""
        return await self.store.end_session(session_id)

    async def delete_session(self, session_id: UUID) -> None:
        await self.store.delete_session(session_id)

    async def clear_history(self, session_id: UUID) -> int:
        """Delete every message of the session and forget its summary; return how many.

        Waits for a reply being written in this process; one being written elsewhere is not
        stored once the message it answers is gone.
        """
        async with self.locks.hold(session_id):
            return await self.store.clear_history(session_id)

    def export_chunks(self, session: Session, fmt: ExportFormat) -> AsyncGenerator[str, None]:
        """The export as text chunks rendered a batch of messages at a time (bounded memory)."""
        return export_chunks(session, self.store.message_batches(session.id), fmt)

    async def export_estimate(self, session: Session, fmt: ExportFormat) -> int:
        """Roughly the export's size in bytes, from SQL sums (nothing is rendered)."""
        size = await self.store.history_size(session.id)
        return estimate_export_bytes(session, size, fmt)

    async def attach_session(
        self, session_id: UUID, binding: Binding, *, user_id: str, metadata: Mapping[str, Any]
    ) -> Session:
        """Bring an active session made elsewhere (e.g. the HTTP API) to `binding`."""
        return await attach(self, session_id, binding, user_id=user_id, metadata=metadata)

    async def store_status(self) -> StoreStatus:
        """The database's schema version and active session count (one cheap query)."""
        return await self.store.status()

    # Messages ------------------------------------------------------------------------------

    async def submit(self, session_id: UUID, incoming: Incoming) -> Message:
        """Store a user's message; idempotent for the same external id."""
        message = await self.store.append_message(
            session_id,
            role=Role.USER,
            content=incoming.content,
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            external_id=incoming.external_id,
            tokens=message_tokens(incoming.content),
        )
        self.events.message_stored()
        return message

    async def stored_message(self, session_id: UUID, message_id: int) -> Message | None:
        return await self.store.get_message(session_id, message_id)

    async def latest_external_message(self, session_id: UUID) -> Message | None:
        """The newest stored message that came from a front end with its own id, if any.

        A front end that was away catches up on what was written after it.
        """
        return await self.store.latest_external_message(session_id)

    async def answered(self, session_id: UUID, message_id: int) -> bool:
        """True if stored message `message_id` is settled: a reply to it is stored, or a limit
        refused it (persisted, so it holds across restarts); a message is answered once."""
        return await self.store.settled(session_id, message_id)

    async def arrival(
        self, binding_key: str, external_id: str, *, storing: Incoming | None = None
    ) -> Arrival:
        """The session at `binding_key` and whether message `external_id` is there already
        (see `arrival.py`); with `storing`, it is stored there if new: one round trip."""
        return await arrive(self, binding_key, external_id, storing)

    async def message_holders(self, binding_key: str, external_id: str) -> list[UUID]:
        """Sessions at `binding_key`, active or ended, that store the message `external_id`."""
        return await self.store.sessions_holding(binding_key, external_id)

    async def edit_message(
        self, session_ids: Iterable[UUID], external_id: str, content: str
    ) -> None:
        """Replace the stored text of an edited message in each of `session_ids`."""
        tokens = message_tokens(content)
        for session_id in session_ids:
            await self.store.edit_message(session_id, external_id, content, tokens)

    async def delete_message(self, binding_key: str, external_id: str) -> int:
        """Delete a message wherever a session at `binding_key` stores it; return how many."""
        holders = await self.store.sessions_holding(binding_key, external_id)
        for session_id in holders:
            await self.store.delete_message(session_id, external_id)
        return len(holders)

    # Limits and usage ----------------------------------------------------------------------

    async def admit(self, ask: Ask) -> Refusal | None:
        """Whether a stored message may be answered now (None) or which limit refuses it."""
        return await self.quota.admit(ask, self.store.tokens_since)

    async def refused(self, message: Message) -> None:
        """Record that a limit refused `message`: it stays stored and is never answered."""
        await self.store.refuse_message(message.id)

    async def usage(self, query: UsageQuery, days: int) -> UsageReport:
        """Messages, replies and tokens per person, persona and scope (see `usage.py`)."""
        return usage_report(await self.store.usage(query), query, days)

    # Turns ---------------------------------------------------------------------------------

    def respond(
        self,
        session_id: UUID,
        user_message: Message,
        *,
        place: str,
        speaker: str | None = None,
        unanswered: bool = False,
    ) -> Turn:
        """A turn that answers `user_message` (as persona `speaker`, if it is in the session;
        else as the main persona); nothing runs until it is streamed. `unanswered`: the caller
        holds the session (`holds`) and has just found the message unanswered."""
        return Turn(self, session_id, user_message, place, speaker=speaker, unanswered=unanswered)

    async def chat(self, session_id: UUID, incoming: Incoming, *, place: str) -> Turn:
        """Store `incoming`, then return the turn that answers it."""
        message = await self.submit(session_id, incoming)
        return self.respond(session_id, message, place=place)

    async def current(self, session_id: UUID) -> tuple[Session, AgentProfile]:
        """The session and its persona, moving the session to the persona's latest version."""
        return await self.following(await self.store.get_session(session_id))

    async def following(self, session: Session) -> tuple[Session, AgentProfile]:
        """`current` of a session just read."""
        profile = self.personas.maybe_get(session.agent_id)
        if profile is None:
            raise PersonaUnavailable(
                f"This session's persona {session.agent_id!r} is no longer available (its file "
                "was removed); restore the file, or start a new session with another persona."
            )
        if session.follows_persona and session.persona_version != profile.version:
            log.info(
                "session %s follows persona %s to version %s",
                session.id,
                profile.id,
                profile.version,
            )
            session = await self.store.follow_persona(
                session.id,
                situation=profile.situation,
                persona_version=profile.version,
                render_templates=profile.render_templates,
            )
        return session, profile

    async def preview(self, session_id: UUID, *, place: str, user: str | None = None) -> Context:
        """The context the next reply (to `user`) would get, without calling the model."""
        session, profile = await self.current(session_id)
        return await self.contexts.build(
            session, profile, upto=None, place=place, fold=False, user=user
        )

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
        reply = await self.store.append_message(
            session.id,
            role=Role.ASSISTANT,
            content=text,
            author_id=profile.id,
            author_name=profile.name,
            reply_to=answering.id,
            tokens=tokens,
            tokens_source=source,
        )
        self.quota.spend(session.binding_key, reply.tokens)
        return reply
