"""Processes that start together on a fresh database all open it: migrations run under a lock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from storage import open_store
from tests.helpers import REPO
from tests.postgres_server import NO_POSTGRES, PostgresServer

PROCESSES = 6

# Each process waits for the go file, then opens (creating and migrating) the store.
OPENER = """
import asyncio, os, sys, time
from storage import open_store

async def main(url: str, go: str) -> None:
    while not os.path.exists(go):
        time.sleep(0.001)
    store = await open_store(url)
    status = await store.status()
    await store.close()
    print(status.schema_version)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def open_together(url: str, go: Path) -> list[tuple[int, str, str]]:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            OPENER,
            url,
            str(go),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    await asyncio.sleep(0.5)  # every interpreter is up and waiting
    await asyncio.to_thread(go.touch)
    results = []
    for proc in procs:
        stdout, stderr = await proc.communicate()
        results.append((proc.returncode or 0, stdout.decode().strip(), stderr.decode()))
    return results


async def latest_version(url: str) -> int:
    store = await open_store(url)
    try:
        return (await store.status()).schema_version
    finally:
        await store.close()


@pytest.mark.parametrize("round_", range(3))
async def test_processes_starting_together_on_a_fresh_sqlite_file_all_open_it(
    tmp_path: Path, round_: int
) -> None:
    url = str(tmp_path / "fresh.db")
    results = await open_together(url, tmp_path / "go")
    expected = str(await latest_version(url))
    assert [(code, out) for code, out, _ in results] == [(0, expected)] * PROCESSES, results


async def test_processes_starting_together_on_a_fresh_postgres_database_all_open_it(
    tmp_path: Path, postgres: PostgresServer | None
) -> None:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database(migrated=False) as url:
        results = await open_together(url, tmp_path / "go")
        expected = str(await latest_version(url))
        assert [(code, out) for code, out, _ in results] == [(0, expected)] * PROCESSES, results
