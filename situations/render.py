"""Render a persona's situation as a sandboxed Jinja template."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.sandbox import ImmutableSandboxedEnvironment

from situations.errors import TemplateError
from situations.models import AgentProfile

__all__ = ["TEMPLATE_VARIABLES", "TemplateVariables", "check_template", "render_situation"]

TEMPLATE_VARIABLES = ("user", "persona", "place", "metadata", "now", "date", "time")
"""The names a situation template may use; their values always come from code."""

_TEMPLATE_FILENAME = "<template>"


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


def _environment() -> ImmutableSandboxedEnvironment:
    # Immutable: templates cannot modify the metadata dict (or any list or dict) they are given.
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
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
        raise TemplateError(profile.id, _syntax_reason(exc), exc.lineno) from exc
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

    Raises TemplateError (one line, naming the persona) for syntax errors, undefined values,
    anything the sandbox refuses, and any other failure inside the template.
    """
    if not profile.render_templates:
        return profile.situation
    environment = _environment()
    try:
        template = environment.from_string(profile.situation)
        return template.render(variables.namespace())
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(profile.id, _syntax_reason(exc), exc.lineno) from exc
    except SecurityError as exc:
        reason = f"refused by the sandbox: {_one_line(str(exc))}"
        raise TemplateError(profile.id, reason, _template_line(exc.__traceback__)) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(
            profile.id, _one_line(str(exc)), _template_line(exc.__traceback__)
        ) from exc
    except Exception as exc:  # a failing filter or operation inside the template
        reason = _one_line(f"{type(exc).__name__}: {exc}")
        raise TemplateError(profile.id, reason, _template_line(exc.__traceback__)) from exc


def _template_line(traceback: TracebackType | None) -> int | None:
    """The template line of the innermost frame that belongs to the template, if any."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _TEMPLATE_FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _syntax_reason(exc: jinja2.TemplateSyntaxError) -> str:
    reason = _one_line(exc.message or str(exc))
    return reason[:1].lower() + reason[1:]
