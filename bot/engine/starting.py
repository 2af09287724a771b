"""Starting a session: create it on a persona (or a pinned situation of its own) and greet.

The greeting is rendered like the situation, stored as the persona's first message, and a
persona's `alternate_greetings` become its alternatives (swipes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bot.engine.regenerate import add_greeting_alternatives
from bot.engine.tokens import message_tokens
from situations import AgentProfile
from storage import Message, Role, Session

if TYPE_CHECKING:
    from bot.engine.core import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Started:
    session: Session
    greeting: Message | None


@dataclass(frozen=True)
class Pinned:
    """A situation of the session's own: edits of the persona's file leave it alone."""

    situation: str
    render_templates: bool


async def start(
    engine: Engine,
    profile: AgentProfile,
    *,
    binding_key: str | None,
    user_id: str | None,
    metadata: Mapping[str, Any] | None,
    tags: Iterable[str],
    pinned: Pinned | None,
    session_id: UUID | None,
) -> Started:
    """A new session on `profile` (following it unless `pinned`), with its greeting stored."""
    store = engine.store
    session = await store.create_session(
        agent_id=profile.id,
        situation=pinned.situation if pinned else profile.situation,
        user_id=user_id,
        metadata={**profile.metadata, **(metadata or {})},
        tags=tags,
        render_templates=pinned.render_templates if pinned else profile.render_templates,
        binding_key=binding_key,
        persona_version=None if pinned else profile.version,
        session_id=session_id,
    )
    greeting = None
    text = await engine.contexts.greeting(session, profile)
    if text:
        greeting = await store.append_message(
            session.id,
            role=Role.ASSISTANT,
            content=text,
            author_id=profile.id,
            author_name=profile.name,
            tokens=message_tokens(text),
        )
        await add_greeting_alternatives(engine, session, profile, greeting)
        session = await store.get_session(session.id)  # the greeting bumped it
    log.info("started session %s on persona %s", session.id, profile.id)
    return Started(session=session, greeting=greeting)
