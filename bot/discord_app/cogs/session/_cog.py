"""The `/session` command group: each command checks, then hands over to its module."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import embeds
from bot.discord_app.cogs._common import (
    active_here,
    here,
    latest_here,
    parse_tags,
    persona_choices,
    require_manager,
    tag_choices,
)
from bot.discord_app.cogs.session._cast import add_persona, remove_persona, switch_persona
from bot.discord_app.cogs.session._context import send_context
from bot.discord_app.cogs.session._export import Format, send_export
from bot.discord_app.cogs.session._list import Status, known_tags, show_list
from bot.discord_app.cogs.session._start import start_here, start_in_thread, startable_place
from bot.discord_app.cogs.session._text import attached, session_id_of
from bot.discord_app.places import attach_metadata, binding
from bot.discord_app.responses import defer, send

if TYPE_CHECKING:
    from bot.discord_app.bot import SessionBot

Interaction = discord.Interaction[Any]


class SessionCog(commands.GroupCog, group_name="session"):
    """Start, list, tag and manage persona sessions."""

    def __init__(self, bot: SessionBot) -> None:
        self.bot = bot
        self.engine = bot.engine
        self._attaching = asyncio.Lock()  # one attach at a time: its checks and bind are one step
        super().__init__()

    # start --------------------------------------------------------------------------------

    @app_commands.command()
    @app_commands.describe(
        persona="The persona to talk to",
        tags="Tags for the session, separated by commas (e.g. campaign, week-1)",
        thread="Start it in a new thread named after the persona and you",
    )
    async def start(
        self,
        interaction: Interaction,
        persona: str,
        tags: str | None = None,
        thread: bool = False,
    ) -> None:
        """Start a session with a persona here, or in a new thread."""
        place = startable_place(interaction, allow_dms=self.bot.settings.allow_dms)
        profile = self.engine.persona(persona)
        tag_list = parse_tags(tags) if tags and tags.strip(",").strip() else []
        if thread:
            await start_in_thread(self.bot.replies, interaction, profile, tag_list)
        else:
            await start_here(self.bot.replies, interaction, place, profile, tag_list)

    @start.autocomplete("persona")
    async def _start_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.list_personas(), current)

    @start.autocomplete("tags")
    async def _start_tags(self, interaction: Interaction, current: str) -> list[Any]:
        return tag_choices(await known_tags(self.engine, interaction), current)

    # attach -------------------------------------------------------------------------------

    @app_commands.command()
    @app_commands.rename(session_id="id")
    @app_commands.describe(
        session_id="The session's id, a UUID (the HTTP API and `sessionbot sessions list` show it)"
    )
    async def attach(self, interaction: Interaction, session_id: str) -> None:
        """Continue an existing session here, e.g. one created through the HTTP API."""
        place = startable_place(interaction, allow_dms=self.bot.settings.allow_dms)
        wanted = session_id_of(session_id)
        user = interaction.user
        async with self._attaching:
            session = await self.engine.attach_session(
                wanted, binding(place), user_id=str(user.id), metadata=attach_metadata(place, user)
            )
        count = await self.engine.count_messages(session.id)
        await send(interaction, attached(session.id, self.engine.persona_name(session), count))

    # list ---------------------------------------------------------------------------------

    @app_commands.command(name="list")
    @app_commands.describe(
        tag="Only sessions with this tag",
        persona="Only sessions with this persona",
        status="Active, ended or all sessions (default: all)",
        mine="Only sessions you started",
    )
    async def list_(
        self,
        interaction: Interaction,
        tag: str | None = None,
        persona: str | None = None,
        status: Status = "all",
        mine: bool = False,
    ) -> None:
        """List this server's sessions you can see (in DMs, your own), newest first."""
        await show_list(
            self.engine, interaction, tag=tag, persona=persona, status=status, mine=mine
        )

    @list_.autocomplete("tag")
    async def _list_tag(self, interaction: Interaction, current: str) -> list[Any]:
        needle = current.strip().lower()
        tags = [tag for tag in await known_tags(self.engine, interaction) if needle in tag]
        return [app_commands.Choice(name=tag, value=tag) for tag in tags[:25]]

    @list_.autocomplete("persona")
    async def _list_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.list_personas(), current)

    # tag / untag --------------------------------------------------------------------------

    @app_commands.command()
    @app_commands.describe(tags="Tags to add, separated by commas")
    async def tag(self, interaction: Interaction, tags: str) -> None:
        """Add tags to this channel's session."""
        session = await active_here(self.engine, here(interaction))
        require_manager(interaction, session)
        added = parse_tags(tags)
        await defer(interaction, ephemeral=False)
        session = await self.engine.tag_session(session.id, add=added)
        await send(
            interaction,
            f"Tagged {embeds.tag_list(added)}. Tags now: {embeds.tag_list(session.tags)}.",
        )

    @tag.autocomplete("tags")
    async def _tag_tags(self, interaction: Interaction, current: str) -> list[Any]:
        return tag_choices(await known_tags(self.engine, interaction), current)

    @app_commands.command()
    @app_commands.describe(tags="Tags to remove, separated by commas")
    async def untag(self, interaction: Interaction, tags: str) -> None:
        """Remove tags from this channel's session."""
        session = await active_here(self.engine, here(interaction))
        require_manager(interaction, session)
        removed = [tag for tag in parse_tags(tags) if tag in session.tags]
        await defer(interaction, ephemeral=False)
        session = await self.engine.tag_session(session.id, remove=removed)
        now = embeds.tag_list(session.tags)
        if not removed:
            await send(interaction, f"None of those tags were set. Tags: {now}.")
            return
        await send(interaction, f"Removed {embeds.tag_list(removed)}. Tags now: {now}.")

    @untag.autocomplete("tags")
    async def _untag_tags(self, interaction: Interaction, current: str) -> list[Any]:
        session = await self.engine.active_session(here(interaction).key)
        return tag_choices(session.tags if session else [], current)

    # add / remove / persona: several personas in one session ------------------------------

    @app_commands.command()
    @app_commands.describe(persona="The persona to bring into this channel's session")
    async def add(self, interaction: Interaction, persona: str) -> None:
        """Bring another persona into this channel's session; name it to hear from it."""
        await add_persona(self.engine, interaction, persona)

    @app_commands.command()
    @app_commands.describe(persona="The persona to take out of this channel's session")
    async def remove(self, interaction: Interaction, persona: str) -> None:
        """Take a persona (not the main one) out of this channel's session."""
        await remove_persona(self.engine, interaction, persona)

    @app_commands.command(name="persona")
    @app_commands.describe(persona="The persona that continues the conversation")
    async def persona_(self, interaction: Interaction, persona: str) -> None:
        """Switch this channel's session to another persona, keeping its history."""
        await switch_persona(self.engine, interaction, persona)

    @add.autocomplete("persona")
    @persona_.autocomplete("persona")
    async def _any_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.list_personas(), current)

    @remove.autocomplete("persona")
    async def _member_persona(self, interaction: Interaction, current: str) -> list[Any]:
        session = await self.engine.active_session(here(interaction).key)
        members = await self.engine.cast.members(session) if session else []
        return persona_choices(members[1:], current)

    # info / context / end / export --------------------------------------------------------

    @app_commands.command()
    async def info(self, interaction: Interaction) -> None:
        """Show this channel's session: id, personas, tags, dates, messages, summary."""
        session = await latest_here(self.engine, here(interaction))
        count = await self.engine.count_messages(session.id)
        profile = self.engine.find_persona(session.agent_id)
        others = [
            f"{self.engine.cast.name_of(agent)} (`{agent}`)"
            for agent in (await self.engine.cast.ids(session))[1:]
        ]
        embed = embeds.session_info_embed(
            session,
            count,
            profile.name if profile else None,
            self.bot.hooks.note(interaction.channel),
            others,
        )
        await send(interaction, embed=embed, ephemeral=True)

    @app_commands.command()
    async def context(self, interaction: Interaction) -> None:
        """See what the persona would be sent for the next reply here (only to you)."""
        session = await active_here(self.engine, here(interaction))
        await send_context(self.engine, interaction, session)

    @app_commands.command()
    async def end(self, interaction: Interaction) -> None:
        """End this channel's session; its history is kept."""
        session = await active_here(self.engine, here(interaction))
        require_manager(interaction, session)
        await defer(interaction, ephemeral=False)
        await self.engine.end_session(session.id)
        name = self.engine.persona_name(session)
        await send(
            interaction,
            f"Ended the session with {name}. Its history is kept; start a new one with "
            "`/session start` (or mention me).",
        )

    @app_commands.command()
    @app_commands.describe(format="JSON (every field) or Markdown (a readable transcript)")
    async def export(self, interaction: Interaction, format: Format = "markdown") -> None:
        """Export this channel's session and its whole history as a file."""
        session = await latest_here(self.engine, here(interaction))
        await send_export(self.engine, interaction, session, format)
