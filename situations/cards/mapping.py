"""A character card's fields as persona fields, and a persona as a V3 card.

Card -> persona: see `persona_fields`; persona -> card: see `card_data`. What a persona has
no field for stays in its `card` field and goes back out on export; the persona settings a card
has no field for travel in the card's `extensions.sessionbot`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from situations.cards.dialogue import join_examples, split_examples
from situations.cards.errors import CardError
from situations.cards.macros import from_template, to_template
from situations.cards.parse import Card
from situations.lore import Lorebook, LoreEntry
from situations.models import AgentProfile

__all__ = ["EXTENSION", "card_data", "persona_fields"]

EXTENSION = "sessionbot"
"""The key under the card's `extensions` holding persona settings a card has no field for."""
_SITUATION_PARTS = ("system_prompt", "description", "personality", "scenario")
_MAPPED = frozenset(
    {
        *_SITUATION_PARTS,
        "name",
        "first_mes",
        "mes_example",
        "alternate_greetings",
        "tags",
        "post_history_instructions",
        "character_book",
    }
)
# Persona settings kept in extensions.sessionbot, so that export then import gives them back.
_SETTINGS = (
    "description",
    "model",
    "temperature",
    "max_tokens",
    "avatar_url",
    "context",
    "render_templates",
    "metadata",
)
_PLAIN_SETTINGS = ("model", "temperature", "max_tokens", "avatar_url")
_ENTRY_FIELDS = (
    "name",
    "keys",
    "secondary_keys",
    "selective",
    "constant",
    "case_sensitive",
    "priority",
    "insertion_order",
    "enabled",
    "content",
)
_BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget")
# Values export writes when a persona has nothing for them; import drops them again.
_EMPTY: dict[str, Any] = {
    "creator_notes": "",
    "creator": "",
    "character_version": "",
    "extensions": {},
    "group_only_greetings": [],
}


def persona_fields(card: Card, avatar: str | None = None) -> dict[str, Any]:
    """The fields of the persona file for `card`, in the order they are written.

    `avatar` is the file name of the card's image beside the persona file, if one is saved.
    """
    source = card.fields
    settings, kept = _split_extensions(card)
    templates = settings.get("render_templates", True) is not False
    nickname = source.get("nickname") if card.version >= 3 else None
    character = nickname or card.name
    text: Callable[[str], str] = (
        (lambda value: to_template(value, character)) if templates else _same
    )
    pairs, leftover = split_examples(source.get("mes_example") or "")
    fields: dict[str, Any] = {"name": card.name}
    if settings.get("description"):
        fields["description"] = settings["description"]
    fields["situation"] = text(_situation(source, leftover))
    fields.update({k: settings[k] for k in _PLAIN_SETTINGS if settings.get(k) is not None})
    if avatar is not None and settings.get("avatar_url") is None:
        fields["avatar"] = avatar
    if source.get("first_mes"):
        fields["greeting"] = text(source["first_mes"])
    if source.get("alternate_greetings"):
        fields["alternate_greetings"] = [text(item) for item in source["alternate_greetings"]]
    if pairs:
        fields["example_dialogue"] = [{"user": text(u), "assistant": text(a)} for u, a in pairs]
    if source.get("post_history_instructions"):
        fields["post_history_instructions"] = text(source["post_history_instructions"])
    if source.get("tags"):
        fields["tags"] = list(source["tags"])
    if source.get("character_book") is not None:
        fields["lore"] = _lore_fields(source["character_book"], text)
    if isinstance(settings.get("context"), dict):
        fields["context"] = settings["context"]
    fields["render_templates"] = templates
    if isinstance(settings.get("metadata"), dict) and settings["metadata"]:
        fields["metadata"] = settings["metadata"]
    if kept:
        fields["card"] = kept
    return fields


