"""The persona texts besides the situation that are templates when `render_templates` is on:
greeting, alternate greetings, example lines, post-history instructions and lore entries."""

from __future__ import annotations

from situations.errors import TemplateError
from situations.models import AgentProfile
from situations.render import check_template

__all__ = ["template_field_errors", "template_fields"]

Where = tuple[str | int, ...]


def template_fields(profile: AgentProfile) -> list[tuple[Where, str]]:
    """Each templated text other than the situation, with where it is in the file."""
    found: list[tuple[Where, str]] = []
    if profile.greeting is not None:
        found.append((("greeting",), profile.greeting))
    found += [(("alternate_greetings", i), t) for i, t in enumerate(profile.alternate_greetings)]
    for index, example in enumerate(profile.example_dialogue):
        found.append((("example_dialogue", index, "user"), example.user))
        found.append((("example_dialogue", index, "assistant"), example.assistant))
    if profile.post_history_instructions is not None:
        found.append((("post_history_instructions",), profile.post_history_instructions))
    if profile.lore is not None:
        found += [
            (("lore", "entries", index, "content"), entry.content)
            for index, entry in enumerate(profile.lore.entries)
        ]
    return found


def template_field_errors(profile: AgentProfile) -> list[tuple[Where, TemplateError]]:
    """The templated texts (other than the situation) that are not valid templates."""
    if not profile.render_templates:
        return []
    errors: list[tuple[Where, TemplateError]] = []
    for where, text in template_fields(profile):
        try:
            check_template(profile.model_copy(update={"situation": text}))
        except TemplateError as exc:
            errors.append((where, exc))
    return errors
