"""Lorebooks: entries of background text that enter the context when their keys come up.

The model (`Lorebook`, `LoreEntry`) is part of a persona file (its `lore` field); `select_lore`
decides, for one reply, which entries fire. Token counts come from the caller, so that this
module needs no tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

__all__ = ["LoreEntry", "Lorebook", "select_lore"]


class LoreEntry(BaseModel):
    """One piece of lore: inserted when one of its keys appears in the recent messages."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str | None = Field(
        default=None, title="Name", description="A label for people editing the file."
    )
    keys: list[str] = Field(
        default_factory=list,
        title="Keys",
        description="Words or phrases; the entry fires when any of them appears.",
    )
    secondary_keys: list[str] = Field(
        default_factory=list,
        title="Secondary keys",
        description="With selective: true, one of these must appear too.",
    )
    selective: bool = Field(
        default=False,
        title="Selective",
        description="Fire only when a key and a secondary key both appear.",
    )
    constant: bool = Field(
        default=False, title="Constant", description="Always inserted, whatever the messages."
    )
    case_sensitive: bool = Field(
        default=False, title="Case sensitive", description="Match keys with their exact case."
    )
    priority: int = Field(
        default=0,
        title="Priority",
        description="Higher goes first, and is kept first when the budget runs out.",
    )
    insertion_order: int = Field(
        default=0,
        title="Insertion order",
        description="Among entries of equal priority, lower goes first.",
    )
    enabled: bool = Field(default=True, title="Enabled", description="false: never inserted.")
    content: str = Field(title="Content", description="The text inserted into the context.")
    extra: dict[str, JsonValue] = Field(
        default_factory=dict,
        title="Card fields",
        description="Fields of an imported card's entry that sessionbot keeps for export.",
    )

    @model_validator(mode="after")
    def _needs_keys(self) -> LoreEntry:
        if not self.constant and not any(key.strip() for key in self.keys):
            raise ValueError("an entry needs at least one key, unless it is constant: true")
        return self

    def fires(self, text: str) -> bool:
        """Whether this entry's keys (and, if selective, a secondary key) appear in `text`."""
        if self.constant:
            return True
        if not _any_key(self.keys, text, self.case_sensitive):
            return False
        if self.selective and self.secondary_keys:
            return _any_key(self.secondary_keys, text, self.case_sensitive)
        return True

    @property
    def label(self) -> str:
        """How the entry is named in displays: its name, else its first key."""
        if self.name:
            return self.name
        return next((key for key in self.keys if key.strip()), "(constant)")


class Lorebook(BaseModel):
    """A persona's lore: its entries and how much of the context they may take."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str | None = Field(default=None, title="Name", description="The book's name.")
    description: str | None = Field(
        default=None, title="Description", description="Notes about the book."
    )
    scan_depth: int = Field(
        default=4,
        ge=0,
        le=1000,
        title="Scan depth",
        description="How many of the latest messages are searched for keys (0 to 1000).",
    )
    token_budget: int = Field(
        default=500,
        ge=0,
        le=1_000_000,
        title="Token budget",
        description=(
            "Most tokens the inserted entries may take; counted within the persona's "
            "context.token_budget."
        ),
    )
    entries: list[LoreEntry] = Field(
        default_factory=list, title="Entries", description="The lore entries."
    )
    extra: dict[str, JsonValue] = Field(
        default_factory=dict,
        title="Card fields",
        description="Fields of an imported card's book that sessionbot keeps for export.",
    )


def select_lore(
    book: Lorebook, recent: Sequence[str], estimate: Callable[[str], int]
) -> list[LoreEntry]:
    """The entries to insert for a reply, in insertion order (highest priority first).

    `recent` holds the conversation's messages, oldest first; the last `scan_depth` are
    searched. Constant entries always fire. Entries are taken in order while they fit the
    book's token budget (`estimate` gives an entry's cost); one that does not fit is skipped.
    """
    window = "\n".join(recent[-book.scan_depth :]) if book.scan_depth else ""
    fired = [
        entry
        for entry in book.entries
        if entry.enabled and entry.content.strip() and entry.fires(window)
    ]
    fired.sort(key=lambda entry: (-entry.priority, entry.insertion_order))
    chosen: list[LoreEntry] = []
    used = 0
    for entry in fired:
        cost = estimate(entry.content)
        if used + cost > book.token_budget:
            continue
        chosen.append(entry)
        used += cost
    return chosen


def _any_key(keys: Sequence[str], text: str, case_sensitive: bool) -> bool:
    return any(_pattern(key.strip(), case_sensitive).search(text) for key in keys if key.strip())


@lru_cache(maxsize=1024)
def _pattern(key: str, case_sensitive: bool) -> re.Pattern[str]:
    """A key matches as a whole word (or phrase) where it starts or ends with a letter/digit."""
    start = r"(?<!\w)" if key[0].isalnum() else ""
    end = r"(?!\w)" if key[-1].isalnum() else ""
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(f"{start}{re.escape(key)}{end}", flags)
