"""Benchmark the session store on a large database.

Builds a database with --messages messages spread over many sessions (one of them with 10,000
messages), then measures through SessionStore:
  * append_message latency (one statement, triggers included),
  * recent_history(limit=40) and recent_history(limit=200) on the 10,000-message session.

Run:  .venv/bin/python bench/bench_storage.py [--messages 1000000] [--db bench/bench.db]
The bulk SETUP uses plain sqlite3 executemany in one transaction; every MEASURED call goes
through SessionStore / aiosqlite. Without --db the database lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from storage import ListQuery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import Role, SessionStore
from storage.models import to_micros, utc_now

BIG_SESSION_MESSAGES = 10_000
MESSAGES_PER_SESSION = 500
WORDS = ("the", "a", "session", "persona", "history", "message", "window", "sleep", "gentle")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages to preload")
    parser.add_argument("--appends", type=int, default=2000, help="measured append_message calls")
    parser.add_argument("--fetches", type=int, default=1000, help="measured calls per history size")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def fake_text(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(5, 40)))


def message_rows(
    total: int, big: str, others: list[str], rng: random.Random
) -> Iterator[tuple[object, ...]]:
    """Messages interleaved across sessions, every `step`-th one in the big session."""
    step = max(1, total // BIG_SESSION_MESSAGES)
    start = to_micros(utc_now()) - total * 1000
    for index in range(total):
        in_big = index % step == 0 and index // step < BIG_SESSION_MESSAGES
        session_id = big if in_big or not others else rng.choice(others)
        role = "user" if index % 2 == 0 else "assistant"
        text = fake_text(rng)
        yield (session_id, role, "author", text, start + index * 1000, f"x{index}", len(text) // 4)


def bulk_fill(path: Path, total: int, rng: random.Random) -> str:
    """Fill the (already migrated) database; return the id of the 10,000-message session."""
    session_count = max(2, total // MESSAGES_PER_SESSION)
    ids = [str(uuid.uuid4()) for _ in range(session_count)]
    now = to_micros(utc_now())
    sessions = [
        (sid, rng.choice(["sara", "tutor", "dm"]), f"u{i % 50}", "Situation.", now, now,
         json.dumps(sorted(rng.sample(["a", "b", "c", "d"], 2))), f"discord:{i % 20}:{i}")
        for i, sid in enumerate(ids)
    ]  # fmt: skip
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA cache_size = -262144")  # 256 MB: keeps the bulk load off the disk
    try:
        with connection:
            connection.executemany(
                "INSERT INTO sessions (id, agent_id, user_id, situation, created_at, updated_at,"
                " tags, binding_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                sessions,
            )
            connection.executemany(
                "INSERT INTO messages (session_id, role, author_name, content, created_at,"
                " external_id, tokens, tokens_source) VALUES (?, ?, ?, ?, ?, ?, ?, 'estimate')",
                message_rows(total, ids[0], ids[1:], rng),
            )
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return ids[0]


def elapsed_ms(start: int) -> float:
    return (time.perf_counter_ns() - start) / 1e6


async def measure_appends(store: SessionStore, ids: list[uuid.UUID], count: int) -> list[float]:
    rng = random.Random(1)
    samples: list[float] = []
    for index in range(count + 200):
        session_id = rng.choice(ids)
        text = fake_text(rng)
        start = time.perf_counter_ns()
        await store.append_message(
            session_id, role=Role.USER, content=text, external_id=f"bench-{index}", tokens=9
        )
        if index >= 200:  # the first 200 warm the caches
            samples.append(elapsed_ms(start))
    return samples


async def measure_history(
    store: SessionStore, session_id: uuid.UUID, limit: int, count: int
) -> list[float]:
    samples: list[float] = []
    for index in range(count + 50):
        start = time.perf_counter_ns()
        history = await store.recent_history(session_id, limit=limit)
        if index >= 50:
            samples.append(elapsed_ms(start))
        assert len(history) == limit
    return samples


def report(rows: list[tuple[str, list[float]]]) -> None:
    print(f"{'operation':<40} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, samples in rows:
        cuts = statistics.quantiles(samples, n=100)
        mean = statistics.fmean(samples)
        print(f"{name:<40} {len(samples):>6} {cuts[49]:>8.3f} {cuts[94]:>8.3f} {mean:>8.3f}")


async def create_schema(path: Path) -> None:
    async with SessionStore.open(path):
        pass


def dataset_options(parser: argparse.ArgumentParser) -> None:
    """The options of scripts that measure on this database and may keep it between runs."""
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages to preload")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="reuse --db if it exists")
    parser.add_argument("--seed", type=int, default=7)


def build_or_reuse(path: Path, args: argparse.Namespace) -> uuid.UUID:
    """The big session's id: from a kept database (--reuse), or of a freshly built one."""
    marker = path.with_name(path.name + ".big")  # the id of the big session, for --reuse
    if args.reuse and path.exists() and marker.exists():
        return uuid.UUID(marker.read_text(encoding="utf-8"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    big = build(path, args)
    marker.write_text(str(big), encoding="utf-8")
    return big


def build(path: Path, args: argparse.Namespace) -> uuid.UUID:
    asyncio.run(create_schema(path))
    began = time.perf_counter()
    big = uuid.UUID(bulk_fill(path, args.messages, random.Random(args.seed)))
    seconds = time.perf_counter() - began
    size = path.stat().st_size / 1e6
    print(f"setup: {args.messages:,} messages in {seconds:.1f} s, file {size:.0f} MB")
    return big


async def measure(path: Path, big: uuid.UUID, args: argparse.Namespace) -> None:
    async with SessionStore.open(path) as store:
        print(f"big session: {await store.count_messages(big):,} messages")
        sample = await store.list_sessions(ListQuery(limit=200))
        targets = [big, *(session.id for session in sample.items)]
        rows = [
            ("append_message", await measure_appends(store, targets, args.appends)),
            ("recent_history(limit=40)", await measure_history(store, big, 40, args.fetches)),
            ("recent_history(limit=200)", await measure_history(store, big, 200, args.fetches)),
        ]
    report(rows)


def run(path: Path, args: argparse.Namespace) -> None:
    big = build(path, args)
    asyncio.run(measure(path, big, args))


def main() -> None:
    args = parse_args()
    if args.db is None:
        with tempfile.TemporaryDirectory() as directory:
            run(Path(directory) / "bench.db", args)
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    run(args.db, args)


if __name__ == "__main__":
    main()
