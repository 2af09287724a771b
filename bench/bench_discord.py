"""Benchmark the Discord bot's own time per message, and 200 sessions answered at once.

The real SessionBot runs against the fake Discord (REST + gateway) and a zero-latency fake
OpenAI server, all on 127.0.0.1 in this process, with a SQLite store of --messages messages
(the storage benchmark's database: many sessions, one with 10,000 messages, which is bound to
the measured channel). Two measurements:

  * bot time per message, one message at a time in the 10,000-message session:
      (LLM request received - MESSAGE_CREATE sent) + (final message request received - LLM
      stream end), all taken on the fake servers' side, so loopback transport and the fakes'
      own parsing are included: an upper bound of the bot's own time;
  * 200 sessions answered concurrently: --burst messages in each of 200 channels sent at
      once; every message must get exactly one reply, in order, stored in order.

Run:  .venv/bin/python bench/bench_discord.py [--messages 1000000] [--db bench/discord.db --reuse]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from bench_storage import build_or_reuse, dataset_options

from bot.config import Settings
from bot.discord_app.bot import SessionBot
from bot.discord_app.places import conversation_key
from bot.runtime import open_engine
from storage import Role, SessionChanges, SessionStore
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.http import RecordedRequest
from tests.fakes.openai_server import FakeOpenAI

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
# A shipped persona whose context overflow truncates: no summary calls inside the measurement.
PERSONA = "tutor"
REPLY = "Thanks for telling me. Sleep gets easier with a routine: same time, dim lights."


class StampedDiscord(FakeDiscord):
    """The fake Discord, noting when each request arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrived: dict[int, float] = {}

    async def record(self, request: web.Request) -> RecordedRequest:
        recorded = await super().record(request)
        self.arrived[id(recorded)] = time.perf_counter()
        return recorded


