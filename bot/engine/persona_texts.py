"""The persona's texts around the history for one reply: fired lore, examples, and the
post-history instructions, each rendered as a template when the persona renders templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.engine.tokens import estimate_tokens, message_tokens
from situations import AgentProfile, TemplateRenderer, TemplateVariables
from situations.lore import LoreEntry, select_lore


@dataclass(frozen=True)
class PersonaTexts:
    """What a reply sends from the persona besides its situation."""

    lore: tuple[LoreEntry, ...] = ()
    lore_text: str = ""
    examples: tuple[tuple[str, str], ...] = ()
    after_history: str | None = None

    @property
    def tokens(self) -> int:
        """Tokens of the examples and the post-history line (the lore is in the system text)."""
        examples = sum(message_tokens(user) + message_tokens(said) for user, said in self.examples)
        after = message_tokens(self.after_history) if self.after_history else 0
        return examples + after


async def persona_texts(
    renderer: TemplateRenderer,
    profile: AgentProfile,
    recent: Sequence[str],
    variables: TemplateVariables,
) -> PersonaTexts:
    """The texts for a reply whose conversation ends with `recent` (oldest first).

    Raises TemplateError if one of them fails to render.
    """
    lore: list[LoreEntry] = []
    if profile.lore is not None:
        lore = select_lore(profile.lore, recent, estimate_tokens)
    rendered = [await _render(renderer, profile, entry.content, variables) for entry in lore]
    examples = [
        (
            await _render(renderer, profile, example.user, variables),
            await _render(renderer, profile, example.assistant, variables),
        )
        for example in profile.example_dialogue
    ]
    after = profile.post_history_instructions
    return PersonaTexts(
        lore=tuple(lore),
        lore_text="\n\n".join(text.strip() for text in rendered if text.strip()),
        examples=tuple(examples),
        after_history=await _render(renderer, profile, after, variables) if after else None,
    )


async def _render(
    renderer: TemplateRenderer, profile: AgentProfile, text: str, variables: TemplateVariables
) -> str:
    if not profile.render_templates or "{" not in text:
        return text
    return await renderer.render(profile.model_copy(update={"situation": text}), variables)
