"""Embeds of the slash commands: session lists and details, personas. Pure formatting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

import discord
from discord.utils import format_dt

from bot.discord_app.places import parse_key
from situations import AgentProfile
from storage import Session, SessionStatus

PAGE_SIZE = 10
COLOUR = discord.Colour.blurple()
FIELD_LIMIT = 1024
DESCRIPTION_LIMIT = 4096


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def where(session: Session) -> str:
    """The channel mention of a session's conversation, `DM`, or its key for other front ends."""
    place = parse_key(session.binding_key)
    if place is None:
        return f"`{session.binding_key}`" if session.binding_key else "no channel"
    return "DM" if place.is_dm else f"<#{place.channel_id}>"


def tag_list(tags: Sequence[str]) -> str:
    return " ".join(f"`{tag}`" for tag in tags) if tags else "no tags"


def session_row(session: Session, count: int, agents: Sequence[str] = ()) -> str:
    """One line of `/session list`: personas, channel, tags, message count, last activity."""
    ended = " (ended)" if session.status is SessionStatus.ENDED else ""
    messages = "1 message" if count == 1 else f"{count} messages"
    personas = " + ".join(agents) or session.agent_id
    return (
        f"**{personas}**{ended} · {where(session)} · {tag_list(session.tags)} · "
        f"{messages} · {format_dt(session.updated_at, 'R')}"
    )


def session_list_embed(
    sessions: Sequence[Session],
    counts: Mapping[UUID, int],
    *,
    title: str,
    filters: str,
    page: int,
    agents: Mapping[UUID, Sequence[str]] | None = None,
) -> discord.Embed:
    """A page of sessions, newest first; the footer says the page and the filters; `agents`
    lists each session's personas, main first."""
    if sessions:
        personas = agents or {}
        lines = [
            session_row(session, counts.get(session.id, 0), personas.get(session.id, ()))
            for session in sessions
        ]
        description = shorten("\n".join(lines), DESCRIPTION_LIMIT)
    else:
        description = "No sessions match." if page == 1 else "No more sessions."
    embed = discord.Embed(title=title, description=description, colour=COLOUR)
    embed.set_footer(text=f"Page {page} · {filters}")
    return embed


def session_info_embed(
    session: Session,
    count: int,
    persona_name: str | None,
    posts: str | None = None,
    others: Sequence[str] = (),
) -> discord.Embed:
    """`/session info`: id, persona, tags, created/updated, message count, summary, and how
    the persona posts here (`posts`: through a webhook, or as the bot and why); `others`:
    the session's other personas (name and id)."""
    persona = f"{persona_name} (`{session.agent_id}`)" if persona_name else f"`{session.agent_id}`"
    embed = discord.Embed(title=f"Session with {persona_name or session.agent_id}", colour=COLOUR)
    embed.add_field(name="ID", value=f"`{session.id}`", inline=False)
    embed.add_field(name="Persona", value=persona)
    if others:
        embed.add_field(name="Also in this session", value=shorten(", ".join(others), FIELD_LIMIT))
    embed.add_field(name="Status", value=session.status.value)
    embed.add_field(name="Messages", value=str(count))
    embed.add_field(name="Tags", value=tag_list(session.tags), inline=False)
    embed.add_field(name="Created", value=format_dt(session.created_at, "f"))
    embed.add_field(name="Updated", value=format_dt(session.updated_at, "f"))
    if session.user_id and session.user_id.isdigit():
        embed.add_field(name="Started by", value=f"<@{session.user_id}>")
    summary = shorten(session.summary, FIELD_LIMIT) if session.summary else "none yet"
    embed.add_field(name="Summary", value=summary, inline=False)
    if posts is not None:
        embed.add_field(name="Persona posts", value=posts, inline=False)
    return embed


def persona_list_embed(profiles: Sequence[AgentProfile], errors: int) -> discord.Embed:
    """`/persona list`: every loaded persona with its description."""
    lines = [
        f"**{profile.name}** (`{profile.id}`) · {shorten(profile.description or '', 120)}".rstrip(
            " ·"
        )
        for profile in profiles
    ]
    description = "\n".join(lines) if lines else "No personas are loaded."
    embed = discord.Embed(
        title="Personas", description=shorten(description, DESCRIPTION_LIMIT), colour=COLOUR
    )
    if errors:
        embed.set_footer(text=f"{errors} persona file error(s); /persona reload lists them")
    return embed


def persona_embed(profile: AgentProfile, default_model: str | None) -> discord.Embed:
    """`/persona show`: the persona as loaded."""
    embed = discord.Embed(
        title=f"{profile.name} (`{profile.id}`)",
        description=shorten(profile.description, DESCRIPTION_LIMIT) or None,
        colour=COLOUR,
    )
    if profile.avatar_url:
        embed.set_thumbnail(url=str(profile.avatar_url))
    embed.add_field(name="Model", value=profile.model or default_model or "server default")
    temperature = "server default" if profile.temperature is None else str(profile.temperature)
    embed.add_field(name="Temperature", value=temperature)
    context = profile.context
    embed.add_field(
        name="Context",
        value=f"last {context.max_messages} messages, {context.token_budget} tokens, "
        f"{context.overflow} overflow",
        inline=False,
    )
    embed.add_field(name="Tags", value=tag_list(profile.tags))
    embed.add_field(name="Version", value=f"`{profile.version}`")
    if profile.greeting:
        embed.add_field(name="Greeting", value=shorten(profile.greeting, FIELD_LIMIT), inline=False)
    embed.add_field(name="Situation", value=shorten(profile.situation, FIELD_LIMIT), inline=False)
    return embed
