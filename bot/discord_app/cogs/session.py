"""`/session ...`: start, attach, list, tag, untag, inspect, end and export channel sessions."""

from __future__ import annotations

import asyncio
import contextlib
import io
from functools import partial
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

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
    require_permission,
    tag_choices,
)
from bot.discord_app.cogs._session_text import (
    describe_filters,
    guild_title,
    session_id_of,
    started_note,
    with_greeting,
)
from bot.discord_app.cogs._visibility import can_view, visible_page
from bot.discord_app.errors import (
    AlreadyAttachedHere,
    AttachedElsewhere,
    AttachEnded,
    DirectMessagesOff,
    ExportTooLarge,
    NotYourSession,
    PersonaNotLoaded,
    PlaceTaken,
    SessionAlreadyActive,
    ThreadNotPossible,
    UnknownSession,
)
from bot.discord_app.keys import (
    Place,
    attach_metadata,
    guild_prefix,
    is_discord_key,
    session_metadata,
)
from bot.discord_app.responses import NO_MENTIONS, defer, send
from bot.discord_app.views import PagerView
from storage import (
    UNSET,
    BindingConflict,
    BindingMoved,
    Session,
    SessionEnded,
    SessionNotFound,
    SessionStatus,
    Unset,
)

if TYPE_CHECKING:
    from bot.discord_app.bot import SessionBot

Interaction = discord.Interaction[Any]
STATUSES = {"active": SessionStatus.ACTIVE, "ended": SessionStatus.ENDED, "all": None}
EXPORT_LIMIT = 8 * 1024 * 1024  # the upload limit of a server without boosts (bytes)
THREAD_ARCHIVE_MINUTES: Literal[1440] = 1440  # a day without messages


