"""A Discord message as the text the model reads: content plus its attachments.

Text files (text/* and common source and data extensions) are included, up to a size cap per
message, with a note when cut; other files are noted by name so the model knows they exist.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

log = logging.getLogger(__name__)

TEXT_CAP = 32 * 1024  # characters of attached text per message
DOWNLOAD_CAP = 1024 * 1024  # larger files are not downloaded at all

_EXTENSIONS = """
txt md markdown rst csv tsv log json jsonl yaml yml toml ini cfg conf env xml html htm css
py pyi js mjs cjs ts tsx jsx java kt kts c h cc cpp hpp cs go rs rb php pl lua r sql sh bash
zsh fish ps1 bat swift scala clj ex exs erl hs ml fs dart vue svelte tex diff patch
"""
TEXT_EXTENSIONS = frozenset(_EXTENSIONS.split())
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/toml")


class AttachmentLike(Protocol):
    """The part of `discord.Attachment` used here."""

    filename: str
    size: int
    content_type: str | None

    async def read(self, *, use_cached: bool = False) -> bytes: ...


@dataclass(frozen=True)
class Included:
    name: str
    text: str
    truncated: bool


def is_text(filename: str, content_type: str | None) -> bool:
    """True for files read as text: text/* types and well-known text extensions."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("text/") or kind in TEXT_TYPES:
        return True
    return PurePosixPath(filename.lower()).suffix.removeprefix(".") in TEXT_EXTENSIONS


def decode_text(data: bytes) -> str | None:
    """UTF-8 text (invalid bytes replaced); None for binary data (NUL bytes)."""
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def describe_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def note_for(attachment: AttachmentLike, reason: str = "not included") -> str:
    kind = f"{attachment.content_type}, " if attachment.content_type else ""
    size = describe_size(attachment.size)
    return f"[attached file {attachment.filename} ({kind}{size}), {reason}]"


def render(content: str, included: Sequence[Included], notes: Sequence[str]) -> str:
    """The message text: content, then each included file, then notes about the others."""
    blocks = [content] if content.strip() else []
    for item in included:
        block = f"[attached file {item.name}]\n{item.text}\n[end of {item.name}]"
        if item.truncated:
            shown = f"{len(item.text):,}"
            block += f"\n[{item.name} was cut: only its first {shown} characters are included]"
        blocks.append(block)
    blocks.extend(notes)
    return "\n\n".join(blocks)


async def message_text(
    content: str, attachments: Sequence[AttachmentLike], *, cap: int = TEXT_CAP
) -> str:
    """`content` with the attachments folded in, within `cap` characters of attached text."""
    included: list[Included] = []
    notes: list[str] = []
    budget = cap
    for attachment in attachments:
        if not is_text(attachment.filename, attachment.content_type):
            notes.append(note_for(attachment))
            continue
        if budget <= 0:
            notes.append(note_for(attachment, "not included: the text limit was reached"))
            continue
        if attachment.size > DOWNLOAD_CAP:
            notes.append(note_for(attachment, "not included: too large"))
            continue
        text = await _read(attachment)
        if text is None:
            notes.append(note_for(attachment, "not included: could not be read as text"))
            continue
        included.append(Included(attachment.filename, text[:budget], len(text) > budget))
        budget -= len(text)
    return render(content, included, notes)


async def _read(attachment: AttachmentLike) -> str | None:
    try:
        data = await attachment.read()
    except Exception as exc:  # any download failure just leaves the file out
        log.warning("could not download attachment %s: %s", attachment.filename, exc)
        return None
    return decode_text(data)
