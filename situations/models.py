"""The persona profile model: what a persona YAML file may contain."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)

from situations.lore import Lorebook

__all__ = ["LOADER_FIELDS", "AgentProfile", "ContextSettings", "ExampleExchange"]

AVATAR_PATTERN = r"^[^/\\\x00]+\.([Pp][Nn][Gg]|[Jj][Pp][Ee]?[Gg]|[Ww][Ee][Bb][Pp]|[Gg][Ii][Ff])$"
"""An avatar file name: no folders, an image suffix (spelled for JSON Schema regexes too)."""

_UrlText = Annotated[str, Field(json_schema_extra={"format": "uri", "pattern": "^https?://"})]

LOADER_FIELDS = frozenset({"id", "version", "source"})
"""Fields set by the loader, never written in the YAML file."""


class ContextSettings(BaseModel):
    """How much conversation history goes into each request to the model."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_messages: int = Field(
        default=40,
        ge=1,
        le=2000,
        title="Maximum messages",
        description="The most recent messages kept in context (1 to 2000).",
    )
    token_budget: int = Field(
        default=3000,
        ge=100,
        le=1_000_000,
        title="Token budget",
        description="Approximate tokens of history sent with each request (100 to 1,000,000).",
    )
    overflow: Literal["truncate", "summarize"] = Field(
        default="truncate",
        title="Overflow",
        description=(
            "What happens to history that no longer fits: 'truncate' drops the oldest "
            "messages, 'summarize' folds them into the session summary."
        ),
    )


class ExampleExchange(BaseModel):
    """One example turn showing the model how this persona answers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    user: str = Field(title="User says", description="What the person says.")
    assistant: str = Field(title="Persona answers", description="How the persona answers.")


class AgentProfile(BaseModel):
    """A persona: the situation (system prompt) and settings a session starts from."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(description="The file name without its extension; set by the loader.")
    name: str = Field(
        min_length=1, title="Name", description="The persona's display name, e.g. 'Sara'."
    )
    description: str = Field(
        default="", title="Description", description="One line shown in persona lists."
    )
    situation: str = Field(
        min_length=1,
        title="Situation",
        description=(
            "The system prompt that sets the scene for every session with this persona. "
            "With render_templates: true it is a Jinja template over user, persona, place, "
            "metadata, now, date and time."
        ),
    )
    model: str | None = Field(
        default=None,
        title="Model",
        description="The model to use; leave out for the configured default model.",
    )
    temperature: float | None = Field(
        default=None,
        ge=0,
        le=2,
        title="Temperature",
        description="Sampling temperature from 0 to 2; leave out for the model's default.",
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=200_000,
        title="Maximum reply tokens",
        description="Upper limit on the length of one reply, in tokens (1 to 200,000).",
    )
    greeting: str | None = Field(
        default=None,
        title="Greeting",
        description="The first message the persona posts when a session starts.",
    )
    example_dialogue: list[ExampleExchange] = Field(
        default_factory=list,
        title="Example dialogue",
        description="Example exchanges placed before the conversation to show the voice.",
    )
    avatar_url: _UrlText | None = Field(
        default=None,
        title="Avatar URL",
        description="An http(s) URL of the persona's picture.",
    )
    avatar: str | None = Field(
        default=None,
        title="Avatar file",
        description=(
            "An image file beside the YAML (PNG, JPEG, WebP or GIF, at most 8 MB), e.g. "
            "'sara.png': the persona's picture in Discord without hosting it anywhere. "
            "Use this or avatar_url, not both."
        ),
        json_schema_extra={"pattern": AVATAR_PATTERN},
    )
    tags: list[str] = Field(
        default_factory=list, title="Tags", description="Free-form labels for finding personas."
    )
    alternate_greetings: list[str] = Field(
        default_factory=list,
        title="Alternate greetings",
        description="Other first messages, kept from a character card (and exported back).",
    )
    post_history_instructions: str | None = Field(
        default=None,
        title="Post-history instructions",
        description="A system line sent after the conversation, just before each reply.",
    )
    lore: Lorebook | None = Field(
        default=None,
        title="Lore",
        description="Entries inserted after the situation when their keys come up.",
    )
    card: dict[str, JsonValue] = Field(
        default_factory=dict,
        title="Card",
        description=(
            "Fields of an imported character card that have no persona field (creator, "
            "creator_notes, extensions, ...); kept so that export gives them back."
        ),
    )
    context: ContextSettings = Field(
        default_factory=ContextSettings,
        title="Context",
        description="How much conversation history the persona sees.",
    )
    render_templates: bool = Field(
        default=False,
        title="Render templates",
        description="Treat the situation as a Jinja template rendered for each session.",
    )
    metadata: dict[str, JsonValue] = Field(
        default_factory=dict,
        title="Metadata",
        description="Default metadata copied into every new session with this persona.",
    )
    version: str = Field(description="Content hash of the file; set by the loader.")
    source: Path = Field(description="The file the persona was loaded from; set by the loader.")

    @field_validator("name", "situation")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("avatar_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("avatar")
    @classmethod
    def _avatar_file_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("avatar_url") is not None:
            raise ValueError("set avatar (a file) or avatar_url (a link), not both")
        if not re.fullmatch(AVATAR_PATTERN, value):
            raise ValueError(
                "must be the name of an image file beside the persona file ending in .png, "
                f".jpg, .jpeg, .webp or .gif (no folders), got {value!r}"
            )
        return value

    def avatar_file(self) -> Path | None:
        """The avatar image (the `avatar` field, beside the persona file), if there is one."""
        return None if self.avatar is None else self.source.parent / self.avatar

    @field_validator("metadata", "card")
    @classmethod
    def _finite_numbers(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        where = _non_finite_path(value, info.field_name or "metadata")
        if where is not None:
            raise ValueError(f"numbers must be finite; {where} is .nan or .inf")
        return value


def _non_finite_path(value: object, path: str) -> str | None:
    """The path of the first NaN or infinite float inside a JSON value, if any."""
    pending: list[tuple[object, str]] = [(value, path)]
    seen: set[int] = set()
    while pending:
        item, where = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where
        if isinstance(item, dict | list):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, dict):
            pending.extend((v, f"{where}.{k}") for k, v in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None
