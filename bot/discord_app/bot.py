"""SessionBot: the discord.py client that runs sessions, built on the engine."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.discord_app.catchup import CatchUp
from bot.discord_app.cogs.persona import PersonaCog
from bot.discord_app.cogs.session import SessionCog
from bot.discord_app.cogs.usage import UsageCog
from bot.discord_app.endpoints import Endpoints
from bot.discord_app.intake import Intake
from bot.discord_app.replies import TYPING_DELAY, Replies
from bot.discord_app.responses import NO_MENTIONS, report_error
from bot.discord_app.shutdown import shut_down
from bot.discord_app.streaming import EDIT_INTERVAL
from bot.discord_app.swipe_buttons import SwipeButton
from bot.discord_app.views import RetryButton
from bot.discord_app.webhooks import Hooks
from bot.engine import Engine

log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """What the bot needs: guilds, guild and DM messages, and (privileged) message content."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


def text_only() -> None:
    """Tell discord.py this bot never joins voice, so it does not warn that voice is missing."""
    discord.VoiceClient.warn_nacl = False  # PyNaCl: voice encryption
    discord.VoiceClient.warn_dave = False  # davey: voice end-to-end encryption


class CommandSyncFailed(Exception):
    """Discord refused the slash commands at start-up: globally, or in the dev guild."""

    def __init__(self, error: discord.HTTPException, *, guild_id: int | None) -> None:
        self.status = error.status
        self.text = error.text or str(error)
        self.guild_id = guild_id  # None: the global sync
        where = "globally" if guild_id is None else f"in guild {guild_id}"
        super().__init__(f"syncing the slash commands {where} failed ({self.status}: {self.text})")


class SessionTree(app_commands.CommandTree[Any]):
    """The command tree, with the one error handler of every slash command."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


class SessionBot(commands.Bot):
    """Personas in Discord: one session per channel, thread and DM; slash commands to run them."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        typing_delay: float = TYPING_DELAY,
        edit_interval: float = EDIT_INTERVAL,
        guild_ready_timeout: float = 2.0,
        http_trace: aiohttp.TraceConfig | None = None,
    ) -> None:
        text_only()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            tree_cls=SessionTree,
            # No client caches that grow with traffic: edits and deletions arrive as raw events
            # (their payloads carry what intake needs), and nothing looks members up, so
            # neither messages nor members are kept (members also need an intent we lack).
            max_messages=None,
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            guild_ready_timeout=guild_ready_timeout,  # on_ready: this long after the last guild
            http_trace=http_trace or aiohttp.TraceConfig(),  # sees every REST response
            **_shard_options(settings),
        )
        self.settings = settings
        self.engine = engine
        self.endpoints = Endpoints(settings.discord_api_base, settings.discord_gateway_url)
        self.hooks = Hooks(enabled=settings.webhooks, me=self._user_id)
        self.replies = Replies(
            engine=engine,
            typing_delay=typing_delay,
            edit_interval=edit_interval,
            hooks=self.hooks,
            running=settings.max_replies,
        )
        self.swipes = self.replies.swipes
        self.swipes.regenerate_on_edit = settings.regenerate_on_edit
        self.intake = Intake(engine=engine, replies=self.replies, allow_dms=settings.allow_dms)
        self.catchup = CatchUp(
            client=self,
            engine=engine,
            intake=self.intake,
            limit=settings.catchup_messages,
            max_age=settings.catchup_max_age,
            owns=self.owns,
        )

    def _user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    async def login(self, token: str) -> None:
        self.endpoints.apply()
        await super().login(token)

    async def setup_hook(self) -> None:
        await self.endpoints.discover_gateway(self.http)
        await self.add_cog(SessionCog(self))
        await self.add_cog(PersonaCog(self))
        await self.add_cog(UsageCog(self))
        self.add_dynamic_items(RetryButton, SwipeButton)
        if self.owns(None):  # one process syncs the commands: the one running shard 0
            await self.sync_commands()

    async def sync_commands(self) -> None:
        """Register the slash commands: in the dev guild at once, else globally.

        A refusal is raised as CommandSyncFailed, naming which sync failed.
        """
        guild_id = self.settings.dev_guild
        guild = discord.Object(id=guild_id) if guild_id is not None else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            raise CommandSyncFailed(exc, guild_id=guild_id) from exc
        if guild_id is None:
            log.info("synced %d global commands", len(synced))
        else:
            log.info("synced %d commands to guild %s", len(synced), guild_id)

    async def on_connect(self) -> None:
        """A new gateway session (READY): events wait until catch-up knows what to read first.

        discord.py dispatches this only after IDENTIFY, never after a RESUME (which replays).
        """
        self.catchup.connected()

    async def on_ready(self) -> None:
        log.info(
            "connected as %s (%s) to %d guild(s)",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )
        if self.settings.shard_ids() is None:
            self.catchup.start()

    async def on_shard_ready(self, shard_id: int) -> None:
        """A shard's new session is ready (sharded bots get no on_ready after a shard's
        re-IDENTIFY): catch up this process's conversations."""
        log.info("shard %d ready", shard_id)
        self.catchup.start()

    def owns(self, guild_id: int | None) -> bool:
        """Whether this process runs the shard that receives `guild_id`'s events (None: DMs,
        which arrive on shard 0). Always true for a bot that is not sharded."""
        shards, count = self.settings.shard_ids(), self.settings.shard_count
        if shards is None or count is None:
            return True
        return (0 if guild_id is None else (guild_id >> 22) % count) in shards

    async def on_resumed(self) -> None:
        log.info("resumed the gateway session; Discord replays what was missed")

    async def on_message(self, message: discord.Message, /) -> None:
        if self.user is not None:
            self.intake.receive(message, self.user)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.intake.edited(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.intake.deleted(payload.guild_id, payload.channel_id, {payload.message_id})

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        self.intake.deleted(payload.guild_id, payload.channel_id, set(payload.message_ids))

    async def close(self) -> None:
        """Stop gracefully (see `shutdown.py`), then disconnect."""
        await self.catchup.close()
        await shut_down(self.intake, self.settings.shutdown_grace)
        try:
            await super().close()
        finally:
            self.endpoints.restore()


class ShardedSessionBot(SessionBot, commands.AutoShardedBot):
    """SessionBot over one gateway connection per shard it runs (SESSIONBOT_SHARDS)."""


def make_bot(*, settings: Settings, engine: Engine, **options: Any) -> SessionBot:
    """The bot `settings` ask for: sharded when SESSIONBOT_SHARD_COUNT is set."""
    if settings.shard_ids() is None:
        return SessionBot(settings=settings, engine=engine, **options)
    return ShardedSessionBot(settings=settings, engine=engine, **options)


def _shard_options(settings: Settings) -> dict[str, Any]:
    shards = settings.shard_ids()
    if shards is None:
        return {}
    return {"shard_count": settings.shard_count, "shard_ids": shards}
