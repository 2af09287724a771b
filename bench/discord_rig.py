"""The Discord benchmarks' rig: the real bot over the real engine, the fakes in another process.

`running_bot` starts bench/fakes_server.py, builds the fake Discord's world, lets the caller
prepare the store for it, then runs SessionBot (with `Clocks` attached) until the block ends.
`conversation_problems` checks, per channel, that every message sent got exactly one reply, in
order, both in the store and in what the fake Discord shows. Used by bench_discord.py and
bench_load.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from discord_probe import Clocks, FakesProcess

from bot.config import Settings
from bot.discord_app.bot import SessionBot
from bot.discord_app.places import conversation_key
from bot.engine.limits import Rate
from bot.runtime import open_engine
from storage import Message, Role, Store

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
UNLIMITED = Rate(count=1_000_000_000, seconds=1.0)  # abuse limits the load never reaches

# prepare(database, guild, channels): give the channels their sessions before the bot starts
Prepare = Callable[[Path, int, list[int]], Awaitable[None]]


@dataclass
class Rig:
    """A running bot, its fakes and its clocks, in the fake Discord's guild."""

    fakes: FakesProcess
    bot: SessionBot
    clocks: Clocks
    guild: int
    channels: list[int]
    authors: list[int]
    personas: Path


@contextlib.asynccontextmanager
async def running_bot(
    database: Path,
    scratch: Path,
    *,
    channels: int,
    authors: int,
    prepare: Prepare,
    watch: bool = False,
    **settings: Any,
) -> AsyncIterator[Rig]:
    """The bot, ready (identified, commands synced), over `database` and a copy of the shipped
    personas in `scratch`; `settings` override the benchmark's Settings (catch-up is off,
    the abuse limits out of reach)."""
    personas = scratch / "personas"
    shutil.copytree(REPO / "personas", personas, dirs_exist_ok=True)
    fakes = await FakesProcess.start()
    try:
        world = await fakes.ask(op="world", channels=channels, authors=authors)
        await prepare(database, world["guild"], world["channels"])
        options: dict[str, Any] = {
            "database": database,
            "personas": personas,
            "model": "fake-model",
            "openai_base_url": fakes.addresses["openai_base_url"],
            "openai_api_key": "sk-bench",
            "discord_token": TOKEN,
            "discord_api_base": fakes.addresses["api_base"],
            "catchup_messages": 0,  # a one-off start-up cost over every stored session
            # The benchmarks drive one guild at tens of messages a second, past the default
            # abuse limits (120/min a server, 20/min a person): the bot would refuse them and
            # the benchmark wait for replies that never come. The limits stay in the path
            # (every message is still admitted by the quota), just out of reach; the 1 s
            # window keeps the per-key event lists as short as the real limits keep them.
            "user_rate_limit": UNLIMITED,
            "guild_rate_limit": UNLIMITED,
            # The bot's own messages, as the floor posts them: the figures compare the same
            # work (a webhook message costs the same requests once the webhook exists).
            "webhooks": False,
        }
        config = Settings(_env_file=None, **(options | settings))  # type: ignore[call-arg]
        async with open_engine(config, watch=watch) as engine:
            bot = SessionBot(settings=config, engine=engine)
            clocks = Clocks()
            clocks.attach(bot)
            task = asyncio.create_task(bot.start(TOKEN))
            try:
                await fakes.ask(op="ready")
                guild, ids, users = world["guild"], world["channels"], world["authors"]
                yield Rig(fakes, bot, clocks, guild, ids, users, personas)
            finally:
                clocks.detach()
                await bot.close()
                with contextlib.suppress(Exception):
                    await task
    finally:
        await fakes.close()


async def channel_history(store: Store, guild: int, channel: int) -> list[Message]:
    """Every message of the channel's active session, oldest first."""
    session = await store.active_session(conversation_key(guild, channel))
    assert session is not None
    return list(await store.recent_history(session.id, limit=1_000_000, after=0))


async def conversation_problems(
    rig: Rig,
    channels: list[int],
    *,
    stored_before: dict[int, int] | None = None,
    sent_before: dict[int, int] | None = None,
) -> Counter[str]:
    """Channels whose messages sent since `sent_before` (all, if None) lack exactly one reply
    each, in order: counted by kind ("lost", "extra", "order"; "ok" for the good ones).

    The store must hold the sent messages in order, each answered by one stored reply in turn,
    and the fake Discord must show one reply to each, in the same order. Call after the bot's
    queues are drained (`bot.intake.join()`).
    """
    store = rig.bot.engine.store
    sent = (await rig.fakes.ask(op="sent", channels=channels))["sent"]
    shown = (await rig.fakes.ask(op="shown", channels=channels))["replies"]
    kinds: Counter[str] = Counter()
    for channel in channels:
        mine = sent[str(channel)][(sent_before or {}).get(channel, 0) :]
        wanted = set(mine)
        history = await channel_history(store, rig.guild, channel)
        history = history[(stored_before or {}).get(channel, 0) :]
        users = [m for m in history if m.role is Role.USER]
        answers = [m.reply_to for m in history if m.role is Role.ASSISTANT]
        replies = [r for r in shown[str(channel)] if r in wanted]
        stored = [m.external_id for m in users]
        if wanted - set(stored) or wanted - set(replies) or len(answers) < len(users):
            kinds["lost"] += 1
        elif len(replies) > len(mine) or len(answers) > len(users):
            kinds["extra"] += 1
        elif stored != mine or replies != mine or answers != [m.id for m in users]:
            kinds["order"] += 1
        else:
            kinds["ok"] += 1
    return kinds
