"""Load, soak and memory benchmark of the Discord bot: many sessions, a model that takes its time.

The real SessionBot runs in this process over the real engine and a SQLite store of --stored
messages (1,000,000 over 2,000 sessions by default, built as bench_storage.py builds it, one
session with 10,000 messages), against the fake Discord and a fake OpenAI server in another
process (bench/fakes_server.py, as in bench_discord.py). The model streams 60 chunks per
reply, the first after --first-token seconds, then --tokens-per-second. Two phases, one per
run (bench_memory.py measures idle memory):

  load (default)  --sessions channels with a session each; --messages user messages in all, sent
                  at a steady --rate (msgs/s). --order answered (default): a channel's next message
                  goes out only after its previous one was answered (round robin over the ready
                  channels); --order interleaved: a random channel with messages left, whether
                  answered or not, so a channel can have several messages queued. During the run
                  a persona file is edited (hot reload), `/session list` is run, and
                  `/session export` of a 10,000-message session.
  --soak SECONDS  the same at a steady rate for SECONDS, with RSS every minute.

Every run checks each channel: every message sent stored once, in order, answered by exactly
one stored reply and one reply shown in the fake Discord, in order. Figures: bot time per
message (MESSAGE_CREATE frame at the bot's gateway reader to the reply shown in full and stored,
as bench_discord measures it), this process's CPU per message, peak RSS (VmHWM, reset after
start-up), and the event loop's health (loop_probe.py): every callback the loop runs is timed,
and each one that held the loop 5 ms or more is kept with its name, CPU time, its wait for a
CPU (the process not scheduled, which is not the step's doing), the garbage collections and
the other threads' CPU waits during it, and sampled stacks; a task sleeping 10 ms also notes
how late it woke. The machine's load average is printed beside each figure.

Run:  .venv/bin/python bench/bench_load.py [--sessions 1000 --messages 10000 --rate 50]
                                           [--db /tmp/sb-load.db --reuse]
      .venv/bin/python bench/bench_load.py --soak 600 [--rate 50]
      (BENCH_LOG=INFO shows the bot's log; --plain-loop runs without the timed loop, to see
      what the timing costs; the start-up heap is frozen once the bot is ready, as
      `sessionbot run` does, unless --no-heap-settle: then full garbage collections walk it too)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_storage import BIG_SESSION_MESSAGES, build_or_reuse
from discord_figures import percentile
from discord_rig import Rig, conversation_problems, running_bot
from loop_probe import LoopProbe, StepSampler, heap, instrumented_runner, report_loop
from loop_steps import StepRecorder
from process_watch import load_average, peak_rss_mib, reset_peak, rss_mib

from bot.discord_app.places import conversation_key
from bot.services.heap import settle_heap
from storage import SessionChanges, SessionStore

PERSONA = "tutor"  # truncates on overflow: no summary calls
EXPORTED = BIG_SESSION_MESSAGES  # messages in the session `/session export` exports
RELOADED = "tutor.yaml"  # the persona file edited during the load run
STALLED = 120.0  # s without an answer while every channel waits: the run failed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000, help="channels with a session")
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the load run")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second, in all")
    parser.add_argument("--order", choices=["answered", "interleaved"], default="answered")
    parser.add_argument("--first-token", type=float, default=0.3, help="model: s to 1st chunk")
    parser.add_argument("--tokens-per-second", type=float, default=30.0, help="model: chunks/s")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="soak for this long")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stored", type=int, default=1_000_000, help="messages in the store")
    parser.add_argument("--db", type=Path, help="keep the built store in this file")
    parser.add_argument("--reuse", action="store_true", help="reuse --db if it exists")
    parser.add_argument(
        "--plain-loop", action="store_true", help="asyncio's own loop: no per-callback timing"
    )
    parser.add_argument(
        "--no-heap-settle",
        action="store_true",
        help="do not freeze the start-up heap once the bot is ready (sessionbot run does)",
    )
    return parser.parse_args()


def say(text: str) -> None:
    print(f"{text}   [{load_average()}]", flush=True)


# The store -------------------------------------------------------------------------------


def stored_database(args: argparse.Namespace, scratch: Path) -> tuple[Path, uuid.UUID]:
    """The run's store (in `scratch`) and its session of EXPORTED messages. It is built in a
    child process, so the bulk load's memory never shows in this process's RSS; a kept one
    (--db, --reuse) is copied, so every run starts from the same store."""
    built = args.db or scratch / "load.db"
    options = argparse.Namespace(messages=args.stored, seed=7, reuse=args.reuse)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        big: uuid.UUID = pool.apply(build_or_reuse, (built, options))
    if args.db is None:
        return built, big
    path = scratch / "load.db"
    for suffix in ("", "-wal"):
        if Path(f"{built}{suffix}").exists():
            shutil.copyfile(f"{built}{suffix}", f"{path}{suffix}")
    return path, big


async def bind_sessions(
    path: Path, guild: int, channels: list[int], big: uuid.UUID | None = None
) -> None:
    """A session of PERSONA in each channel; the big session (if any) in the last one."""
    async with SessionStore.open(path) as store:
        if big is not None:
            changes = SessionChanges(
                agent_id=PERSONA, situation="You are a tutor.", persona_version=None, summary=None
            )
            await store.update_session(big, changes)
            await store.bind_session(big, conversation_key(guild, channels[-1]))
            channels = channels[:-1]
        for channel in channels:
            await store.create_session(
                agent_id=PERSONA,
                situation="You are a tutor.",
                binding_key=conversation_key(guild, channel),
            )


# Sending at a steady rate ----------------------------------------------------------------


class Driver:
    """Sends user messages at a steady aggregate rate and collects the answers."""

    def __init__(self, rig: Rig, channels: list[int], order: str, seed: int) -> None:
        self.rig, self.channels, self.order = rig, channels, order
        self.ready: deque[int] = deque(channels)  # answered mode: channels free to send
        self.waiting = asyncio.Event()
        self.ids: list[str] = []  # the answered messages of this run, in answer order
        self.sent = 0
        self.held = 0  # ticks that found no channel ready (answered mode)
        self._random = random.Random(seed)
        self._author = {c: rig.authors[n % len(rig.authors)] for n, c in enumerate(channels)}
        self._mine = set(channels)

    async def collect(self) -> None:
        """Note every answer; free its channel for its next message."""
        while True:
            answered = await self.rig.clocks.done.get()
            channel = self.rig.clocks.channel_of.get(answered)
            if channel not in self._mine:
                continue
            self.ids.append(answered)
            self.ready.append(channel)
            self.waiting.set()

    async def run(self, rate: float, total: int | None, seconds: float | None) -> None:
        """Send `total` messages (or for `seconds`), one every 1/rate s on a fixed schedule."""
        began = time.perf_counter()
        while (total is None or self.sent < total) and (
            seconds is None or time.perf_counter() - began < seconds
        ):
            delay = began + self.sent / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            channel = await self._pick()
            self.rig.fakes.tell(
                op="send", channel=channel, author=self._author[channel], text=f"m{self.sent}"
            )
            self.sent += 1

    async def _pick(self) -> int:
        if self.order == "interleaved":
            return self._random.choice(self.channels)
        while not self.ready:
            self.held += 1
            self.waiting.clear()
            try:
                await asyncio.wait_for(self.waiting.wait(), STALLED)
            except TimeoutError:
                raise RuntimeError(
                    f"no answer for {STALLED:.0f} s with every channel waiting for one, "
                    f"{len(self.ids)} answers to {self.sent} messages (refused by an abuse "
                    "limit? BENCH_LOG=INFO shows the bot's log)"
                ) from None
        return self.ready.popleft()

    async def drain(self, within: float) -> None:
        """Wait until every message sent is answered (for `within` s at most), then the queues."""
        deadline = time.perf_counter() + within
        while len(self.ids) < self.sent and time.perf_counter() < deadline:
            self.waiting.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.waiting.wait(), 1)
        await asyncio.wait_for(self.rig.bot.intake.join(), max(1.0, deadline - time.perf_counter()))


async def check(rig: Rig, channels: list[int], driver: Driver | None = None) -> None:
    kinds = await conversation_problems(rig, channels)
    answers = f"{len(driver.ids)} answers to {driver.sent} messages; " if driver else ""
    say(
        f"check: {answers}channels with a lost reply {kinds['lost']}, an extra one "
        f"{kinds['extra']}, out of order {kinds['order']}; fine {kinds['ok']} of {len(channels)}"
    )


def latencies(rig: Rig, ids: list[str]) -> str:
    values = rig.clocks.latencies_ms(ids)
    return (
        f"bot time per message (frame to reply stored), {len(values)} messages: "
        f"p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms, "
        f"max {max(values):.0f} ms"
    )


# Load and soak ---------------------------------------------------------------------------


class Actions:
    """Persona hot reload, `/session list` and `/session export` during the load run, each with
    its time window (this process's perf_counter) for the loop-lag figures."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.windows: list[tuple[str, float, float, str]] = []
        self.reloads: list[tuple[float, float]] = []
        personas = rig.bot.engine.personas
        original = personas.load

        async def timed_load() -> Any:
            began = time.perf_counter()
            try:
                return await original()
            finally:
                self.reloads.append((began, time.perf_counter()))

        personas.load = timed_load  # type: ignore[method-assign]

    async def run(self, driver: Driver, total: int) -> None:
        place, author = self.rig.channels[-1], self.rig.authors[0]
        steps = [
            (0.3, "persona hot reload", self.reload),
            (0.5, "/session list", lambda: self.command("session list", {}, place, author)),
            (0.7, "/session export (10,000 messages, markdown)", lambda: self.export(place)),
            (0.8, "/session export (10,000 messages, json)", lambda: self.export(place, "json")),
        ]
        for fraction, name, action in steps:
            while driver.sent < fraction * total:  # noqa: ASYNC110 - polls the sender's count
                await asyncio.sleep(0.1)
            began = time.perf_counter()
            note = await action()
            self.windows.append((name, began, time.perf_counter(), note))

    async def reload(self) -> str:
        path = self.rig.personas / RELOADED
        done = len(self.reloads)
        path.write_text(path.read_text(encoding="utf-8") + "\n# edited by bench_load\n")
        for _ in range(100):  # the watcher reloads within about half a second
            if len(self.reloads) > done:
                break
            await asyncio.sleep(0.05)
        if len(self.reloads) == done:
            return "no reload seen in 5 s"
        began, ended = self.reloads[-1]
        return f"reload took {(ended - began) * 1000:.0f} ms"

    async def command(self, name: str, options: dict[str, Any], channel: int, author: int) -> str:
        answer = await self.rig.fakes.ask(
            op="command", name=name, options=options, channel=channel, author=author
        )
        state = "answered" if answer["ok"] else "NOT answered"
        return f"{state} in {answer['ms']:.0f} ms, {answer['files']} file(s)"

    async def export(self, channel: int, format: str = "markdown") -> str:
        return await self.command(
            "session export", {"format": format}, channel, self.rig.authors[0]
        )


async def load_or_soak(
    args: argparse.Namespace, scratch: Path, stored: tuple[Path, uuid.UUID], steps: StepRecorder
) -> None:
    path, big = stored

    async def prepare(database: Path, guild: int, channels: list[int]) -> None:
        await bind_sessions(database, guild, channels, big)

    async with running_bot(
        path, scratch, channels=args.sessions + 1, authors=50, prepare=prepare, watch=True
    ) as rig:
        gap = 1 / args.tokens_per_second
        await rig.fakes.ask(op="pace", first=args.first_token, gap=gap)
        channels = rig.channels[:-1]
        total = None if args.soak else args.messages
        await rig.fakes.ask(op="queue", n=int(args.rate * args.soak * 1.2) if args.soak else total)
        probe = LoopProbe()
        probe.start()
        sampler = StepSampler(steps)
        sampler.start()
        driver = Driver(rig, channels, args.order, args.seed)
        collector = asyncio.create_task(driver.collect())
        actions = Actions(rig)
        collected = time.perf_counter()
        gc.collect()
        collected = time.perf_counter() - collected
        if not args.no_heap_settle:
            settle_heap()
        reset_peak()
        say(
            f"ready: {len(channels)} sessions; RSS {rss_mib():.1f} MiB; {len(gc.get_objects()):,} "
            f"objects tracked by the garbage collector, a full collection took "
            f"{collected * 1000:.0f} ms; {gc.get_freeze_count():,} frozen; threads: "
            + ", ".join(thread.name for thread in threading.enumerate())
        )
        fakes_cpu = float((await rig.fakes.ask(op="cpu"))["cpu"])
        cpu, wall = time.process_time(), time.perf_counter()
        run_began, timed = wall, steps.count
        sender = asyncio.create_task(driver.run(args.rate, total, args.soak))
        extra: asyncio.Task[Any] = asyncio.create_task(
            monitor_rss(sender) if args.soak else actions.run(driver, args.messages)
        )
        await sender
        sent_wall = time.perf_counter() - wall
        await driver.drain(within=300)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        await extra
        run_ended, timed = time.perf_counter(), steps.count - timed
        fakes_cpu = float((await rig.fakes.ask(op="cpu"))["cpu"]) - fakes_cpu
        await probe.stop()
        sampler.halt()
        collector.cancel()
        what = f"soak {args.soak:.0f} s" if args.soak else "load"
        say(
            f"{what}: {driver.sent} messages over {len(channels)} sessions in {sent_wall:.1f} s "
            f"({driver.sent / sent_wall:.1f} msgs/s asked {args.rate:g}; order {args.order}; "
            f"ticks with no channel ready: {driver.held}); all answered after {wall:.1f} s"
        )
        model = args.first_token + 63 * gap  # 64 SSE events: role, 60 chunks, stop, usage
        say(f"{latencies(rig, driver.ids)}; the model alone streams for {model * 1000:.0f} ms")
        say(
            f"bot process CPU {cpu * 1000 / max(1, driver.sent):.2f} ms/msg "
            f"({cpu / wall * 100:.0f}% of a core); fakes process "
            f"{fakes_cpu * 1000 / max(1, driver.sent):.2f} ms/msg"
        )
        say(f"RSS now {rss_mib():.1f} MiB, peak during the run {peak_rss_mib():.1f} MiB")
        report_loop(say, probe, steps, (run_began, run_ended), timed, actions.windows)
        say(heap())
        print_sizes(rig)
        await check(rig, channels, driver)


async def monitor_rss(sender: asyncio.Task[None]) -> None:
    """RSS at the start, every minute and at the end of the soak."""
    began = time.perf_counter()
    say(f"soak RSS at 0 s: {rss_mib():.1f} MiB")
    while not sender.done():
        await asyncio.wait([sender], timeout=60)
        gc.collect()
        say(f"soak RSS at {time.perf_counter() - began:.0f} s: {rss_mib():.1f} MiB")


def state_sizes(rig: Rig) -> dict[str, int]:
    """The bot's per-conversation and per-session state: all 0 when every session is idle."""
    bot = rig.bot
    views = bot._connection._view_store
    return {
        "intake queues": len(bot.intake.queues._queues),
        "intake workers": len(bot.intake.queues._tasks),
        "reply queues": len(bot.replies.queues._queues),
        "reply workers": len(bot.replies.queues._tasks),
        "engine locks": len(bot.engine.locks),
        "catch-up gates": len(bot.intake.gates._gates),
        "late notices": len(bot.replies.later._tasks),
        "views (by message)": len(views._synced_message_views),
        "view items": sum(len(items) for items in views._views.values()),
        "warned sessions (capped at 10,000)": len(bot.replies._warned),
    }


def print_sizes(rig: Rig) -> None:
    sizes = ", ".join(f"{name} {size}" for name, size in state_sizes(rig).items())
    say(f"per-conversation state: {sizes}")


def main() -> None:
    logging.basicConfig(level=os.environ.get("BENCH_LOG", "WARNING"))
    args = parse_args()
    steps = StepRecorder()
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        stored = stored_database(args, scratch)
        runner = asyncio.Runner() if args.plain_loop else instrumented_runner(steps)
        with runner:
            runner.run(load_or_soak(args, scratch, stored, steps))
    steps.close()


if __name__ == "__main__":
    main()
