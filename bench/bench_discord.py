"""Benchmark the Discord bot's own cost per message, next to the floor benchmark's.

The real SessionBot runs in this process against the fake Discord (REST + gateway) and a
zero-latency fake OpenAI server that streams 60 chunks per reply, both in another process
(bench/fakes_server.py) on 127.0.0.1, with a SQLite store of --messages messages (the storage
benchmark's database: many sessions, one with 10,000 messages, bound to the serial channel).
Measured, as the floor benchmark (../shared/floor) measures them:

  * bot CPU ms per message: this process's CPU time (time.process_time) over the measured
      messages, divided by their number; the model stream's parsing is included, the fakes' not;
  * wall ms per message, from the MESSAGE_CREATE frame reaching the bot's gateway reader to the
      reply shown in full and stored (clocks inside the bot process), one message at a time;
  * the same with 20 and with 200 conversations in flight (each sends its next message when
      the last is answered; --concurrent messages in all), then --burst messages in each of the
      200 conversations sent at once; every message must get exactly one reply, in order.

Catch-up after downtime is off (SESSIONBOT_CATCHUP_MESSAGES=0): it reads the channels of all
stored sessions once at start-up, a cost per start, not per message. The fakes' own CPU per
message is shown beside the bot's: on a busy machine they also slow the wall figures.

Then the floor benchmark runs with the same Python (if ../shared/floor exists), and both sets
of figures are printed with their ratios (each read as "sessionbot costs N times the floor").

Run:  .venv/bin/python bench/bench_discord.py [--messages 1000000] [--db FILE --reuse]
      (--profile FILE writes a cProfile of the serial phase; BENCH_LOG=INFO shows the bot's log)
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_storage import build_or_reuse, dataset_options
from discord_figures import Figures, compare, run_floor
from discord_rig import Rig, channel_history, conversation_problems, running_bot

from bot.discord_app.places import conversation_key
from storage import SessionChanges, SessionStore

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench")
# A shipped persona whose context overflow truncates: no summary calls inside the measurement.
PERSONA = "tutor"
WARM_UP = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    dataset_options(parser)
    parser.add_argument("--samples", type=int, default=300, help="measured serial messages")
    parser.add_argument(
        "--concurrent", type=int, default=200, help="messages in each in-flight phase"
    )
    parser.add_argument("--burst", type=int, default=5, help="messages per session sent at once")
    parser.add_argument(
        "--floor",
        type=Path,
        default=REPO.parent / "shared" / "floor",
        help="the floor benchmark's folder (skipped if missing)",
    )
    parser.add_argument("--floor-runs", type=int, default=1, help="runs of the floor benchmark")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the serial phase here")
    return parser.parse_args()


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
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.fakes, self.bot, self.clocks, self.guild = rig.fakes, rig.bot, rig.clocks, rig.guild
        self.figures = Figures()
        self._sent_before: dict[int, int] = {}

    async def one(self, channel: int, author: int, text: str) -> str:
        self.fakes.tell(op="send", channel=channel, author=author, text=text)
        return await self.clocks.done.get()

    async def serial(self, channel: int, author: int, samples: int, profile: Path | None) -> None:
        await self.fakes.ask(op="queue", n=WARM_UP + samples)
        for index in range(WARM_UP):  # caches, connection pools
            await self.one(channel, author, f"warm-up {index}")
        fakes_cpu = await self._fakes_cpu()
        profiler = _profiler(profile)
        ids: list[str] = []
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(samples):
            ids.append(await self.one(channel, author, f"question {index}?"))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if profiler is not None and profile is not None:  # --profile FILE
            profiler.disable()
            profiler.dump_stats(profile)
        fakes_cpu = await self._fakes_cpu() - fakes_cpu
        self.figures.add_serial(self.clocks.latencies_ms(ids), cpu, wall, fakes_cpu)

    async def in_flight(self, channels: list[int], authors: list[int], per_channel: int) -> None:
        """len(channels) conversations, each sending its next message when answered."""
        total = len(channels) * per_channel
        await self.fakes.ask(op="queue", n=total)
        checks = await self._before(channels)
        left = dict.fromkeys(channels, per_channel)
        fakes_cpu = await self._fakes_cpu()
        cpu, wall = time.process_time(), time.perf_counter()
        for number, channel in enumerate(channels):
            self._next(channel, authors[number % len(authors)], left)
        ids: list[str] = []
        while len(ids) < total:
            ids.append(await self.clocks.done.get())
            channel = self.clocks.channel_of[ids[-1]]
            self._next(channel, authors[channels.index(channel) % len(authors)], left)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        fakes_cpu = await self._fakes_cpu() - fakes_cpu
        problems = await self._problems(channels, checks, per_channel)
        label = f"C={len(channels)} conversations in flight"
        latencies = self.clocks.latencies_ms(ids)
        self.figures.add_concurrent(label, latencies, (cpu, fakes_cpu, wall), problems)

    def _next(self, channel: int, author: int, left: dict[int, int]) -> None:
        if left[channel]:
            left[channel] -= 1
            self.fakes.tell(op="send", channel=channel, author=author, text=f"c{channel}")

    async def burst(self, channels: list[int], authors: list[int], burst: int) -> None:
        """`burst` messages in each of `channels`, all sent at once."""
        total = len(channels) * burst
        await self.fakes.ask(op="queue", n=total)
        checks = await self._before(channels)
        answered = len(self.clocks.answered)
        fakes_cpu = await self._fakes_cpu()
        cpu, wall = time.process_time(), time.perf_counter()
        answer = await self.fakes.ask(op="burst", channels=channels, authors=authors, rounds=burst)
        while len(self.clocks.answered) < answered + total:
            await self.clocks.done.get()
        await self.bot.intake.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        fakes_cpu = await self._fakes_cpu() - fakes_cpu
        problems = await self._problems(channels, checks, burst)
        ids = [i for channel in channels for i in answer["sent"][str(channel)]]
        label = f"C={len(channels)} conversations, {burst} each sent at once"
        latencies = self.clocks.latencies_ms(ids)
        self.figures.add_concurrent(label, latencies, (cpu, fakes_cpu, wall), problems)

    async def _fakes_cpu(self) -> float:
        """The fakes process's CPU seconds so far."""
        return float((await self.fakes.ask(op="cpu"))["cpu"])

    async def _before(self, channels: list[int]) -> dict[int, int]:
        """How many messages each channel's session holds, and how many were sent there."""
        store = self.bot.engine.store
        sent = (await self.fakes.ask(op="sent", channels=channels))["sent"]
        self._sent_before = {c: len(sent[str(c)]) for c in channels}
        return {c: len(await channel_history(store, self.guild, c)) for c in channels}

    async def _problems(self, channels: list[int], before: dict[int, int], count: int) -> int:
        """Conversations whose `count` new messages lack exactly one reply each, in order."""
        await self.bot.intake.join()
        kinds = await conversation_problems(
            self.rig, channels, stored_before=before, sent_before=self._sent_before
        )
        if len(channels) != kinds["ok"]:
            log.warning("replies not as sent: %s", dict(kinds))
        return len(channels) - kinds["ok"]


