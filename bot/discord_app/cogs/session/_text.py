"""Small text helpers of the `/session` commands."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import discord

from bot.discord_app import embeds
from bot.discord_app.errors import NotASessionId
from bot.engine import Started


def session_id_of(text: str) -> UUID:
    """A session id as typed (braces, `urn:uuid:` and surrounding spaces are fine)."""
    try:
        return UUID(text.strip())
    except ValueError:
        raise NotASessionId(text) from None


def started_note(persona: str, user_id: int, tags: list[str]) -> str:
    tagged = f" · tags {embeds.tag_list(tags)}" if tags else ""
    return f"-# Session with {persona} started by <@{user_id}>{tagged}"


def with_greeting(note: str, greeting: str | None) -> str:
    return f"{greeting}\n{note}" if greeting else note


def announcement(persona: str, user_id: int, started: Started) -> str:
    """What everyone sees when a session starts: the greeting (if any), then a small note."""
    note = started_note(persona, user_id, started.session.tags)
    greeting = started.greeting.content if started.greeting is not None else None
    return with_greeting(note, greeting)[:2000]


def attached(session_id: object, persona: str, count: int) -> str:
    """What everyone sees when a session is attached here."""
    messages = "1 message" if count == 1 else f"{count} messages"
    return (
        f"Attached session `{session_id}` with {persona} ({messages} so far). "
        "Messages here now continue it."
    )


def guild_title(interaction: discord.Interaction[Any]) -> str:
    name = interaction.guild.name if interaction.guild else "this server"
    return f"Sessions in {name}"


def describe_filters(status: str, tag: str | None, persona: str | None, mine: bool) -> str:
    parts = [f"status {status}"]
    if tag:
        parts.append(f"tag {tag}")
    if persona:
        parts.append(f"persona {persona}")
    if mine:
        parts.append("started by you")
    return " · ".join(parts)
