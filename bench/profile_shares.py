"""Where a bot process's CPU goes, by part of the message path, from a py-spy profile.

Record the Discord benchmark (or the floor's pipeline) with py-spy's raw format, then sort
the samples into the parts below; with --cpu-ms (the run's bot CPU per message) each share is
also shown in ms per message. The same rules read both processes, so their tables compare.

    .venv/bin/py-spy record -r 250 --format raw -o /tmp/sb.spy -- \\
        .venv/bin/python bench/bench_discord.py --db /tmp/sb.db --reuse --floor-runs 0
    .venv/bin/py-spy record -r 250 --format raw -o /tmp/floor.spy -- \\
        .venv/bin/python ../shared/floor/bench_pipeline.py 300 200 20 1
    .venv/bin/python bench/profile_shares.py /tmp/sb.spy --cpu-ms 3.4
    .venv/bin/python bench/profile_shares.py /tmp/floor.spy --cpu-ms 1.7

Set-up (imports, building the database, starting the bot) and idle waits (the selector, idle
worker threads, waiting for child processes) are left out. A sample counts once, for the
first rule (in the order below) that one of its frames matches.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"(?P<name>.*?) \((?P<path>.*?):(?P<line>\d+)\)$")

# Stacks of start-up and preparation, not of messages.
SET_UP = (
    "importlib",
    "discord_rig.py",
    "bench_storage",
    "bench_read.py",
    "setup_bot (",
    "open_engine",
    "copyfile",
)
# Leaves that are waiting, not working.
IDLE = (
    "selectors.py",
    "aiosqlite/core.py:59",
    "concurrent/futures/thread.py:8",
    "_do_waitpid",
    "threading.py:3",  # Condition.wait / Event.wait
)


@dataclass(frozen=True)
class Part:
    label: str
    patterns: tuple[str, ...]

    def matches(self, frames: list[str]) -> bool:
        return any(pattern in frame for frame in frames for pattern in self.patterns)


PARTS = (
    Part("SQLite statements (the database's worker thread)", ("_connection_worker_thread",)),
    Part(
        "Swipe buttons: taken from the previous reply (an edit)",
        ("Swipes._retire", "Swipes.shown"),
    ),
    Part("Reply drafts (crash recovery notes)", ("Drafts.", "ReplyDrafts.")),
    Part("Typing indicator", ("_typing", "Typing.")),
    Part(
        "Model request: the openai SDK (build, auth, retries, send)",
        ("_post_stream", "openai/_base_client.py"),
    ),
    Part(
        "Discord REST: post the reply", ("DiscordSink.send", "Messageable.send", "WebhookSink.send")
    ),
    Part(
        "Discord REST: edit the reply",
        ("DiscordSink.edit", "Message.edit", "WebhookSink.edit", "StreamingReply.finish"),
    ),
    Part("Gateway: frames in (the message, echoes of the bot's own)", ("discord/gateway.py",)),
    Part(
        "Model stream: read and parse the SSE chunks",
        ("OpenAIChatStream", "aiohttp/streams.py", "bot/sse.py"),
    ),
    Part("Model request: send (floor: aiohttp)", ("aiohttp/client.py",)),
    Part(
        "Context: session, persona, history, rendering",
        ("ContextBuilder.", "Cast.", "Engine.current"),
    ),
    Part("Store calls on the event loop (rows → objects, queries)", ("storage/", "aiosqlite/")),
    Part(
        "Intake: parse, admit, queue", ("bot/discord_app/intake.py", "admission.py", "casting.py")
    ),
    Part("Other sessionbot code", ("bot/", "storage/", "situations/")),
    Part("Event loop and sockets (reads, writes, callbacks)", ("asyncio/",)),
    Part("Floor pipeline code", ("bench_pipeline.py",)),
)
OTHER = "Anything else"


def samples(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames outermost first, count) of each working stack in a py-spy raw file."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or any(marker in stack for marker in SET_UP):
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in IDLE):
            continue
        yield frames, int(count)


def shares(path: Path) -> tuple[Counter[str], int]:
    counts: Counter[str] = Counter()
    total = 0
    for frames, count in samples(path):
        total += count
        part = next((p.label for p in PARTS if p.matches(frames)), OTHER)
        counts[part] += count
    return counts, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--cpu-ms", type=float, help="the run's bot CPU per message (ms)")
    args = parser.parse_args()
    counts, total = shares(args.profile)
    if not total:
        raise SystemExit(f"{args.profile}: no working samples")
    print(f"{total} working samples")
    print(f"| part | share |{' ms/message |' if args.cpu_ms else ''}")
    print(f"| --- | --- |{' --- |' if args.cpu_ms else ''}")
    for label, count in counts.most_common():
        share = count / total
        ms = f" {share * args.cpu_ms:.2f} |" if args.cpu_ms else ""
        print(f"| {label} | {share * 100:.1f} % |{ms}")


if __name__ == "__main__":
    main()