def _profiler(path: Path | None) -> cProfile.Profile | None:
    """A running profiler if --profile was given."""
    if path is None:
        return None
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


async def measure(path: Path, big: uuid.UUID, scratch: Path, args: argparse.Namespace) -> Figures:
    async def prepare(database: Path, guild: int, channels: list[int]) -> None:
        await prepare_store(database, big, guild, channels)

    async with running_bot(path, scratch, channels=200, authors=20, prepare=prepare) as rig:
        count = await rig.bot.engine.store.count_messages(big)
        print(f"measured session: {count:,} messages, persona {PERSONA}", flush=True)
        channels, authors = rig.channels, rig.authors
        bench = Bench(rig)
        await bench.serial(channels[0], authors[0], args.samples, args.profile)
        await bench.in_flight(channels[:20], authors, args.concurrent // 20)
        await bench.in_flight(channels, authors, max(1, args.concurrent // 200))
        await bench.burst(channels, authors, args.burst)
        return bench.figures


def main() -> None:
    logging.basicConfig(level=os.environ.get("BENCH_LOG", "WARNING"))
    args = parse_args()
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        path = args.db or scratch / "bench.db"
        big = build_or_reuse(path, args)
        figures = asyncio.run(measure(path, big, scratch, args))
    figures.report()
    floor = run_floor(args.floor, args.samples, args.concurrent, 20, args.floor_runs)
    if floor is not None:
        compare(figures, floor)


if __name__ == "__main__":
    main()
