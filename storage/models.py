"""Domain models returned by the session store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from .limits import copy_json

__all__ = [
    "UNSET",
    "HistorySize",
    "Message",
    "Role",
    "Session",
    "SessionChanges",
    "SessionPage",
    "SessionStatus",
    "TokensSource",
    "Unset",
    "format_timestamp",
    "normalize_tags",
]

TokensSource = Literal["estimate", "usage"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


class Unset(Enum):
    """Type of the `UNSET` sentinel: "leave this field as it is"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class SessionStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Strip, lower-case, join inner whitespace with "-", drop empties, de-duplicate, sort.

    A bare string counts as one tag, not as a sequence of one-letter tags.
    """
    items = [tags] if isinstance(tags, str) else tags
    cleaned = {"-".join(tag.lower().split()) for tag in items}
    cleaned.discard("")
    return sorted(cleaned)


def format_timestamp(moment: datetime) -> str:
    """Julep style: UTC, ISO 8601, `Z` suffix, microseconds only when non-zero."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (how timestamps are stored)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


class Session(BaseModel):
    """A conversation, shaped like a Julep session plus our tags, status and binding."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    agent_id: str
    user_id: str | None
    situation: str
    summary: str | None = None
    metadata: dict[str, Any]
    render_templates: bool = False
    created_at: datetime
    updated_at: datetime
    tags: list[str]
    status: SessionStatus
    binding_key: str | None
    persona_version: str | None
    summarized_through: int | None

    @property
    def follows_persona(self) -> bool:
        """True if the session moves to each new version of its persona, situation and all.

        A session with a situation of its own (set through the API or by hand) is pinned:
        persona edits leave its situation and template setting alone.
        """
        return self.persona_version is not None

    def to_julep(self) -> dict[str, Any]:
        """JSON-ready dict in the Julep session shape (no internal fields)."""
        return {
            "id": str(self.id),
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "situation": self.situation,
            "summary": self.summary,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "metadata": copy_json(self.metadata),
            "render_templates": self.render_templates,
            "tags": list(self.tags),
            "status": self.status.value,
        }


@dataclass(frozen=True)
class SessionChanges:
    """Fields to change on a session; UNSET leaves a field as it is.

    `metadata` merges key by key (a None value removes the key) unless `replace_metadata`;
    `tags`, when set, becomes the session's whole tag list.
    """

    agent_id: str | Unset = UNSET
    user_id: str | Unset | None = UNSET
    situation: str | Unset = UNSET
    render_templates: bool | Unset = UNSET
    persona_version: str | Unset | None = UNSET
    summary: str | Unset | None = UNSET
    summarized_through: int | Unset | None = UNSET
    metadata: Mapping[str, Any] | None = None
    replace_metadata: bool = False
    tags: Iterable[str] | Unset = UNSET

    def columns(self) -> dict[str, object]:
        """The plain columns that change (metadata and tags are merged by the store)."""
        fields = {
            "agent_id": self.agent_id, "user_id": self.user_id, "situation": self.situation,
            "render_templates": self.render_templates, "persona_version": self.persona_version,
            "summary": self.summary, "summarized_through": self.summarized_through,
        }  # fmt: skip
        return {column: value for column, value in fields.items() if value is not UNSET}


class Message(BaseModel):
    """One stored message; `id` orders messages across the whole database."""

    model_config = ConfigDict(frozen=True)

    id: int
    session_id: UUID
    role: Role
    author_id: str | None
    author_name: str | None
    content: str
    created_at: datetime
    external_id: str | None
    tokens: int
    tokens_source: TokensSource
    reply_to: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; `Message.model_validate` reads it back."""
        return {
            "id": self.id,
            "session_id": str(self.session_id),
            "role": self.role.value,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "content": self.content,
            "created_at": format_timestamp(self.created_at),
            "external_id": self.external_id,
            "tokens": self.tokens,
            "tokens_source": self.tokens_source,
            "reply_to": self.reply_to,
        }


@dataclass(frozen=True)
class HistorySize:
    """How many messages a session holds and the UTF-8 bytes of their text and authors."""

    messages: int
    text_bytes: int


class SessionPage(BaseModel):
    """One page of `list_sessions`; pass `next_cursor` back to get the next page."""

    items: list[Session]
    next_cursor: str | None