class SessionCog(commands.GroupCog, group_name="session"):
    """Start, list, tag and manage persona sessions."""

    def __init__(self, bot: SessionBot) -> None:
        self.bot = bot
        self.store = bot.store
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
        place = here(interaction)
        if place.is_dm and not self.bot.settings.allow_dms:
            raise DirectMessagesOff()
        require_permission(interaction, "manage_threads", "Manage Threads")
        profile = self.engine.persona(persona)
        tag_list = parse_tags(tags) if tags and tags.strip(",").strip() else []
        if thread:
            await self._start_in_thread(interaction, profile.id, profile.name, tag_list)
            return
        active = await self.store.active_session(place.key)
        if active is not None:
            raise SessionAlreadyActive(active.agent_id)
        await defer(interaction, ephemeral=False)  # checks passed; writes may wait on the database
        started = await self.engine.start_session(
            persona_id=profile.id,
            binding_key=place.key,
            user_id=str(interaction.user.id),
            metadata=session_metadata(place, interaction.user),
            tags=tag_list,
        )
        note = started_note(profile.name, interaction.user.id, started.session.tags)
        greeting = started.greeting.content if started.greeting is not None else None
        await send(interaction, with_greeting(note, greeting)[:2000])

    async def _start_in_thread(
        self, interaction: Interaction, persona_id: str, name: str, tags: list[str]
    ) -> None:
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel):
            raise ThreadNotPossible()
        # Private: a refusal after this point must not show to everyone; the thread is public.
        await defer(interaction, ephemeral=True)
        thread = await channel.create_thread(
            name=f"{name} and {interaction.user.display_name}"[:100],
            type=discord.ChannelType.public_thread,
            auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            reason=f"/session start by {interaction.user.id}",
        )
        place = Place(channel_id=thread.id, guild_id=thread.guild.id, parent_id=channel.id)
        try:
            started = await self.engine.start_session(
                persona_id=persona_id,
                binding_key=place.key,
                user_id=str(interaction.user.id),
                metadata=session_metadata(place, interaction.user),
                tags=tags,
            )
        except Exception:
            with contextlib.suppress(discord.HTTPException):
                await thread.delete()  # no empty thread is left behind
            raise
        note = started_note(name, interaction.user.id, started.session.tags)
        greeting = started.greeting.content if started.greeting is not None else None
        await thread.send(with_greeting(note, greeting)[:2000], allowed_mentions=NO_MENTIONS)
        await send(interaction, f"Started a session with {name} in {thread.mention}.")

    @start.autocomplete("persona")
    async def _start_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.personas, current)

    @start.autocomplete("tags")
    async def _start_tags(self, interaction: Interaction, current: str) -> list[Any]:
        return tag_choices(await self._known_tags(interaction), current)

    # attach -------------------------------------------------------------------------------

    @app_commands.command()
    @app_commands.rename(session_id="id")
    @app_commands.describe(
        session_id="The session's id, a UUID (the HTTP API and `sessionbot sessions list` show it)"
    )
    async def attach(self, interaction: Interaction, session_id: str) -> None:
        """Continue an existing session here, e.g. one created through the HTTP API."""
        place = here(interaction)
        if place.is_dm and not self.bot.settings.allow_dms:
            raise DirectMessagesOff()
        require_permission(interaction, "manage_threads", "Manage Threads")
        wanted = session_id_of(session_id)
        async with self._attaching:
            session = await self._attachable(wanted, place, interaction.user)
            session = await self._attach(session, place, interaction.user)
        count = await self.store.count_messages(session.id)
        name = self.engine.persona_name(session)
        messages = "1 message" if count == 1 else f"{count} messages"
        await send(
            interaction,
            f"Attached session `{session.id}` with {name} ({messages} so far). "
            "Messages here now continue it.",
        )

    async def _attachable(self, session_id: UUID, place: Place, user: discord.abc.User) -> Session:
        """The session, if it may be attached at `place` by `user`; else the refusal."""
        try:
            session = await self.store.get_session(session_id)
        except SessionNotFound:
            raise UnknownSession(session_id) from None
        if session.status is SessionStatus.ENDED:
            raise AttachEnded(session_id)
        if session.binding_key == place.key:
            raise AlreadyAttachedHere(session_id)
        if is_discord_key(session.binding_key):  # never from one server (or DM) to another
            raise AttachedElsewhere(session_id)
        if place.is_dm and session.user_id and session.user_id != str(user.id):
            raise NotYourSession(session_id)
        if self.engine.personas.maybe_get(session.agent_id) is None:
            raise PersonaNotLoaded(session_id, session.agent_id)
        active = await self.store.active_session(place.key)
        if active is not None:
            raise PlaceTaken(active.agent_id)
        return session

    async def _attach(self, session: Session, place: Place, user: discord.abc.User) -> Session:
        """Bind the session to `place` and record where it is and who attached it."""
        try:
            await self.store.bind_session(session.id, place.key, expected_key=session.binding_key)
        except BindingMoved:  # another process attached it meanwhile
            raise AttachedElsewhere(session.id) from None
        except BindingConflict:  # a mention started a session here meanwhile
            active = await self.store.active_session(place.key)
            raise PlaceTaken(active.agent_id if active else "another persona") from None
        except SessionEnded:  # ended through the API meanwhile
            raise AttachEnded(session.id) from None
        # In a DM the caller is the session's only possible user: record them if none was set.
        owner: str | Unset = str(user.id) if place.is_dm and not session.user_id else UNSET
        return await self.store.update_session(
            session.id, metadata=attach_metadata(place, user), user_id=owner
        )

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
        status: Literal["active", "ended", "all"] = "all",
        mine: bool = False,
    ) -> None:
        """List this server's sessions you can see (in DMs, your own), newest first."""
        await defer(interaction, ephemeral=True)
        in_dm = interaction.guild_id is None
        query = partial(
            self.store.list_sessions,
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
                lambda at: query(cursor=at),
                cursor,
                partial(can_view, interaction),
                size=embeds.PAGE_SIZE,
            )
            counts = await self.store.message_counts(session.id for session in items)
            embed = embeds.session_list_embed(
                items, counts, title=title, filters=described, page=page
            )
            return embed, next_cursor

        embed, next_cursor = await load(None, 1)
        if next_cursor is None:
            await send(interaction, embed=embed, ephemeral=True)
            return
        view = PagerView(owner_id=interaction.user.id, load=load, next_cursor=next_cursor)
        await send(interaction, embed=embed, view=view, ephemeral=True)
        view.interaction = interaction

    @list_.autocomplete("tag")
    async def _list_tag(self, interaction: Interaction, current: str) -> list[Any]:
        needle = current.strip().lower()
        tags = [tag for tag in await self._known_tags(interaction) if needle in tag]
        return [app_commands.Choice(name=tag, value=tag) for tag in tags[:25]]

    @list_.autocomplete("persona")
    async def _list_persona(self, interaction: Interaction, current: str) -> list[Any]:
        return persona_choices(self.engine.personas, current)

    # tag / untag --------------------------------------------------------------------------

    @app_commands.command()
    @app_commands.describe(tags="Tags to add, separated by commas")
    async def tag(self, interaction: Interaction, tags: str) -> None:
        """Add tags to this channel's session."""
        session = await active_here(self.store, here(interaction))
        require_manager(interaction, session)
        added = parse_tags(tags)
        await defer(interaction, ephemeral=False)
        session = await self.store.update_session(session.id, tags_add=added)
        await send(
            interaction,
            f"Tagged {embeds.tag_list(added)}. Tags now: {embeds.tag_list(session.tags)}.",
        )

    @tag.autocomplete("tags")
    async def _tag_tags(self, interaction: Interaction, current: str) -> list[Any]:
        return tag_choices(await self._known_tags(interaction), current)

    @app_commands.command()
    @app_commands.describe(tags="Tags to remove, separated by commas")
    async def untag(self, interaction: Interaction, tags: str) -> None:
        """Remove tags from this channel's session."""
        session = await active_here(self.store, here(interaction))
        require_manager(interaction, session)
        removed = [tag for tag in parse_tags(tags) if tag in session.tags]
        await defer(interaction, ephemeral=False)
        session = await self.store.update_session(session.id, tags_remove=removed)
        if not removed:
            await send(
                interaction, f"None of those tags were set. Tags: {embeds.tag_list(session.tags)}."
            )
            return
        await send(
            interaction,
            f"Removed {embeds.tag_list(removed)}. Tags now: {embeds.tag_list(session.tags)}.",
        )

    @untag.autocomplete("tags")
    async def _untag_tags(self, interaction: Interaction, current: str) -> list[Any]:
        session = await self.store.active_session(here(interaction).key)
        return tag_choices(session.tags if session else [], current)

    # info / end / export ------------------------------------------------------------------

    @app_commands.command()
    async def info(self, interaction: Interaction) -> None:
        """Show this channel's session: id, persona, tags, dates, messages, summary."""
        session = await latest_here(self.store, here(interaction))
        count = await self.store.count_messages(session.id)
        profile = self.engine.personas.maybe_get(session.agent_id)
        embed = embeds.session_info_embed(session, count, profile.name if profile else None)
        await send(interaction, embed=embed, ephemeral=True)

    @app_commands.command()
    async def end(self, interaction: Interaction) -> None:
        """End this channel's session; its history is kept."""
        session = await active_here(self.store, here(interaction))
        require_manager(interaction, session)
        await defer(interaction, ephemeral=False)
        await self.store.end_session(session.id)
        name = self.engine.persona_name(session)
        await send(
            interaction,
            f"Ended the session with {name}. Its history is kept; start a new one with "
            "`/session start` (or mention me).",
        )

    @app_commands.command()
    @app_commands.describe(format="JSON (every field) or Markdown (a readable transcript)")
    async def export(
        self, interaction: Interaction, format: Literal["json", "markdown"] = "markdown"
    ) -> None:
        """Export this channel's session and its whole history as a file."""
        session = await latest_here(self.store, here(interaction))
        await defer(interaction, ephemeral=True)
        fmt: Literal["json", "md"] = "json" if format == "json" else "md"
        text = await self.store.export_session(session.id, fmt)
        data = text.encode("utf-8")
        limit = interaction.guild.filesize_limit if interaction.guild else EXPORT_LIMIT
        if len(data) > limit:
            raise ExportTooLarge(session.id)
        file = discord.File(io.BytesIO(data), filename=f"session-{session.id}.{fmt}")
        await send(interaction, f"Session `{session.id}` ({session.agent_id}).", file=file)

    # helpers ------------------------------------------------------------------------------

    async def _known_tags(self, interaction: Interaction) -> list[str]:
        """Tags of recent sessions the caller can see in this server (in DMs: their own)."""
        user_id = str(interaction.user.id) if interaction.guild_id is None else None
        page = await self.store.list_sessions(
            key_prefix=guild_prefix(interaction.guild_id),
            user_id=user_id,
            limit=100,
            order_by="updated_at",
        )
        visible = (session for session in page.items if can_view(interaction, session))
        return sorted({tag for session in visible for tag in session.tags})
