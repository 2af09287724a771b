"""Errors of the persona layer, each worded for the person editing the YAML files."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PersonaError",
    "PersonaLoadError",
    "PersonaNotFound",
    "TemplateError",
    "TemplateLimitError",
]


@dataclass(frozen=True)
class PersonaError:
    """One problem in one persona file, e.g. ``personas/sara.yaml:7: temperature: must be <= 2``."""

    path: Path
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        location = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        parts = [location] if self.field is None else [location, self.field]
        return ": ".join([*parts, self.message])


class PersonaLoadError(Exception):
    """A persona file could not be loaded; ``errors`` lists every problem found, one per line."""

    def __init__(self, errors: Iterable[PersonaError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


class PersonaNotFound(Exception):
    """No persona with the requested id is loaded."""

    def __init__(self, persona_id: str, available: Sequence[str]) -> None:
        self.persona_id = persona_id
        self.available = sorted(available)
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        if not self.available:
            return f"There is no persona {self.persona_id!r}: no personas are loaded."
        sentence = f"There is no persona {self.persona_id!r}."
        close = difflib.get_close_matches(self.persona_id, self.available, n=1)
        if close:
            sentence += f" Did you mean {close[0]!r}?"
        return f"{sentence} Available personas: {', '.join(self.available)}."


class TemplateError(Exception):
    """A persona's situation template cannot be rendered; one line, never a traceback."""

    def __init__(self, persona_id: str, reason: str, template_line: int | None = None) -> None:
        self.persona_id = persona_id
        self.reason = reason
        self.template_line = template_line
        where = "" if template_line is None else f" line {template_line}"
        super().__init__(f"Persona {persona_id!r}: situation template{where}: {reason}")


class TemplateLimitError(TemplateError):
    """The template went over a limit: it took too long, needed too much memory or made too
    large a value or text. A persona file whose sample render does this is not loaded."""
