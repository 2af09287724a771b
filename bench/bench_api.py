"""Benchmark the HTTP API: requests per second for create and for a metadata-filtered list.

Fills a database with --sessions sessions (plain sqlite3, one transaction; each has
`metadata.db_uuid`, one of 1,000 values, so a filter matches about --sessions / 1000 of them),
starts the real `sessionbot serve` in a subprocess on 127.0.0.1, and measures over loopback with
an aiohttp client keeping --concurrency requests in flight:
  * create: POST /sessions, the documented example request (persona sara, a situation, metadata);
    sara greets, so each create also stores a message,
  * filtered list: GET /sessions?metadata_filter.db_uuid=<random>, one page (up to 100) of the
    matching sessions, newest first,
  * for comparison, GET /sessions without a filter (the newest 100 sessions).
Each phase runs until --requests requests or --seconds seconds, whichever comes first. No model
is called. Besides requests per second (which the client's own work and anything else running
on the machine move), each phase reports the server process's CPU time per request, read from
/proc: the steadier figure on a shared machine. The client reads each list with orjson, so that
its own share of the machine stays small.

Run:  .venv/bin/python bench/bench_api.py [--sessions 100000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from storage import SessionStore  # noqa: E402
from storage.models import to_micros, utc_now  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
FILTER_VALUES = 1000
SERVING = re.compile(r"serving the HTTP API on (http://\S+) ")
SITUATION = "You are Sara, a mental health professional.\nAbout you:\n...\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions to preload")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--requests", type=int, default=3000, help="most requests per phase")
    parser.add_argument("--seconds", type=float, default=20.0, help="longest time per phase")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def session_rows(total: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    start = to_micros(utc_now()) - total * 1000
    for index in range(total):
        metadata = {"db_uuid": str(rng.randrange(FILTER_VALUES)), "n": index}
        created = start + index * 1000
        yield (
            str(uuid.uuid4()), rng.choice(["sara", "tutor", "gamemaster"]), f"u{index % 500}",
            "Situation.", json.dumps(metadata, separators=(",", ":"), sort_keys=True),
            created, created, json.dumps(["bench"] if index % 10 == 0 else []),
            f"discord:{index % 20}:{index}" if index % 2 else None,
        )  # fmt: skip


def bulk_fill(path: Path, total: int, rng: random.Random) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                "INSERT INTO sessions (id, agent_id, user_id, situation, metadata, created_at,"
                " updated_at, tags, binding_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                session_rows(total, rng),
            )
        connection.execute("ANALYZE")
    finally:
        connection.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    latencies: list[float]
    seconds: float
    failures: int
    server_cpu: float

    def report(self) -> str:
        done = len(self.latencies)
        ordered = sorted(self.latencies)
        p95 = ordered[int(0.95 * (done - 1))] if ordered else float("nan")
        return (
            f"{self.name:<15} {done:>6} requests in {self.seconds:5.1f} s = "
            f"{done / self.seconds:8.1f} req/s   p50 {statistics.median(ordered) * 1000:6.1f} ms"
            f"   p95 {p95 * 1000:6.1f} ms   server CPU {self.server_cpu / done * 1000:5.2f} ms/req"
            f"   failures {self.failures}"
        )


async def run_phase(
    name: str,
    request: Callable[[aiohttp.ClientSession, random.Random], Awaitable[bool]],
    session: aiohttp.ClientSession,
    args: argparse.Namespace,
    server: int,
) -> Phase:
    latencies: list[float] = []
    failures = 0
    issued = 0
    deadline = time.perf_counter() + args.seconds

    async def worker(seed: int) -> None:
        nonlocal issued, failures
        rng = random.Random(seed)
        while issued < args.requests and time.perf_counter() < deadline:
            issued += 1
            began = time.perf_counter()
            ok = await request(session, rng)
            latencies.append(time.perf_counter() - began)
            failures += not ok

    began, cpu = time.perf_counter(), cpu_seconds(server)
    await asyncio.gather(*(worker(args.seed + n) for n in range(args.concurrency)))
    elapsed = time.perf_counter() - began
    return Phase(name, latencies, elapsed, failures, cpu_seconds(server) - cpu)


async def create(session: aiohttp.ClientSession, rng: random.Random) -> bool:
    body = {
        "agent_id": "sara",
        "user_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "situation": SITUATION,
        "metadata": {"db_uuid": str(rng.randrange(FILTER_VALUES))},
    }
    async with session.post("/sessions", json=body) as response:
        await response.read()
        return response.status == 201


async def filtered_list(session: aiohttp.ClientSession, rng: random.Random) -> bool:
    params = {"metadata_filter.db_uuid": str(rng.randrange(FILTER_VALUES))}
    async with session.get("/sessions", params=params) as response:
        items = orjson.loads(await response.read())["items"]
        return response.status == 200 and bool(items)


async def newest(session: aiohttp.ClientSession, rng: random.Random) -> bool:
    async with session.get("/sessions") as response:
        items = orjson.loads(await response.read())["items"]
        return response.status == 200 and len(items) == 100


def start_server(db: Path, home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),  # the server of this tree, whatever the venv has installed
        "HOME": str(home),
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # never called
        "SESSIONBOT_MODEL": "bench-model",
        "SESSIONBOT_DATABASE": str(db),
        "SESSIONBOT_PERSONAS": str(REPO / "personas"),
        "SESSIONBOT_API_TOKEN": TOKEN,
        "SESSIONBOT_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        env=env,
        cwd=home,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        match = SERVING.search(line)
        if match:
            return process, match.group(1)
    raise SystemExit(f"sessionbot serve did not start (exit {process.wait()})")


async def measure(url: str, server: int, args: argparse.Namespace) -> list[Phase]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as session:
        for warm in range(20):  # connections, caches, persona files
            await filtered_list(session, random.Random(warm))
        return [
            await run_phase("create", create, session, args, server),
            await run_phase("filtered list", filtered_list, session, args, server),
            await run_phase("list, no filter", newest, session, args, server),
        ]


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        db.unlink(missing_ok=True)
        asyncio.run(_migrate(db))
        began = time.perf_counter()
        bulk_fill(db, args.sessions, rng)
        print(f"filled {args.sessions:,} sessions in {time.perf_counter() - began:.1f} s ({db})")
        process, url = start_server(db, Path(tmp))
        try:
            phases = asyncio.run(measure(url, process.pid, args))
        finally:
            process.terminate()
            process.wait(timeout=30)
            if process.stderr is not None:
                process.stderr.close()
    print(
        f"sessionbot serve on {url}, {args.sessions:,} sessions, concurrency {args.concurrency}, "
        f"filter matches ~{args.sessions // FILTER_VALUES} sessions"
    )
    for phase in phases:
        print(phase.report())


async def _migrate(db: Path) -> None:
    async with SessionStore.open(db):
        pass


if __name__ == "__main__":
    main()
