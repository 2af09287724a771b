"""Persona profiles: a strict model, a YAML loader with readable errors, a sandboxed
template renderer and a registry that reloads personas when their files change."""

from situations.errors import (
    PersonaError,
    PersonaLoadError,
    PersonaNotFound,
    TemplateError,
    TemplateLimitError,
)
from situations.loader import check_directory, load_profile
from situations.models import AgentProfile, ContextSettings, ExampleExchange
from situations.registry import PersonaRegistry, ReloadReport
from situations.render import TemplateVariables, check_template, render_situation
from situations.renderer import TemplateRenderer
from situations.schema import profile_json_schema

__all__ = [
    "AgentProfile",
    "ContextSettings",
    "ExampleExchange",
    "PersonaError",
    "PersonaLoadError",
    "PersonaNotFound",
    "PersonaRegistry",
    "ReloadReport",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRenderer",
    "TemplateVariables",
    "check_directory",
    "check_template",
    "load_profile",
    "profile_json_schema",
    "render_situation",
]
