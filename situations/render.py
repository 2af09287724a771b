"""Render a persona's situation as a sandboxed Jinja template."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.meta import find_undeclared_variables

from situations.errors import TemplateError, TemplateLimitError
from situations.limits import TemplateLimit
from situations.models import AgentProfile
from situations.sandbox import BoundedSandbox, describe, render_bounded

__all__ = [
    "TEMPLATE_VARIABLES",
    "TemplateVariables",
    "check_template",
    "render_situation",
    "sample_variables",
    "template_error",
]

TEMPLATE_VARIABLES = ("user", "persona", "place", "metadata", "now", "date", "time")
"""The names a situation template may use; their values always come from code."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TemplateVariables:
    """The values a situation template sees.

    ``user`` is the display name of the person talking, ``persona`` the persona's name,
    ``place`` the channel or guild name (or "terminal"), ``metadata`` the session metadata
    and ``now`` an aware datetime (converted to UTC for the template).
    """

    user: str
    persona: str
    place: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    now: datetime = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValueError("TemplateVariables.now must be a timezone-aware datetime")

    def namespace(self) -> dict[str, Any]:
        """The template namespace: the fields plus ``date`` (ISO) and ``time`` (HH:MM UTC)."""
        now = self.now.astimezone(UTC)
        return {
            "user": self.user,
            "persona": self.persona,
            "place": self.place,
            "metadata": self.metadata,
            "now": now,
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M"),
        }


def _environment() -> BoundedSandbox:
    # Immutable: templates cannot modify the metadata dict (or any list or dict) they are given.
    return BoundedSandbox()


def sample_variables(profile: AgentProfile) -> TemplateVariables:
    """The values a persona is test-rendered with when its file loads."""
    return TemplateVariables(
        user="there", persona=profile.name, place="terminal", metadata=profile.metadata
    )


def check_template(profile: AgentProfile) -> None:
    """Raise TemplateError if the situation is not a valid template over the known variables.

    Does nothing for a profile with ``render_templates: false``.
    """
    if not profile.render_templates:
        return
    environment = _environment()
    try:
        tree = environment.parse(profile.situation)
    except jinja2.TemplateSyntaxError as exc:
        reason, line = describe(exc)
        raise TemplateError(profile.id, reason, line) from exc
    known = set(TEMPLATE_VARIABLES) | set(environment.globals)
    unknown = find_undeclared_variables(tree) - known
    if not unknown:
        return
    lines = {name: _first_use(tree, name) for name in unknown}
    name = min(unknown, key=lambda n: (lines[n], n))
    raise TemplateError(profile.id, _unknown_variable(name), lines[name])


def _first_use(tree: nodes.Template, name: str) -> int:
    uses = [node.lineno for node in tree.find_all(nodes.Name) if node.name == name]
    return min(uses, default=1)


def _unknown_variable(name: str) -> str:
    reason = f"unknown variable {name!r}"
    close = difflib.get_close_matches(name, TEMPLATE_VARIABLES, n=1)
    if close:
        reason += f" (did you mean {close[0]!r}?)"
    return f"{reason}; available: {', '.join(TEMPLATE_VARIABLES)}"


def render_situation(profile: AgentProfile, variables: TemplateVariables) -> str:
    """The situation for a session: rendered if ``render_templates`` is true, else unchanged.

    Renders in this process, within the sandbox's size limits but with no time limit: the
    engine renders through a `TemplateRenderer`, which adds that bound.
    Raises TemplateError (one line, naming the persona) for syntax errors, undefined values,
    anything the sandbox refuses, and any other failure inside the template.
    """
    if not profile.render_templates:
        return profile.situation
    try:
        template = _environment().from_string(profile.situation)
        return render_bounded(template, variables.namespace())
    except Exception as exc:
        raise template_error(profile.id, exc) from exc


def template_error(persona_id: str, exc: Exception) -> TemplateError:
    """The TemplateError for a failure inside a template (TemplateLimitError for a limit)."""
    reason, line = describe(exc)
    if isinstance(exc, TemplateLimit):
        return TemplateLimitError(persona_id, reason, line)
    return TemplateError(persona_id, reason, line)
