"""The real SessionBot against the fake Discord, the fake OpenAI server and a real SQLite file.

`Harness` builds a small world (a guild with two channels, an admin and two members, a second
guild) and starts the bot the way `sessionbot run` does: `open_engine(settings)` and
`SessionBot(...).start(token)` with DISCORD_API_BASE pointing at the fake, so the gateway URL
comes from `GET /gateway/bot`. Nothing of discord.py or of the bot is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.discord_app.bot import SessionBot
from bot.runtime import open_engine
from storage import Message, Session, Store
from tests.fakes.discord_server import (
    FakeDiscord,
    InteractionRecord,
    Payload,
    Permission,
    SentMessage,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import write_persona

TOKEN = "test-bot-token"
GREETING = "Hi, I'm Sara. What's on your mind today?"
SESSION_COMMANDS = frozenset(
    {"start", "attach", "list", "tag", "untag", "info", "context", "end", "export", "add",
     "remove", "persona"}
)  # fmt: skip
PERSONA_COMMANDS = frozenset({"list", "show", "reload", "import", "default"})
READY_WAIT = 0.05  # seconds discord.py waits after the last GUILD_CREATE before on_ready


@dataclass
class Harness:
    fake: FakeDiscord
    llm: FakeOpenAI
    directory: Path
    guild: int = 0
    general: int = 0
    random: int = 0
    other_guild: int = 0
    elsewhere: int = 0
    admin: int = 0
    alice: int = 0
    bob: int = 0
    bot: SessionBot | None = None
    _stack: contextlib.AsyncExitStack | None = None
    _task: asyncio.Task[None] | None = None
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    clock_ahead: float = 0.0  # seconds the bot's clock is ahead of real time (`pass_time`)

    def build_world(self) -> None:
        fake = self.fake
        self.admin = fake.add_user("olga")
        self.guild = fake.add_guild("Test Server", owner_id=self.admin)
        self.general = fake.add_channel(self.guild, "general")
        self.random = fake.add_channel(self.guild, "random")
        self.alice = fake.add_user("alice", guilds=[self.guild])
        self.bob = fake.add_user("bob", guilds=[self.guild])
        moderators = fake.add_role(self.guild, "moderators", Permission.MANAGE_THREADS)
        fake.add_member(self.guild, self.admin, roles=[moderators])
        self.other_guild = fake.add_guild("Other Server")
        self.elsewhere = fake.add_channel(self.other_guild, "lobby")
        fake.add_member(self.other_guild, self.alice)
        personas = self.directory / "personas"
        personas.mkdir(exist_ok=True)
        write_persona(
            personas, "sara", name="Sara", situation="You are Sara.", greeting=GREETING,
            description="Mental-health educator",
        )  # fmt: skip
        write_persona(personas, "tutor", name="Tutor", situation="You are a Socratic tutor.")

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "database": self.directory / "sessions.db",
            "personas": self.directory / "personas",
            "model": "test-model",
            "openai_base_url": self.llm.base_url,
            "openai_api_key": "sk-test",
            "llm_retries": 0,
            "llm_timeout": 10,
            "discord_token": TOKEN,
            "discord_api_base": self.fake.api_base,
            "discord_gateway_url": None,
            "dev_guild": None,
            "allow_dms": True,
            "shutdown_grace": 2.0,  # a test that leaves a reply hanging stops without waiting 10 s
            "webhooks": False,  # the bot's own messages; test_webhooks*.py turn webhooks on
            **self.settings_overrides,
            **overrides,
        }
        return Settings(**values)

    async def start(self, **overrides: Any) -> SessionBot:
        """Start a bot process (engine, store, bot); wait until its commands are synced, it is
        ready and it has caught up on what it missed while down."""
        assert self.bot is None, "stop the running bot first"
        settings = self.settings(**overrides)
        syncs = len(self.fake.command_syncs)
        stack = contextlib.AsyncExitStack()
        engine = await stack.enter_async_context(open_engine(settings, watch=False))
        if self.clock_ahead:
            engine.clock = partial(_now_plus, self.clock_ahead)
        bot = SessionBot(
            settings=settings, engine=engine, typing_delay=0.0, guild_ready_timeout=READY_WAIT
        )
        self._stack, self.bot = stack, bot
        self._task = asyncio.create_task(bot.start(TOKEN))
        await self.fake.wait_ready()
        await self.fake.wait_until(lambda: len(self.fake.command_syncs) > syncs)
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await asyncio.wait_for(bot.intake.join(), 10)
        return bot

    async def stop(self) -> None:
        """Close the bot and its engine, as `sessionbot run` does on SIGTERM."""
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            await self._task
        if self._stack is not None:
            await self._stack.aclose()
        self.bot, self._task, self._stack = None, None, None

    def pass_time(self, seconds: float) -> None:
        """Let time pass: for Discord's new ids at once, for the bot from its next start."""
        self.fake.world.snowflakes.ahead += seconds
        self.clock_ahead += seconds

    # Driving and observing ------------------------------------------------------------------

    @property
    def running(self) -> SessionBot:
        assert self.bot is not None
        return self.bot

    @property
    def store(self) -> Store:
        """The running bot's store, to arrange and check what the bot cannot be asked."""
        return self.running.engine.store

    async def settle(self) -> None:
        """Wait until the bot has stored and answered everything it received."""
        await self.fake.gateway.flush()
        await asyncio.sleep(0.05)  # let discord.py dispatch what the gateway delivered
        await self.running.intake.join()

    async def say(self, channel: int, author: int, content: str, **kwargs: Any) -> Payload:
        """A user posts; returns the message once the bot has dealt with it."""
        message = await self.fake.send_message(channel, author, content, **kwargs)
        await self.settle()
        return message

    def replies_to(self, message: Payload) -> list[SentMessage]:
        """The bot's messages answering `message`: the reply and any continuation parts."""
        sent = self.fake.sent_messages(int(message["channel_id"]))
        first = next((s for s in sent if s.reply_to == int(message["id"])), None)
        if first is None:
            return []
        after = [s for s in sent if s.id > first.id]
        parts = [first]
        for message_part in after:
            if message_part.reply_to is not None or message_part.via != "channel":
                break
            parts.append(message_part)
        return parts

    def reply_text(self, message: Payload) -> str:
        return "\n".join(part.content for part in self.replies_to(message))

    async def command(
        self, name: str, options: dict[str, Any] | None = None, *, channel: int, user: int
    ) -> Any:
        """Run a slash command as `user`; wait for the bot's first answer; return the record."""
        record = await self.fake.invoke_command(
            name, options or {}, channel_id=channel, user_id=user
        )
        await self.fake.wait_response(record)
        await self.settle()
        await self.fake.wait_until(lambda: not _loading(record))
        return record

    async def session_here(self, channel: int, guild: int | None = None) -> Session | None:
        from bot.discord_app.places import conversation_key

        if guild is None:
            guild = self.fake.world.guild_id_of(channel)
        return await self.store.active_session(conversation_key(guild, channel))

    async def history(self, session: Session) -> list[Message]:
        return await self.store.recent_history(session.id, limit=1000)


def _now_plus(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _loading(record: Any) -> bool:
    original = record.original
    return original is not None and original.loading


def embed_of(record: InteractionRecord) -> dict[str, object]:
    """The one embed of an interaction's original response."""
    assert record.original is not None
    [embed] = record.original.embeds
    return embed


def text_of(record: Any) -> str:
    """What an interaction showed: the response message content (plus follow-ups)."""
    parts = []
    if record.original is not None:
        parts.append(record.original.content)
    parts.extend(followup.content for followup in record.followups)
    return "\n".join(parts)


def is_ephemeral(record: Any) -> bool:
    return record.original is not None and record.original.ephemeral


@contextlib.asynccontextmanager
async def harness(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    async with FakeDiscord() as fake, FakeOpenAI() as llm:
        h = Harness(fake=fake, llm=llm, directory=tmp_path, settings_overrides=settings)
        h.build_world()
        try:
            yield h
        finally:
            await h.stop()
        fake.assert_no_errors()


Check = Callable[[], bool]
