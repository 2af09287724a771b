"""Attaching a session made elsewhere (e.g. through the HTTP API) to a front end's place.

The rules hold for every front end: only an active session, never one already in another place
of the same front end (a session never moves from one server or DM to another), in a private
place only the session's own user's, only while its persona is loaded, and only where no other
session is active. The check and the move are one transaction in the store, so two processes
attaching the same session cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bot.engine.errors import (
    AlreadyAttachedHere,
    AttachedElsewhere,
    AttachEnded,
    NotYourSession,
    PersonaNotLoaded,
    PlaceTaken,
    UnknownSession,
)
from storage import UNSET, Session, SessionChanges, SessionStatus, Unset
from storage.errors import BindingConflict, BindingMoved, SessionEnded, SessionNotFound

if TYPE_CHECKING:
    from bot.engine.core import Engine


@dataclass(frozen=True)
class Binding:
    """A place a session can be bound to, as its front end describes it."""

    key: str
    family: str  # the key prefix every place of this front end shares, e.g. "discord:"
    private: bool = False  # one person's place (a DM): only their own sessions come here
    place: str = "conversation"  # what such a place is called, e.g. "Discord channel"
    noun: str = "conversation"  # the same, short: "This channel already has ..."
    start_hint: str = "start a new session here"
    end_hint: str = "end it first"


async def attach(
    engine: Engine,
    session_id: UUID,
    binding: Binding,
    *,
    user_id: str,
    metadata: Mapping[str, Any],
) -> Session:
    """Bind the session to `binding`, merge `metadata` into it, and return it."""
    session = await _attachable(engine, session_id, binding, user_id)
    try:
        await engine.store.bind_session(session.id, binding.key, expected_key=session.binding_key)
    except BindingMoved:  # another process attached it meanwhile
        raise AttachedElsewhere(session.id, binding.place, binding.noun) from None
    except BindingConflict:  # a session started here meanwhile
        active = await engine.store.active_session(binding.key)
        persona = active.agent_id if active else "another persona"
        raise PlaceTaken(persona, binding.noun, binding.end_hint) from None
    except SessionEnded:  # ended elsewhere meanwhile
        raise AttachEnded(session.id, binding.start_hint) from None
    # In a private place the caller is the session's only possible user: record them if unset.
    owner: str | Unset = user_id if binding.private and not session.user_id else UNSET
    changes = SessionChanges(metadata=metadata, user_id=owner)
    return await engine.store.update_session(session.id, changes)


async def _attachable(engine: Engine, session_id: UUID, binding: Binding, user_id: str) -> Session:
    """The session, if it may be attached at `binding` by `user_id`; else the refusal."""
    try:
        session = await engine.store.get_session(session_id)
    except SessionNotFound:
        raise UnknownSession(session_id) from None
    if session.status is SessionStatus.ENDED:
        raise AttachEnded(session_id, binding.start_hint)
    if session.binding_key == binding.key:
        raise AlreadyAttachedHere(session_id)
    if session.binding_key is not None and session.binding_key.startswith(binding.family):
        raise AttachedElsewhere(session_id, binding.place, binding.noun)
    if binding.private and session.user_id and session.user_id != user_id:
        raise NotYourSession(session_id)
    if engine.find_persona(session.agent_id) is None:
        raise PersonaNotLoaded(session_id, session.agent_id)
    active = await engine.store.active_session(binding.key)
    if active is not None:
        raise PlaceTaken(active.agent_id, binding.noun, binding.end_hint)
    return session
