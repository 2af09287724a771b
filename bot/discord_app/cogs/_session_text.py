"""Small text helpers of the `/session` commands."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import discord

from bot.discord_app import embeds
from bot.discord_app.errors import NotASessionId


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
