"""Memory of the Discord bot with many sessions: idle, and after a burst.

First, in a fresh interpreter, what the imports alone take, package by package. Then
--idle-sessions channels with a session (in one server) get one message each, sent at
--memory-rate messages a second (the default is a pace this machine's bot keeps up with; past
it, thousands of replies are in flight at once and the peak they reach stays in the
allocator's arenas), then idle: RSS after a GC; then a burst (--burst-sessions channels, 5
messages each at once), idle again. At each point: what the RSS is made of (mapped files,
CPython's small-object arenas and how full they are, malloc), what the bot keeps per session
that outlives its replies (the reply buttons it remembers, to move them on; discord.py's rate
limit buckets, which discord.py drops after 5 idle minutes; open keep-alive sockets), and the
sizes of the per-conversation maps (queues, workers, locks, gates, views), which must be 0
when every session is idle. At the end, what glibc's `malloc_trim` could still give back.
--tracemalloc N prints the top-N allocators of what is still live while idle. The bot, the
fakes and the checks are bench_load.py's.

Run:  .venv/bin/python bench/bench_memory.py [--idle-sessions 10000 --burst-sessions 200]
      .venv/bin/python bench/bench_memory.py --memory-rate 250   (a fill faster than the bot)
      .venv/bin/python bench/bench_memory.py --idle-sessions 2000 --tracemalloc 15
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_load import Driver, bind_sessions, check, print_sizes, say
from discord_rig import Rig, running_bot
from process_watch import (
    malloc_trim,
    memory_split,
    open_sockets,
    peak_rss_mib,
    reset_peak,
    rss_mib,
)

REPO = Path(__file__).resolve().parent.parent

# What a bot process imports, in the order the split is measured (each on top of the last).
IMPORTS = (
    ("Python and asyncio", "import asyncio"),
    ("discord.py and aiohttp", "import discord"),
    (
        "the bot's own packages and theirs (pydantic, pydantic-settings, Jinja, PyYAML, "
        "aiosqlite, asyncpg, watchfiles)",
        "import bot.discord_app.bot, bot.runtime, bot.services.run",
    ),
    ("the openai SDK (bot.llm, imported when the model client opens)", "import bot.llm"),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-sessions", type=int, default=10_000)
    parser.add_argument("--burst-sessions", type=int, default=200)
    parser.add_argument("--memory-rate", type=float, default=50.0, help="msgs/s while filling")
    parser.add_argument("--tracemalloc", type=int, metavar="N", help="top-N allocators")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


async def idle_rss(rig: Rig) -> float:
    """RSS once idle, after the bench's own per-message records are dropped and a GC."""
    await rig.bot.intake.join()
    for record in (rig.clocks.arrived, rig.clocks.answered, rig.clocks.channel_of):
        record.clear()
    await asyncio.sleep(1)
    gc.collect()
    return rss_mib()


async def memory(args: argparse.Namespace, scratch: Path, imported: float) -> None:
    path = scratch / "memory.db"
    async with running_bot(
        path,
        scratch,
        channels=args.idle_sessions,
        authors=50,
        prepare=bind_sessions,
    ) as rig:
        gc.collect()
        say(
            f"after imports {imported:.1f} MiB; bot ready with {args.idle_sessions} channels "
            f"and sessions, none used yet: RSS {rss_mib():.1f} MiB"
        )
        print_memory(rig)
        await rig.fakes.ask(op="queue", n=args.idle_sessions + 5 * args.burst_sessions)
        driver = Driver(rig, rig.channels, "answered", args.seed)
        collector = asyncio.create_task(driver.collect())
        reset_peak()
        began = time.perf_counter()
        await driver.run(args.memory_rate, len(rig.channels), None)  # each channel once
        await driver.drain(within=300)
        say(
            f"{driver.sent} sessions got one message each in {time.perf_counter() - began:.1f} s "
            f"(peak RSS {peak_rss_mib():.1f} MiB)"
        )
        await check(rig, rig.channels, driver)
        idle = await idle_rss(rig)
        say(f"RSS with {args.idle_sessions} sessions idle, after a GC: {idle:.1f} MiB")
        print_memory(rig)
        print_sizes(rig)
        snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
        burst = rig.channels[: args.burst_sessions]
        answered = len(driver.ids)
        authors = rig.authors
        await rig.fakes.ask(op="burst", channels=burst, authors=authors, rounds=5)
        driver.sent += 5 * len(burst)
        await driver.drain(within=300)
        say(f"burst: {len(driver.ids) - answered} answers to {5 * len(burst)} messages")
        idle = await idle_rss(rig)
        say(
            f"RSS after a burst of {len(burst)} sessions x 5, idle again: {idle:.1f} MiB "
            f"(peak {peak_rss_mib():.1f} MiB)"
        )
        print_memory(rig)
        print_sizes(rig)
        say(f"glibc malloc_trim(0) would give back {malloc_trim():.1f} MiB more")
        collector.cancel()
        if snapshot is not None:
            top_allocators(snapshot, args.tracemalloc)


def print_memory(rig: Rig) -> None:
    """What the RSS is made of, and what the bot keeps per session beyond its replies."""
    bot = rig.bot
    say(f"  {memory_split()}")
    say(
        f"  kept: reply buttons remembered for {len(bot.swipes._shown)} sessions, "
        f"{len(bot.http._buckets)} discord.py rate-limit buckets, {open_sockets()} open sockets"
    )


def import_split() -> None:
    """RSS after each group of imports, in a fresh interpreter (this one has the bench's)."""
    steps = "\n".join(
        f"{code}\nrss.append(int(re.search(r'VmRSS:\\s+(\\d+)', "
        "open('/proc/self/status').read()).group(1)))"
        for _, code in IMPORTS
    )
    script = f"import re\nrss = []\n{steps}\nprint(json.dumps(rss))"
    out = subprocess.run(
        [sys.executable, "-c", f"import json\n{script}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    kib = json.loads(out.stdout)
    parts = [f"{IMPORTS[0][0]} {kib[0] / 1024:.1f}"]
    parts += [
        f"+ {name} {(now - before) / 1024:.1f}"
        for (name, _), before, now in zip(IMPORTS[1:], kib[:-1], kib[1:], strict=True)
    ]
    say(f"imports alone (MiB): {'; '.join(parts)}; in all {kib[-1] / 1024:.1f} MiB")


def top_allocators(snapshot: tracemalloc.Snapshot, top: int) -> None:
    """Where the live memory (traced since start-up) was allocated."""
    total = sum(stat.size for stat in snapshot.statistics("filename"))
    print(f"\ntracemalloc: {total / 2**20:.1f} MiB traced with the sessions idle", flush=True)
    for group in ("filename", "lineno"):
        print(f"  top {top} by {group}:")
        for stat in snapshot.statistics(group)[:top]:
            frame = stat.traceback[0]
            name = frame.filename.split("site-packages/")[-1].split("/work/main/")[-1]
            where = name if group == "filename" else f"{name}:{frame.lineno}"
            print(f"    {stat.size / 2**20:7.2f} MiB {stat.count:>8} blocks  {where}")


def main() -> None:
    logging.basicConfig(level=os.environ.get("BENCH_LOG", "WARNING"))
    args = parse_args()
    import_split()
    if args.tracemalloc:
        tracemalloc.start()
    imported = rss_mib()
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(memory(args, Path(directory), imported))


if __name__ == "__main__":
    main()
