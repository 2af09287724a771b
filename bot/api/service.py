"""What the session endpoints do, apart from HTTP: resolve personas, situations and changes.

A session either follows its persona (`Session.follows_persona`: the engine moves it to each
new version of the file, situation and all) or has a situation of its own (persona edits leave
its situation alone). A session created without a situation
follows its persona; sending a situation pins it; PATCH with `"situation": null` makes it
follow its persona again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from bot.api.errors import ApiError
from bot.api.models import SessionCreate, SessionFields, SessionPatch
from bot.engine import Engine, Pinned
from situations import AgentProfile, TemplateError, check_template
from storage import UNSET, Session, SessionChanges, SessionStatus, Unset

__all__ = ["Prompt", "create_session", "patch_session", "replace_session"]

log = logging.getLogger(__name__)

_OVERFLOW = {"adaptive": "summarize", "summarize": "summarize", "truncate": "truncate"}


@dataclass(frozen=True)
class Prompt:
    """A session's situation, whether it is a template, and the persona version it follows."""

    situation: str
    render_templates: bool
    persona_version: str | None

    def pinned(self) -> Pinned | None:
        """How the engine is told: None follows the persona."""
        if self.persona_version is not None:
            return None
        return Pinned(situation=self.situation, render_templates=self.render_templates)

    @classmethod
    def following(cls, profile: AgentProfile) -> Prompt:
        return cls(profile.situation, profile.render_templates, profile.version)

    @classmethod
    def own(cls, profile: AgentProfile, situation: str, render_templates: bool) -> Prompt:
        if render_templates:
            candidate = profile.model_copy(
                update={"situation": situation, "render_templates": True}
            )
            try:
                check_template(candidate)
            except TemplateError as exc:
                raise ApiError(
                    422, "invalid_template", f"situation: {exc}", field="situation"
                ) from None
        return cls(situation, render_templates, None)


def resolve_agent(engine: Engine, body: SessionCreate) -> AgentProfile | None:
    """The main persona: named by `agent` or `agent_id`, else the first of `agents`; None if
    none is named."""
    named = [name for name in (body.agent, body.agent_id) if name is not None]
    if not named and body.agents:
        named = body.agents[:1]
    distinct = sorted(set(named))
    if len(distinct) > 1:
        raise ApiError(
            422,
            "invalid_field",
            f"agent: a session has one persona, but {', '.join(map(repr, distinct))} were named.",
            field="agent",
        )
    return lookup_agent(engine, distinct[0]) if distinct else None


def guest_agents(engine: Engine, body: SessionCreate, main: str) -> list[AgentProfile]:
    """The personas of `agents` besides the main one, in order, each a loaded persona."""
    guests = dict.fromkeys(agent for agent in body.agents or [] if agent != main)
    return [lookup_agent(engine, agent) for agent in guests]


def lookup_agent(engine: Engine, persona_id: str) -> AgentProfile:
    profile = engine.find_persona(persona_id)
    if profile is None:
        available = ", ".join(p.id for p in engine.list_personas()) or "none are loaded"
        raise ApiError(
            404,
            "agent_not_found",
            f"There is no agent (persona) {persona_id!r}. Available: {available}. "
            "GET /agents lists them.",
            field="agent",
        )
    return profile


def resolve_user(body: SessionCreate) -> str | None:
    named = [name for name in (body.user, body.user_id) if name is not None]
    named += body.users or []
    distinct = sorted(set(named))
    if len(distinct) > 1:
        raise ApiError(
            422,
            "invalid_field",
            f"user: a session has one user, but {', '.join(map(repr, distinct))} were named.",
            field="user",
        )
    return distinct[0] if distinct else None


def check_context_fields(body: SessionFields, profile: AgentProfile | None) -> None:
    """Context settings belong to the persona: a request may repeat them, not change them."""
    if body.system_template is not None:
        raise ApiError(
            422,
            "unsupported_field",
            "system_template: sessionbot sends the situation as the system prompt; put the "
            "template in `situation` and set `render_templates: true`.",
            field="system_template",
        )
    wanted: dict[str, Any] = {
        "token_budget": body.token_budget,
        "context_overflow": body.context_overflow,
    }
    if all(value is None for value in wanted.values()):
        return
    if profile is None:
        raise ApiError(
            409,
            "agent_unavailable",
            "The session's persona is not loaded, so its context settings cannot be checked; "
            "leave token_budget and context_overflow out.",
        )
    actual: dict[str, Any] = {
        "token_budget": profile.context.token_budget,
        "context_overflow": profile.context.overflow,
    }
    for name, value in wanted.items():
        if value is None:
            continue
        given = _OVERFLOW[value] if name == "context_overflow" else value
        if given != actual[name]:
            raise ApiError(
                422,
                "unsupported_field",
                f"{name}: sessions use their persona's context settings, and persona "
                f"{profile.id!r} has {actual[name]!r}. Leave {name} out, or change "
                f"`context` in {profile.source.name}.",
                field=name,
            )