def _split_extensions(card: Card) -> tuple[dict[str, Any], dict[str, Any]]:
    """The persona settings in `extensions.sessionbot`, and the card fields kept as they are
    (without the values export writes for a persona that has nothing for them)."""
    settings: dict[str, Any] = {}
    kept = {key: value for key, value in card.fields.items() if key not in _MAPPED}
    extensions = card.fields.get("extensions")
    if isinstance(extensions, dict) and isinstance(extensions.get(EXTENSION), dict):
        settings = dict(extensions[EXTENSION])
        kept["extensions"] = {k: v for k, v in extensions.items() if k != EXTENSION}
    kept.update(card.extra)
    return settings, {k: v for k, v in kept.items() if _EMPTY.get(k, ...) != v}


def _situation(source: dict[str, Any], leftover: str) -> str:
    parts = [source.get(key) or "" for key in _SITUATION_PARTS]
    situation = "\n\n".join(part.strip("\n") for part in [*parts, leftover] if part.strip())
    if not situation:
        raise CardError(
            "the card has no description, personality, scenario or system_prompt to make the "
            "situation from"
        )
    return situation


def _lore_fields(book: dict[str, Any], text: Callable[[str], str]) -> dict[str, Any]:
    fields: dict[str, Any] = {key: book[key] for key in _BOOK_FIELDS if book.get(key) is not None}
    entries = []
    for entry in book.get("entries") or []:
        mapped = {key: entry[key] for key in _ENTRY_FIELDS if entry.get(key) is not None}
        if isinstance(mapped.get("content"), str):
            mapped["content"] = text(mapped["content"])
        mapped.setdefault("content", "")
        extra = {
            key: value
            for key, value in entry.items()
            if key not in _ENTRY_FIELDS and not (key == "extensions" and value == {})
        }
        if extra:
            mapped["extra"] = extra
        entries.append(mapped)
    fields["entries"] = entries
    extra = {
        key: value
        for key, value in book.items()
        if key not in (*_BOOK_FIELDS, "entries") and not (key == "extensions" and value == {})
    }
    if extra:
        fields["extra"] = extra
    return fields


def card_data(profile: AgentProfile) -> dict[str, Any]:
    """The persona as the `data` of a V3 card."""
    text: Callable[[str], str] = from_template if profile.render_templates else _same
    settings = {
        key: _plain(getattr(profile, key))
        for key in _SETTINGS
        if getattr(profile, key)
        != AgentProfile.model_fields[key].get_default(call_default_factory=True)
        or key == "render_templates"
    }
    data: dict[str, Any] = {
        "name": profile.name,
        "description": text(profile.situation),
        "personality": "",
        "scenario": "",
        "first_mes": text(profile.greeting or ""),
        "mes_example": join_examples(
            [(text(ex.user), text(ex.assistant)) for ex in profile.example_dialogue]
        ),
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": text(profile.post_history_instructions or ""),
        "alternate_greetings": [text(item) for item in profile.alternate_greetings],
        "tags": list(profile.tags),
        "creator": "",
        "character_version": "",
        "extensions": {},
        "group_only_greetings": [],
    }
    if profile.lore is not None:
        data["character_book"] = _book(profile.lore, text)
    data.update(_plain(profile.card))
    extensions = data["extensions"] if isinstance(data["extensions"], dict) else {}
    data["extensions"] = {**extensions, EXTENSION: settings}
    return data


def _same(value: str) -> str:
    return value


def _plain(value: Any) -> Any:
    """A value as plain JSON data (models as their fields)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def _book(book: Lorebook, text: Callable[[str], str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        key: getattr(book, key) for key in _BOOK_FIELDS if getattr(book, key) is not None
    }
    fields["extensions"] = {}
    fields.update(book.extra)
    fields["entries"] = [_entry(entry, text) for entry in book.entries]
    return fields


def _entry(entry: LoreEntry, text: Callable[[str], str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "keys": list(entry.keys),
        "content": text(entry.content),
        "extensions": {},
        "enabled": entry.enabled,
        "insertion_order": entry.insertion_order,
        "case_sensitive": entry.case_sensitive,
        "constant": entry.constant,
        "selective": entry.selective,
        "secondary_keys": list(entry.secondary_keys),
        "priority": entry.priority,
    }
    if entry.name is not None:
        fields["name"] = entry.name
    fields.update(entry.extra)
    return fields
