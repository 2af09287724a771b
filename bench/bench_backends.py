"""Benchmark the two store backends side by side, in one run on this machine.

For SQLite (a file under a temporary directory) and PostgreSQL (a throwaway cluster this
script starts with PostgreSQL's default, durable settings, or the server at --postgres), it
measures:
  * the engine's time per message: a whole turn with an in-process model that answers at once
    (store the user message, hold the session, build the context, stream, store the reply);
  * ingest throughput: messages stored per second by --writers concurrent writers (each on its
    own session, as many conversations at once), and by one writer;
  * the metadata-filtered session list (`metadata_filter={"db_uuid": ...}`, 50 a page, 100
    matches) on --sessions sessions (100,000 by default), bulk-loaded through the copy path.

Run:  .venv/bin/python bench/bench_backends.py [--sessions 100000] [--turns 500]
      [--writers 32] [--ingest 4000] [--postgres postgresql://...]
Needs PostgreSQL's initdb/pg_ctl installed (or --postgres). Never run it beside a test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import InstantModel, personas_dir
from bench_storage import elapsed_ms, report

from bot.engine import Engine, Incoming
from situations import PersonaRegistry
from storage import ListQuery, Role, Session, SessionStatus, Store, open_store
from storage.models import utc_now

SUPERUSER = "postgres"
PASSWORD = "bench-only-password"
LOAD_BATCH = 1000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions for the list")
    parser.add_argument("--turns", type=int, default=500, help="measured engine turns")
    parser.add_argument("--writers", type=int, default=32, help="concurrent ingest writers")
    parser.add_argument("--ingest", type=int, default=4000, help="messages stored per ingest run")
    parser.add_argument("--lists", type=int, default=300, help="measured list calls")
    parser.add_argument("--postgres", help="an existing server's URL (a database it may use)")
    return parser.parse_args()


# A throwaway cluster -------------------------------------------------------------------------


def _bin_dir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if not found:
        raise SystemExit("PostgreSQL is not installed (no initdb); pass --postgres URL instead")
    return found[0].parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster with PostgreSQL's default (durable) settings; yield a superuser URL."""
    bin_dir, root = _bin_dir(), Path(tempfile.mkdtemp(prefix="sessionbot-bench-pg-"))
    run_as: list[str] = []
    password_file = root / "pwfile"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:  # initdb refuses root: run it as the postgres account
        account = pwd.getpwnam(SUPERUSER)
        for path in (root, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", SUPERUSER, "--"]
    data, port = root / "data", _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories=''"
    try:
        subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile",
             str(password_file), "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "start", "-D", str(data), "-w", "-l",
             str(root / "server.log"), "-o", options],
            check=True, capture_output=True,
        )  # fmt: skip
        yield f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


# Measurements --------------------------------------------------------------------------------


