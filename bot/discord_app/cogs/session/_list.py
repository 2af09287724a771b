"""`/session list` and tag suggestions: the sessions of this server the caller can see."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Literal

import discord

from bot.discord_app import embeds
from bot.discord_app.cogs.session._text import describe_filters, guild_title
from bot.discord_app.cogs.session._visibility import can_view, visible_page
from bot.discord_app.places import guild_prefix
from bot.discord_app.responses import defer, send
from bot.discord_app.views import PagerView
from bot.engine import Engine
from storage import ListQuery, SessionStatus

Interaction = discord.Interaction[Any]
Status = Literal["active", "ended", "all"]
STATUSES = {"active": SessionStatus.ACTIVE, "ended": SessionStatus.ENDED, "all": None}
TAG_SOURCES = 100  # recent sessions whose tags are suggested


async def show_list(
    engine: Engine,
    interaction: Interaction,
    *,
    tag: str | None,
    persona: str | None,
    status: Status,
    mine: bool,
) -> None:
    """Answer, only to the caller, with the first page and Previous/Next buttons if needed."""
    await defer(interaction, ephemeral=True)
    in_dm = interaction.guild_id is None
    query = ListQuery(
        key_prefix=guild_prefix(interaction.guild_id),
        user_id=str(interaction.user.id) if mine or in_dm else None,
        tags_all=[tag] if tag else [],
        agent_id=persona or None,
        status=STATUSES[status],
        limit=embeds.PAGE_SIZE,
    )
    title = "Your direct-message sessions" if in_dm else guild_title(interaction)
    described = describe_filters(status, tag, persona, mine)

    async def load(cursor: str | None, page: int) -> tuple[discord.Embed, str | None]:
        items, next_cursor = await visible_page(
            lambda at: engine.list_sessions(replace(query, cursor=at)),
            cursor,
            partial(can_view, interaction),
            size=embeds.PAGE_SIZE,
        )
        counts = await engine.message_counts(session.id for session in items)
        agents = await engine.cast.ids_of(items)
        embed = embeds.session_list_embed(
            items, counts, title=title, filters=described, page=page, agents=agents
        )
        return embed, next_cursor

    embed, next_cursor = await load(None, 1)
    if next_cursor is None:
        await send(interaction, embed=embed, ephemeral=True)
        return
    view = PagerView(owner_id=interaction.user.id, load=load, next_cursor=next_cursor)
    await send(interaction, embed=embed, view=view, ephemeral=True)
    view.interaction = interaction


async def known_tags(engine: Engine, interaction: Interaction) -> list[str]:
    """Tags of recent sessions the caller can see in this server (in DMs: their own)."""
    user_id = str(interaction.user.id) if interaction.guild_id is None else None
    query = ListQuery(
        key_prefix=guild_prefix(interaction.guild_id),
        user_id=user_id,
        limit=TAG_SOURCES,
        order_by="updated_at",
    )
    page = await engine.list_sessions(query)
    visible = (session for session in page.items if can_view(interaction, session))
    return sorted({tag for session in visible for tag in session.tags})