def _prompt(profile: AgentProfile, situation: str | None, render_templates: bool | None) -> Prompt:
    """POST/PUT: no situation follows the persona (unless render_templates differs from it)."""
    if situation is not None:
        return Prompt.own(profile, situation, bool(render_templates))
    if render_templates is None or render_templates == profile.render_templates:
        return Prompt.following(profile)
    return Prompt.own(profile, profile.situation, render_templates)


async def create_session(
    engine: Engine, body: SessionCreate, *, session_id: UUID | None = None
) -> Session:
    """A new active session on the named (or default) persona, greeted like any other."""
    profile = resolve_agent(engine, body) or lookup_agent(engine, engine.default_persona)
    guests = guest_agents(engine, body, profile.id)
    check_context_fields(body, profile)
    prompt = _prompt(profile, body.situation, body.render_templates)
    started = await engine.start_session(
        persona_id=profile.id,
        user_id=resolve_user(body),
        metadata=body.metadata,
        tags=body.tags or (),
        pinned=prompt.pinned(),
        session_id=session_id,
    )
    for guest in guests:
        await engine.cast.add(started.session.id, guest.id)
    return started.session


async def replace_session(
    engine: Engine, current: Session, body: SessionCreate | SessionFields
) -> Session:
    """PUT (and POST /sessions/{id} on an existing id): every settable field takes the body's
    value or its default; `agent` and `user` change only when given."""
    profile: AgentProfile | None = None
    agent_id: str | Unset = UNSET
    user_id: str | Unset | None = UNSET
    guests: list[AgentProfile] | None = None
    if isinstance(body, SessionCreate):
        profile = resolve_agent(engine, body)
        if "agents" in body.model_fields_set:
            guests = guest_agents(engine, body, profile.id if profile else current.agent_id)
        if profile is not None and profile.id != current.agent_id:
            agent_id = profile.id
        if {"user", "user_id", "users"} & body.model_fields_set:
            user_id = resolve_user(body)
    if profile is None:
        profile = lookup_agent(engine, current.agent_id)
    check_context_fields(body, profile)
    prompt = _prompt(profile, body.situation, body.render_templates)
    changes = SessionChanges(
        agent_id=agent_id,
        user_id=user_id,
        situation=prompt.situation,
        render_templates=prompt.render_templates,
        persona_version=prompt.persona_version,
        metadata=body.metadata or {},
        replace_metadata=True,
        tags=body.tags or (),
    )
    session = await engine.update_session(current.id, changes)
    if guests is not None:
        await engine.cast.set_others(session.id, [guest.id for guest in guests])
    return session


async def patch_session(engine: Engine, current: Session, body: SessionPatch) -> Session:
    """PATCH: only the fields sent change; metadata merges key by key (null removes a key)."""
    sent = body.model_fields_set
    profile = engine.find_persona(current.agent_id)
    check_context_fields(body, profile)
    if body.status == "active" and current.status is SessionStatus.ENDED:
        raise ApiError(
            409,
            "session_ended",
            f"Session {current.id} has ended and cannot be reopened; create a new session.",
            field="status",
        )
    changes = SessionChanges()
    if {"situation", "render_templates"} & sent:
        prompt = _patched_prompt(engine, current, profile, body)
        changes = replace(
            changes,
            situation=prompt.situation,
            render_templates=prompt.render_templates,
            persona_version=prompt.persona_version,
        )
    if "metadata" in sent:
        changes = replace(changes, metadata=body.metadata or {})
    if "tags" in sent:
        changes = replace(changes, tags=body.tags or [])
    session = current
    if changes != SessionChanges():
        session = await engine.update_session(current.id, changes)
    if body.status == "ended":
        session = await engine.end_session(current.id)
    return session


def _patched_prompt(
    engine: Engine, current: Session, profile: AgentProfile | None, body: SessionPatch
) -> Prompt:
    sent = body.model_fields_set
    if profile is None:
        profile = lookup_agent(engine, current.agent_id)
    if "situation" in sent and body.situation is None:
        if "render_templates" in sent and body.render_templates != profile.render_templates:
            raise ApiError(
                422,
                "invalid_field",
                "render_templates: a session that follows its persona uses the persona's "
                "render_templates; send a situation too, or leave render_templates out.",
                field="render_templates",
            )
        return Prompt.following(profile)
    render_templates = (
        body.render_templates
        if "render_templates" in sent and body.render_templates is not None
        else current.render_templates
    )
    if body.situation is not None:
        return Prompt.own(profile, body.situation, render_templates)
    if current.follows_persona and render_templates == profile.render_templates:
        return Prompt.following(profile)
    return Prompt.own(profile, current.situation, render_templates)
