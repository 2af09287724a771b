"""How the context window of a reply is built: what the model is sent, and what is left out.

The situation (rendered), the lore entries the recent messages fire, the session summary, the
persona's example dialogue, then as much recent history as the persona's message cap and token
budget allow, newest kept first, and last the persona's post-history instructions. Messages
that no longer fit may be folded into the summary (see `summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.engine.chatmodel import ChatMessage, ChatModel, ChatRequest
from bot.engine.errors import SituationFailed
from bot.engine.persona_texts import PersonaTexts, persona_texts
from bot.engine.summary import fold_history
from bot.engine.tokens import MESSAGE_OVERHEAD, estimate_tokens, message_tokens
from situations import (
    AgentProfile,
    ContextSettings,
    TemplateError,
    TemplateRenderer,
    TemplateVariables,
)
from situations.lore import LoreEntry
from storage import Message, Role, Session, Store, TurnState


@dataclass(frozen=True)
class Context:
    """Exactly what the model will be sent for one reply, and what was left out."""

    request: ChatRequest
    history: Sequence[Message]
    tokens: int
    omitted: int
    summarized: int = 0
    lore: Sequence[LoreEntry] = ()
    """The lore entries that fired for this reply, in the order they were inserted."""
    post_history: bool = False
    """Whether the last message is the persona's post-history instructions (a message added
    to the conversation goes before it)."""

    @property
    def messages(self) -> Sequence[ChatMessage]:
        return self.request.messages


@dataclass(frozen=True)
class ContextPlan:
    """The messages that fit, oldest first, and how many candidates were left out."""

    kept: Sequence[Message]
    omitted: int
    tokens: int

    @property
    def cut(self) -> int | None:
        """The lowest message id kept: everything below it is out of the window."""
        return min((message.id for message in self.kept), default=None)


def conversation_order(messages: Sequence[Message], upto: Message | None) -> list[Message]:
    """Messages as the conversation reads, for a reply to `upto` (None: to everything stored).

    User messages stored after `upto` are still waiting for their own reply and are left out.
    A reply sits right after the message it answers, even when other messages were stored
    while it was being written.
    """
    pending_after = upto.id if upto is not None else None
    visible = [
        message
        for message in messages
        if pending_after is None
        or message.id <= pending_after
        or (message.reply_to is not None and message.reply_to <= pending_after)
    ]
    return sorted(visible, key=lambda message: (message.reply_to or message.id, message.id))


def plan_context(
    candidates: Sequence[Message],
    *,
    settings: ContextSettings,
    fixed_tokens: int,
    fraction: float = 1.0,
    speaker: str | None = None,
) -> ContextPlan:
    """Keep the newest messages that fit both the message cap and the token budget.

    Whole messages only, oldest dropped first. The newest message is always kept, even if it
    alone is over budget, since the model cannot answer a message it does not see.
    """
    max_messages = max(1, int(settings.max_messages * fraction))
    budget = int((settings.token_budget - fixed_tokens) * fraction)
    kept: list[Message] = []
    used = 0
    names: dict[str, int] = {}  # the "Name: " prefix's tokens, estimated once per name
    for message in reversed(candidates):
        cost = _cost(message, names, speaker)
        if kept and (len(kept) >= max_messages or used + cost > budget):
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return ContextPlan(kept=kept, omitted=len(candidates) - len(kept), tokens=used)


def _cost(message: Message, names: dict[str, int], speaker: str | None = None) -> int:
    """Stored estimates include the message framing; a server's usage count does not."""
    cost = message.tokens
    if message.tokens_source == "usage":
        cost += MESSAGE_OVERHEAD
    if message.role is Role.USER or _other_persona(message, speaker):  # "Name: " prefixed
        name = message.author_name or message.author_id or "user"
        prefix = names.get(name)
        if prefix is None:
            prefix = names[name] = estimate_tokens(name) + 1  # the "Name: " prefix
        cost += prefix
    return cost


def _other_persona(message: Message, speaker: str | None) -> bool:
    """True for a reply of another persona than `speaker` (None: no persona's view)."""
    return (
        speaker is not None
        and message.role is Role.ASSISTANT
        and message.author_id not in (None, speaker)
    )