class StampedOpenAI(FakeOpenAI):
    """The zero-latency fake OpenAI server, noting when requests arrive and streams end."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrived: dict[int, float] = {}
        self.ended: dict[int, float] = {}

    async def record(self, request: web.Request) -> RecordedRequest:
        recorded = await super().record(request)
        self.arrived[id(recorded)] = time.perf_counter()
        return recorded

    async def _stream(
        self, request: web.Request, recorded: RecordedRequest, chunks: list[str], usage: Any
    ) -> web.StreamResponse:
        response = await super()._stream(request, recorded, chunks, usage)
        self.ended[id(recorded)] = time.perf_counter()
        return response


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_options(parser)
    parser.add_argument("--samples", type=int, default=300, help="measured sequential messages")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent sessions")
    parser.add_argument("--burst", type=int, default=5, help="messages per concurrent session")
    return parser.parse_args()


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49], cuts[94], statistics.fmean(samples)


async def prepare_store(path: Path, big: uuid.UUID, guild: int, channels: list[int]) -> None:
    """Bind the 10,000-message session to the first channel and give the others a session."""
    async with SessionStore.open(path) as store:
        for key in [conversation_key(guild, channel) for channel in channels]:
            held = await store.active_session(key)
            if held is not None:
                await store.end_session(held.id)
        changes = SessionChanges(
            agent_id=PERSONA, situation="You are a tutor.", persona_version=None, summary=None
        )
        await store.update_session(big, changes)
        await store.bind_session(big, conversation_key(guild, channels[0]))
        for channel in channels[1:]:
            await store.create_session(
                agent_id=PERSONA,
                situation="You are a tutor.",
                binding_key=conversation_key(guild, channel),
            )


class Bench:
    def __init__(self, fake: StampedDiscord, llm: StampedOpenAI, bot: SessionBot) -> None:
        self.fake, self.llm, self.bot = fake, llm, bot

    async def one_message(self, channel: int, author: int, text: str) -> tuple[float, float]:
        """Send one message, wait for the whole reply; return the bot's two time spans (ms)."""
        asked = len(self.llm.chat_requests)
        mark = len(self.fake.requests)
        self.llm.queue_reply(REPLY)
        sent = time.perf_counter()
        await self.fake.send_message(channel, author, text)
        await self.fake.wait_until(lambda: len(self.llm.chat_requests) > asked, timeout=10)
        await self.bot.intake.join()
        [request] = [r for r in self.llm.chat_requests[asked:] if r.body.get("stream")]
        await self.fake.wait_until(lambda: id(request) in self.llm.ended, timeout=10)
        finals = [
            r
            for r in self.fake.requests[mark:]
            if r.method in ("POST", "PATCH") and f"/channels/{channel}/messages" in r.path
        ]
        final = self.fake.arrived[id(finals[-1])]
        inbound = (self.llm.arrived[id(request)] - sent) * 1000
        outbound = (final - self.llm.ended[id(request)]) * 1000
        return inbound, outbound

    async def sequential(self, channel: int, author: int, samples: int) -> None:
        for index in range(20):  # warm-up: caches, connection pools
            await self.one_message(channel, author, f"warm-up {index}")
        inbound, outbound, total = [], [], []
        for index in range(samples):
            before, after = await self.one_message(channel, author, f"question {index}?")
            inbound.append(before)
            outbound.append(after)
            total.append(before + after)
        print(f"{'bot time per message (ms)':<48} {'p50':>7} {'p95':>7} {'mean':>7}")
        for label, values in (
            ("MESSAGE_CREATE -> LLM request", inbound),
            ("LLM stream end -> final Discord message", outbound),
            ("total (the bot's own time)", total),
        ):
            p50, p95, mean = quantiles(values)
            print(f"{label:<48} {p50:>7.2f} {p95:>7.2f} {mean:>7.2f}")

    async def concurrent(
        self, guild: int, channels: list[int], authors: list[int], burst: int
    ) -> None:
        store = self.bot.engine.store
        before = {channel: len(await self._history(store, guild, channel)) for channel in channels}
        sent: dict[int, list[str]] = {channel: [] for channel in channels}
        asked = len(self.llm.chat_requests)
        started = time.perf_counter()
        for round_ in range(burst):
            for number, channel in enumerate(channels):
                author = authors[number % len(authors)]
                payload = await self.fake.send_message(channel, author, f"c{channel} m{round_}")
                sent[channel].append(payload["id"])
        total = len(channels) * burst
        expected = asked + total
        await self.fake.wait_until(lambda: len(self.llm.chat_requests) >= expected, 60)
        await self.bot.intake.join()
        seconds = time.perf_counter() - started
        problems = 0
        for channel in channels:
            history = (await self._history(store, guild, channel))[before[channel] :]
            users = [m for m in history if m.role is Role.USER]
            answers = [m for m in history if m.role is Role.ASSISTANT]
            shown = [s for s in self.fake.sent_messages(channel) if s.reply_to is not None]
            shown_for = [str(s.reply_to) for s in shown[-burst:]]
            ok = (
                [m.external_id for m in users] == sent[channel]
                and [m.reply_to for m in answers] == [m.id for m in users]
                and shown_for == sent[channel]
            )
            problems += not ok
        print(
            f"{len(channels)} sessions x {burst} messages sent at once: {total} replies in "
            f"{seconds:.2f} s ({total / seconds:.0f} replies/s); sessions with a lost, extra "
            f"or out-of-order reply: {problems}"
        )

    async def _history(self, store: SessionStore, guild: int, channel: int) -> list[Any]:
        session = await store.active_session(conversation_key(guild, channel))
        assert session is not None
        return await store.recent_history(session.id, limit=100_000, after=0)


async def measure(path: Path, big: uuid.UUID, scratch: Path, args: argparse.Namespace) -> None:
    personas = scratch / "personas"
    shutil.copytree(REPO / "personas", personas, dirs_exist_ok=True)
    async with StampedDiscord() as fake, StampedOpenAI() as llm:
        guild = fake.add_guild("Bench Server")
        channels = [fake.add_channel(guild, f"room-{n}") for n in range(args.sessions)]
        authors = [fake.add_user(f"user{n}", guilds=[guild]) for n in range(20)]
        await prepare_store(path, big, guild, channels)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database=path,
            personas=personas,
            model="fake-model",
            openai_base_url=llm.base_url,
            openai_api_key="sk-bench",
            discord_token=TOKEN,
            discord_api_base=fake.api_base,
        )
        async with open_engine(settings, watch=False) as engine:
            bot = SessionBot(settings=settings, engine=engine)
            task = asyncio.create_task(bot.start(TOKEN))
            try:
                await fake.wait_ready()
                await fake.wait_until(lambda: bool(fake.command_syncs), 10)
                big_count = await engine.store.count_messages(big)
                print(f"measured session: {big_count:,} messages, persona {PERSONA}")
                bench = Bench(fake, llm, bot)
                await bench.sequential(channels[0], authors[0], args.samples)
                await bench.concurrent(guild, channels, authors, args.burst)
            finally:
                await bot.close()
                with contextlib.suppress(Exception):
                    await task


def run(path: Path, args: argparse.Namespace, scratch: Path) -> None:
    big = build_or_reuse(path, args)
    asyncio.run(measure(path, big, scratch, args))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    args = parse_args()
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        run(args.db or scratch / "bench.db", args, scratch)


if __name__ == "__main__":
    main()
