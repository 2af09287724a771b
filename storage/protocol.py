"""The interface every session store implements; the engine depends on this, not on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from .cast import PersonaDefault
from .drafts import ReplyDraft
from .health import StoreStatus
from .listing import ListQuery, SessionListing
from .models import (
    HistorySize,
    Message,
    Role,
    Session,
    SessionChanges,
    SessionPage,
    TokensSource,
    Unset,
)
from .turns import Arrival, NewMessage, TurnState
from .usage import UsageQuery, UsageRow
from .variants import Variant

__all__ = ["Store"]


class Store(Protocol):
    """Sessions and their messages. Errors are `storage.errors` types; ids are the store's."""

    async def close(self) -> None: ...

    # Sessions

    async def create_session(
        self,
        *,
        agent_id: str,
        situation: str,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        render_templates: bool = False,
        binding_key: str | None = None,
        persona_version: str | None = None,
        summary: str | None = None,
        session_id: UUID | None = None,
    ) -> Session: ...

    async def get_session(self, session_id: UUID) -> Session: ...

    async def active_session(self, binding_key: str) -> Session | None: ...

    async def latest_session(self, binding_key: str) -> Session | None: ...

    async def list_sessions(self, query: ListQuery) -> SessionPage: ...

    async def session_listing(self, query: ListQuery) -> SessionListing: ...

    async def update_session(self, session_id: UUID, changes: SessionChanges) -> Session: ...

    async def retag(
        self, session_id: UUID, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Session: ...

    async def follow_persona(
        self, session_id: UUID, *, situation: str, persona_version: str, render_templates: bool
    ) -> Session: ...

    async def fold_summary(self, session_id: UUID, *, summary: str, through: int) -> Session: ...

    async def end_session(self, session_id: UUID) -> Session: ...

    async def bind_session(
        self, session_id: UUID, binding_key: str, *, expected_key: str | Unset | None = ...
    ) -> Session: ...

    async def delete_session(self, session_id: UUID) -> None: ...

    # Messages

    async def append_message(
        self,
        session_id: UUID,
        *,
        role: Role,
        content: str,
        author_id: str | None = None,
        author_name: str | None = None,
        external_id: str | None = None,
        tokens: int,
        tokens_source: TokensSource = "estimate",
        reply_to: int | None = None,
    ) -> Message: ...

    async def get_message(self, session_id: UUID, message_id: int) -> Message | None: ...

    async def latest_external_message(self, session_id: UUID) -> Message | None: ...

    async def reply_to(self, session_id: UUID, message_id: int) -> Message | None: ...

    async def recent_history(
        self, session_id: UUID, *, limit: int, before: int | None = None, after: int | None = None
    ) -> list[Message]: ...

    async def settled(self, session_id: UUID, message_id: int) -> bool: ...

    async def refuse_message(self, message_id: int) -> None: ...

    async def count_messages(self, session_id: UUID) -> int: ...

    async def message_counts(self, session_ids: Iterable[UUID]) -> dict[UUID, int]: ...

    async def edit_message(
        self, session_id: UUID, external_id: str, content: str, tokens: int
    ) -> Message | None: ...

    async def delete_message(self, session_id: UUID, external_id: str) -> bool: ...

    async def sessions_holding(self, binding_key: str, external_id: str) -> list[UUID]: ...

    async def clear_history(self, session_id: UUID) -> int: ...

    async def update_message_tokens(
        self, message_id: int, tokens: int, source: TokensSource = "usage"
    ) -> bool: ...

    def message_batches(
        self, session_id: UUID, *, before: int | None = None, batch_size: int = ...
    ) -> AsyncIterator[list[Message]]:
        """Every message (with id < `before`), oldest first, in keyset-paginated batches."""
        ...

    async def history_size(self, session_id: UUID) -> HistorySize: ...

    async def export_session(self, session_id: UUID, fmt: Literal["json", "md"]) -> str: ...

    # Alternatives of a reply (the message row holds the chosen one)

    async def add_variant(
        self,
        session_id: UUID,
        message_id: int,
        *,
        content: str,
        tokens: int,
        tokens_source: TokensSource = "estimate",
        choose: bool = True,
    ) -> Variant | None: ...

    async def choose_variant(
        self, session_id: UUID, message_id: int, idx: int
    ) -> Message | None: ...

    async def variants(self, session_id: UUID, message_id: int) -> list[Variant]: ...

    # Several personas in a session; the persona each place starts with

    async def session_agents(self, session_id: UUID) -> list[str]: ...

    async def sessions_agents(self, session_ids: Iterable[UUID]) -> dict[UUID, list[str]]: ...

    async def add_session_agent(self, session_id: UUID, agent_id: str) -> list[str]: ...

    async def remove_session_agent(self, session_id: UUID, agent_id: str) -> list[str]: ...

    async def set_persona_default(
        self, scope_key: str, persona_id: str | None, *, set_by: str | None = None
    ) -> None: ...

    async def persona_default(self, scope_keys: Sequence[str]) -> PersonaDefault | None: ...

    async def persona_defaults(self, scope: str) -> list[PersonaDefault]: ...

    # A reply in flight: the session held (across processes where the backend can), its draft

    def hold_session(self, session_id: UUID) -> AbstractAsyncContextManager[None]: ...

    async def save_draft(
        self, session_id: UUID, message_id: int, *, target: str, posted: Sequence[str]
    ) -> None: ...

    async def draft(self, session_id: UUID, message_id: int) -> ReplyDraft | None: ...

    async def session_drafts(self, session_id: UUID) -> list[ReplyDraft]: ...

    async def clear_draft(self, session_id: UUID, message_id: int) -> None: ...

    # A message's way in and its answer, each read in one round trip

    async def arrival(
        self, binding_key: str, external_id: str, *, store: NewMessage | None = None
    ) -> Arrival: ...

    async def turn_state(
        self, session_id: UUID, message_id: int, *, limit: int, before: int | None = None
    ) -> TurnState: ...

    # The database itself

    async def status(self) -> StoreStatus: ...

    async def quick_check(self) -> list[str]: ...

    # Usage

    async def usage(self, query: UsageQuery) -> list[UsageRow]: ...

    async def tokens_since(self, key_prefix: str, since: datetime) -> int: ...