def render_history(messages: Sequence[Message], speaker: str | None = None) -> list[ChatMessage]:
    """Stored messages as chat messages; each user line carries its author's display name.

    For persona `speaker`, another persona's replies (their `author_id` is that persona's id)
    are lines of the conversation like people's, attributed by name; its own stay its own.
    """
    rendered: list[ChatMessage] = []
    for message in messages:
        if message.role is Role.USER or _other_persona(message, speaker):
            name = message.author_name or message.author_id or "user"
            rendered.append({"role": "user", "content": f"{name}: {message.content}"})
        elif message.role is Role.ASSISTANT:
            rendered.append({"role": "assistant", "content": message.content})
        else:
            rendered.append({"role": "system", "content": message.content})
    return rendered


@dataclass(frozen=True)
class ContextBuilder:
    """Builds the window for one reply: situation + summary + examples + recent history."""

    store: Store
    model: ChatModel
    default_model: str
    clock: Callable[[], datetime]
    renderer: TemplateRenderer

    async def build(
        self,
        session: Session,
        profile: AgentProfile,
        *,
        upto: Message | None,
        place: str,
        fold: bool = True,
        user: str | None = None,
        company: Sequence[str] = (),
        before: int | None = None,
        stored: TurnState | None = None,
    ) -> Context:
        """The context of a reply to `upto` (None: to everything stored).

        With `fold` and a persona whose overflow is `summarize`, messages that no longer fit
        are folded into the session's summary first, down to half the budget. `user` names
        the person the templates address when there is no `upto` to take the name from;
        `company` names the session's other personas (`profile` speaks). With `before`, the
        history stops short of that message id (a regenerated reply sees what it saw first).
        `stored`: the session's state just read (`Turn.prepare`), whose history is used when
        it reaches as far back as this window does.
        """
        settings = profile.context
        wanted = settings.max_messages + 1
        candidates = await self._candidates(
            session, wanted, upto, before, prefetched(stored, session, wanted, before)
        )
        texts = await self._texts(session, profile, candidates, upto, place, user)
        lore = "\n\n".join(filter(None, (texts.lore_text, company_note(profile, company))))
        system = await self.system_prompt(session, profile, upto, place, user, lore)
        fixed = fixed_tokens(system, texts)
        plan = plan_context(candidates, settings=settings, fixed_tokens=fixed, speaker=profile.id)
        summarized = 0
        if fold and settings.overflow == "summarize" and plan.omitted:
            keep = plan_context(
                candidates, settings=settings, fixed_tokens=fixed, fraction=0.5, speaker=profile.id
            )
            folded = await fold_history(
                self.store,
                self.model,
                session,
                profile,
                before=keep.cut,
                default_model=self.default_model,
            )
            if folded:
                session = await self.store.get_session(session.id)
                system = await self.system_prompt(session, profile, upto, place, user, lore)
                plan, summarized = keep, folded
                fixed = fixed_tokens(system, texts)
        return self._context(profile, system, texts, plan, summarized, fixed)

    async def _texts(
        self,
        session: Session,
        profile: AgentProfile,
        candidates: Sequence[Message],
        upto: Message | None,
        place: str,
        user: str | None,
    ) -> PersonaTexts:
        """The fired lore, examples and post-history line, rendered for this reply."""
        variables = self._variables(session, profile, upto, place, user)
        recent = [message.content for message in candidates]
        try:
            return await persona_texts(self.renderer, profile, recent, variables)
        except TemplateError as exc:
            raise SituationFailed(str(exc)) from None

    async def _candidates(
        self,
        session: Session,
        wanted: int,
        upto: Message | None,
        before: int | None = None,
        stored: list[Message] | None = None,
    ) -> list[Message]:
        """The latest `wanted` messages a reply to `upto` may see, in conversation order
        (`stored`: those latest `wanted`, read already).

        Messages stored after `upto` that still wait for their own reply are not counted, so a
        burst of new messages does not shrink the window (one more read, only then).
        """
        if stored is None:
            stored = await self.store.recent_history(
                session.id, limit=wanted, before=before, after=session.summarized_through
            )
        candidates = conversation_order(stored, upto)
        waiting = len(stored) - len(candidates)
        if waiting and len(stored) == wanted:
            stored = await self.store.recent_history(
                session.id, limit=wanted + waiting, before=before, after=session.summarized_through
            )
            candidates = conversation_order(stored, upto)
        return candidates

    def _context(
        self,
        profile: AgentProfile,
        system: str,
        texts: PersonaTexts,
        plan: ContextPlan,
        summarized: int,
        fixed: int,
    ) -> Context:
        messages: list[ChatMessage] = [{"role": "system", "content": system}]
        for user, said in texts.examples:
            messages.append({"role": "user", "content": user})
            messages.append({"role": "assistant", "content": said})
        messages.extend(render_history(plan.kept, profile.id))
        if texts.after_history:
            messages.append({"role": "system", "content": texts.after_history})
        request = ChatRequest(
            messages=messages,
            model=profile.model or self.default_model,
            temperature=profile.temperature,
            max_tokens=profile.max_tokens,
        )
        return Context(
            request=request,
            history=plan.kept,
            tokens=plan.tokens + fixed,
            omitted=plan.omitted,
            summarized=summarized,
            lore=texts.lore,
            post_history=bool(texts.after_history),
        )

    async def system_prompt(
        self,
        session: Session,
        profile: AgentProfile,
        upto: Message | None,
        place: str,
        user: str | None = None,
        lore: str = "",
    ) -> str:
        """The rendered situation (the persona's, or the session's own), the fired `lore` and
        the summary."""
        source = profile
        if not session.follows_persona and profile.id == session.agent_id:  # not a guest's
            source = profile.model_copy(
                update={
                    "situation": session.situation,
                    "render_templates": session.render_templates,
                }
            )
        variables = self._variables(session, profile, upto, place, user)
        try:
            situation = await self.renderer.render(source, variables)
        except TemplateError as exc:
            raise SituationFailed(str(exc)) from None
        if lore:
            situation += f"\n\n{lore}"
        if session.summary:
            situation += f"\n\nSummary of the conversation so far:\n{session.summary}"
        return situation

    async def greeting(self, session: Session, profile: AgentProfile) -> str | None:
        """The persona's greeting for a new session, rendered like its other texts: `user` is
        whoever started the session (`started_by_name` in its metadata), else "there"."""
        if not profile.greeting:
            return None
        if not profile.render_templates or "{" not in profile.greeting:
            return profile.greeting
        starter = session.metadata.get("started_by_name")
        user = starter if isinstance(starter, str) and starter else None
        variables = self._variables(session, profile, None, "", user)
        try:
            return await self.renderer.render(
                profile.model_copy(update={"situation": profile.greeting}), variables
            )
        except TemplateError as exc:
            raise SituationFailed(str(exc)) from None

    def _variables(
        self,
        session: Session,
        profile: AgentProfile,
        upto: Message | None,
        place: str,
        user: str | None,
    ) -> TemplateVariables:
        return TemplateVariables(
            user=(upto.author_name if upto and upto.author_name else user or "there"),
            persona=profile.name,
            place=place,
            metadata=dict(session.metadata),
            now=self.clock(),
        )


def prefetched(
    state: TurnState | None, session: Session, wanted: int, before: int | None
) -> list[Message] | None:
    """The latest `wanted` messages of `state`'s history, if it holds them: read up to the
    same `before`, after the same summary, with at least that limit (or all there was)."""
    if (
        state is None
        or state.session.id != session.id
        or state.before != before
        or state.session.summarized_through != session.summarized_through
        or (state.limit < wanted and len(state.history) >= state.limit)
    ):
        return None
    return list(state.history[-wanted:]) if wanted else []


def company_note(profile: AgentProfile, company: Sequence[str]) -> str:
    """The line telling a persona who else speaks in the session (nothing when alone)."""
    if not company:
        return ""
    return (
        f"Other personas in this conversation: {', '.join(company)}. Their lines appear as "
        f'"Name: text". You are {profile.name}: speak only as yourself.'
    )


def fixed_tokens(system: str, texts: PersonaTexts) -> int:
    """Tokens of what every reply sends besides the history: the system text (situation, lore
    and summary), the examples and the post-history line."""
    return message_tokens(system) + texts.tokens