async def timed(samples: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    results: list[float] = []
    for index in range(samples + 50):
        start = time.perf_counter_ns()
        await call()
        if index >= 50:  # the first 50 warm the caches
            results.append(elapsed_ms(start))
    return results


async def turns(store: Store, personas: Path, samples: int) -> list[float]:
    registry = PersonaRegistry(personas)
    await registry.load()
    engine = Engine(store=store, personas=registry, model=InstantModel(), default_model="instant")
    try:
        session = (await engine.start_session(persona_id="sara", binding_key="bench:t")).session
        incoming = Incoming(content="How do I sleep better?", author_name="Ana")

        async def turn() -> None:
            await (await engine.chat(session.id, incoming, place="bench")).collect()

        return await timed(samples, turn)
    finally:
        await engine.close()


async def ingest(store: Store, writers: int, total: int) -> float:
    """Messages per second stored by `writers` concurrent writers, `total` in all."""
    tag = uuid.uuid4().hex[:8]
    sessions = [
        await store.create_session(agent_id="sara", situation="bench", binding_key=f"{tag}:{i}")
        for i in range(writers)
    ]
    each = total // writers

    async def write(session: Session) -> None:
        for n in range(each):
            await store.append_message(
                session.id, role=Role.USER, content=f"message {n} of a busy conversation",
                author_name="Ana", external_id=f"{tag}-{session.id}-{n}", tokens=6,
            )  # fmt: skip

    start = time.perf_counter()
    await asyncio.gather(*(write(s) for s in sessions))
    return each * writers / (time.perf_counter() - start)


def _session(i: int) -> Session:
    return Session(
        id=uuid.uuid4(),
        agent_id="sara",
        user_id=f"user-{i % 5000}",
        situation="You are Sara.",
        metadata={"db_uuid": str(i % 1000), "n": i},
        created_at=utc_now() + timedelta(microseconds=i),
        updated_at=utc_now(),
        tags=[],
        status=SessionStatus.ACTIVE,
        binding_key=None,
        persona_version=None,
        summarized_through=None,
    )


async def load_sessions(store: Store, count: int) -> None:
    """`count` sessions, 1,000 distinct db_uuid values, through the bulk copy path."""
    write = store.write_copied  # type: ignore[attr-defined]
    for first in range(0, count, LOAD_BATCH):
        await write([_session(i) for i in range(first, min(count, first + LOAD_BATCH))], [])


async def analyzed(url: str) -> None:
    """Let PostgreSQL's planner see the loaded table now, as autovacuum would soon after."""
    if url.startswith(("postgresql://", "postgres://")):
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("ANALYZE sessions")
        finally:
            await conn.close()


async def lists(store: Store, samples: int, matches: int) -> list[float]:
    values = iter(range(10**9))

    async def one() -> None:
        query = ListQuery(metadata_filter={"db_uuid": str(next(values) % 1000)}, limit=50)
        page = await store.list_sessions(query)
        assert len(page.items) == min(50, matches)

    return await timed(samples, one)


@dataclass
class Result:
    rows: list[tuple[str, list[float]]]
    ingest_many: float  # messages per second, --writers at once
    ingest_one: float  # messages per second, one writer
    load_seconds: float


async def measure(label: str, url: str, args: argparse.Namespace, personas: Path) -> Result:
    store = await open_store(url)
    try:
        rows = [(f"{label}: engine turn", await turns(store, personas, args.turns))]
        many = await ingest(store, args.writers, args.ingest)
        one = await ingest(store, 1, args.ingest // 4)
        start = time.perf_counter()
        await load_sessions(store, args.sessions)
        loaded = time.perf_counter() - start
        await analyzed(url)
        listed = await lists(store, args.lists, args.sessions // 1000)
        rows.append((f"{label}: list, metadata filter", listed))
    finally:
        await store.close()
    return Result(rows, many, one, loaded)


@contextlib.asynccontextmanager
async def postgres_url(args: argparse.Namespace) -> AsyncIterator[str]:
    if args.postgres:
        yield args.postgres
        return
    with cluster() as admin:
        yield await fresh_database(admin, "sessionbot_bench")


async def main_async(args: argparse.Namespace, scratch: Path) -> None:
    personas = personas_dir(scratch)
    results = {"SQLite": await measure("SQLite", str(scratch / "bench.db"), args, personas)}
    async with postgres_url(args) as url:
        results["PostgreSQL"] = await measure("PostgreSQL", url, args, personas)
    print(f"{os.cpu_count()} CPUs; {args.sessions:,} sessions in the list; "
          f"{args.writers} concurrent writers")  # fmt: skip
    report([row for result in results.values() for row in result.rows])
    for label, result in results.items():
        print(f"{label}: ingest {result.ingest_many:,.0f} msg/s with {args.writers} writers, "
              f"{result.ingest_one:,.0f} msg/s with one; {args.sessions:,} sessions loaded in "
              f"{result.load_seconds:.1f} s")  # fmt: skip


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(main_async(args, Path(directory)))


if __name__ == "__main__":
    main()
