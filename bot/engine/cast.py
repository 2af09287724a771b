"""Several personas in one session: who is in it, who answers a message, and switching.

A session's main persona is its `agent_id`; other personas may join it (`/session add`, the
API's `agents`). A message is answered by the persona named in it (its name, case-insensitive,
as a whole word; the one named first if several are), else by the persona whose message it
replies to, else by the main persona. Each reply records its persona (`author_id` is the
persona's id), so every persona sees its own lines as its own (assistant lines) and the other
personas' lines attributed by name like people's ("Bob: ..."), see `context.render_history`.

Switching the main persona mid-conversation changes the session's `agent_id` and situation
(the session follows the new persona from then on) and is recorded in the history as a system
note, which the model sees too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from bot.engine.errors import PersonaUnavailable, SessionbotError
from bot.engine.tokens import message_tokens
from situations import AgentProfile, PersonaNotFound, PersonaRegistry
from storage import PersonaDefault, Role, Session, SessionChanges, Store
from storage.locks import KeyedLocks

log = logging.getLogger(__name__)


class AlreadyMain(SessionbotError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is already this session's main persona.")


class AlreadyIn(SessionbotError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is already in this session.")


class NotInSession(SessionbotError):
    def __init__(self, persona_id: str) -> None:
        super().__init__(
            f"`{persona_id}` is not in this session; `/session info` lists its personas."
        )


class MainStays(SessionbotError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"{name} is this session's main persona and cannot leave it; switch to another "
            "persona with `/session persona` first."
        )


def named_first(text: str, members: Sequence[AgentProfile]) -> AgentProfile | None:
    """The persona whose name `text` mentions first (case-insensitive, as a whole word)."""
    found: tuple[int, AgentProfile] | None = None
    for profile in members:
        name = profile.name.strip()
        if not name:
            continue
        match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        if match is not None and (found is None or match.start() < found[0]):
            found = (match.start(), profile)
    return found[1] if found is not None else None


def choose_speaker(
    main: str, members: Sequence[AgentProfile], text: str, replied_to: str | None = None
) -> str:
    """The id of the persona that answers `text`: named, else replied to, else `main`."""
    named = named_first(text, members)
    if named is not None:
        return named.id
    if replied_to is not None and any(profile.id == replied_to for profile in members):
        return replied_to
    return main


RECENT_SECONDS: Final = 2.0
"""How long a session's personas, once read, are taken as known: one message's intake, turn
and reply read them once. Changes made through this engine apply at once; changes made by
another process (e.g. an API process adding a persona) within this long."""

RECENT_KEPT: Final = 4096


@dataclass
class RecentAgents:
    """The personas besides the main one of recently active sessions, with when each expires."""

    entries: dict[UUID, tuple[float, list[str]]] = field(default_factory=dict)

    def get(self, session_id: UUID) -> list[str] | None:
        entry = self.entries.get(session_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, session_id: UUID, others: list[str]) -> list[str]:
        if len(self.entries) >= RECENT_KEPT:
            now = time.monotonic()
            self.entries = {k: v for k, v in self.entries.items() if v[0] >= now}
            if len(self.entries) >= RECENT_KEPT:
                self.entries.clear()
        self.entries[session_id] = (time.monotonic() + RECENT_SECONDS, others)
        return others

    def forget(self, session_id: UUID) -> None:
        self.entries.pop(session_id, None)


@dataclass(frozen=True)
class Cast:
    """The personas of sessions, over the engine's store, registry and session locks."""

    store: Store
    personas: PersonaRegistry
    locks: KeyedLocks
    recent: RecentAgents = field(default_factory=RecentAgents)

    async def others(self, session_id: UUID) -> list[str]:
        """The ids of the session's personas besides its main one (read at most once in
        `RECENT_SECONDS`)."""
        known = self.recent.get(session_id)
        if known is not None:
            return list(known)
        return list(self.recent.put(session_id, await self.store.session_agents(session_id)))

    async def ids(self, session: Session) -> list[str]:
        """Every persona of the session, the main one first, then in the order they joined."""
        others = await self.others(session.id)
        return [session.agent_id, *(agent for agent in others if agent != session.agent_id)]

    async def ids_of(self, sessions: Sequence[Session]) -> dict[UUID, list[str]]:
        """`ids` of many sessions in one query."""
        others = await self.store.sessions_agents(session.id for session in sessions)
        return {
            s.id: [s.agent_id, *(agent for agent in others[s.id] if agent != s.agent_id)]
            for s in sessions
        }

    async def members(self, session: Session) -> list[AgentProfile]:
        """The loaded personas of the session (a persona whose file is gone is left out)."""
        loaded = (self.personas.maybe_get(agent) for agent in await self.ids(session))
        return [profile for profile in loaded if profile is not None]

    def name_of(self, persona_id: str) -> str:
        profile = self.personas.maybe_get(persona_id)
        return profile.name if profile is not None else persona_id

    async def speaker(self, session: Session, text: str, replied_to: str | None = None) -> str:
        """The id of the persona that answers `text` in `session` (see the module)."""
        if not await self.others(session.id):
            return session.agent_id
        return choose_speaker(session.agent_id, await self.members(session), text, replied_to)

    async def speaking(
        self, session: Session, main: AgentProfile, wanted: str | None
    ) -> tuple[AgentProfile, list[str]]:
        """The persona that speaks now (`wanted` if it is still in the session, else the main
        one) and the names of the session's other personas."""
        members = [main, *(p for p in await self.members(session) if p.id != main.id)]
        speaker = next((p for p in members if p.id == wanted), main)
        return speaker, [p.name for p in members if p.id != speaker.id]

    def _loaded(self, persona_id: str) -> AgentProfile:
        try:
            return self.personas.get(persona_id)
        except PersonaNotFound as exc:
            raise PersonaUnavailable(str(exc)) from None

    async def add(self, session_id: UUID, persona_id: str) -> list[str]:
        """Add a loaded persona to the session; return every persona of it now."""
        profile = self._loaded(persona_id)
        session = await self.store.get_session(session_id)
        if session.agent_id == profile.id:
            raise AlreadyMain(profile.name)
        if profile.id in await self.store.session_agents(session_id):
            raise AlreadyIn(profile.name)
        others = self.recent.put(
            session_id, await self.store.add_session_agent(session_id, profile.id)
        )
        log.info("persona %s joined session %s", profile.id, session_id)
        return [session.agent_id, *others]

    async def remove(self, session_id: UUID, persona_id: str) -> list[str]:
        """Take a persona (not the main one) out of the session; return the rest."""
        session = await self.store.get_session(session_id)
        if session.agent_id == persona_id:
            raise MainStays(self.name_of(persona_id))
        if persona_id not in await self.store.session_agents(session_id):
            raise NotInSession(persona_id)
        others = self.recent.put(
            session_id, await self.store.remove_session_agent(session_id, persona_id)
        )
        log.info("persona %s left session %s", persona_id, session_id)
        return [session.agent_id, *others]

    async def set_others(self, session_id: UUID, persona_ids: Sequence[str]) -> list[str]:
        """Make `persona_ids` (loaded personas) the session's personas besides its main one."""
        wanted = [self._loaded(persona_id).id for persona_id in dict.fromkeys(persona_ids)]
        current = await self.store.session_agents(session_id)
        for persona_id in current:
            if persona_id not in wanted:
                await self.store.remove_session_agent(session_id, persona_id)
        others = current
        for persona_id in wanted:
            others = await self.store.add_session_agent(session_id, persona_id)
        self.recent.forget(session_id)
        return others

    async def switch(self, session_id: UUID, persona_id: str, *, by: str | None) -> Session:
        """Make a loaded persona the session's main one (the previous main one leaves), with
        its situation; record the switch in the history as a system note."""
        profile = self._loaded(persona_id)
        async with self.locks.hold(session_id):  # between replies, never during one
            session = await self.store.get_session(session_id)
            if session.agent_id == profile.id:
                raise AlreadyMain(profile.name)
            before = self.name_of(session.agent_id)
            changes = SessionChanges(
                agent_id=profile.id,
                situation=profile.situation,
                render_templates=profile.render_templates,
                persona_version=profile.version,
            )
            session = await self.store.update_session(session_id, changes)
            await self.store.remove_session_agent(session_id, profile.id)
            self.recent.forget(session_id)
            note = f"{by} switched the persona" if by else "The persona was switched"
            note += f" from {before} to {profile.name}; {profile.name} speaks from here on."
            await self.store.append_message(
                session_id, role=Role.SYSTEM, content=note, tokens=message_tokens(note)
            )
        log.info("session %s switched to persona %s", session_id, profile.id)
        return session

    # The persona each place starts with ------------------------------------------------------

    async def place_default(self, scope_keys: Sequence[str]) -> AgentProfile | None:
        """The loaded default persona of the first of `scope_keys` that has one (a default
        whose persona is no longer loaded is passed over, with a warning)."""
        found = await self.store.persona_default(scope_keys)
        if found is None:
            return None
        profile = self.personas.maybe_get(found.persona_id)
        if profile is None:
            log.warning(
                "the default persona %r of %s is not loaded; using the bot's default",
                found.persona_id,
                found.scope_key,
            )
        return profile

    async def set_place_default(
        self, scope_key: str, persona_id: str | None, *, set_by: str | None
    ) -> AgentProfile | None:
        """Make a loaded persona the one `scope_key` starts with (None: clear the default)."""
        profile = self._loaded(persona_id) if persona_id is not None else None
        await self.store.set_persona_default(
            scope_key, profile.id if profile else None, set_by=set_by
        )
        return profile

    async def place_defaults(self, scope: str) -> list[PersonaDefault]:
        """The defaults set for `scope` and the places under it."""
        return await self.store.persona_defaults(scope)
