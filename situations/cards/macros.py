"""Card macros to persona templates and back.

A card writes `{{char}}` (or `<BOT>`) for the character and `{{user}}` (or `<USER>`) for the
person. An imported persona renders its texts as Jinja templates (`render_templates: true`):
the character's name is written in, `{{user}}` becomes `{{ user }}`, and every other brace
that Jinja would read is protected, so the card's text reaches the model as it was written.
"""

from __future__ import annotations

import re

__all__ = ["from_template", "to_template"]

_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}|<(BOT|USER)>", re.IGNORECASE)
_LITERAL_BRACE = "{{ '{' }}"
_USER = "{{ user }}"
_BACK = re.compile(r"\{\{ '\{' \}\}|\{\{ user \}\}|\{\{ persona \}\}")


def _literal(text: str) -> str:
    """Text that renders as itself in Jinja: every `{` is written as an expression.

    Protecting each `{` (not only those before `{`, `%` or `#`) means no join of two pieces can
    open a tag by accident.
    """
    return text.replace("{", _LITERAL_BRACE)


def to_template(text: str, character: str) -> str:
    """A card text as a persona template: macros replaced, every other brace protected."""
    parts: list[str] = []
    position = 0
    for match in _MACRO.finditer(text):
        parts.append(_literal(text[position : match.start()]))
        who = (match.group(1) or match.group(2)).lower()
        parts.append(_literal(character) if who in ("char", "bot") else _USER)
        position = match.end()
    parts.append(_literal(text[position:]))
    return "".join(parts)


def from_template(template: str) -> str:
    """A persona template as card text: `{{ user }}` -> `{{user}}`, `{{ persona }}` ->
    `{{char}}`, protected braces -> `{`. Other Jinja is left as it is."""

    def back(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == _USER:
            return "{{user}}"
        if token == "{{ persona }}":  # noqa: S105 (a template, not a password)
            return "{{char}}"
        return "{"

    return _BACK.sub(back, template)
