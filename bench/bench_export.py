"""Peak memory of `sessionbot sessions export` on one long session (JSON and Markdown).

Builds a session of --messages messages of --size bytes each with one bulk SQL insert, then runs
the real command in a subprocess per format and reports its peak RSS (the subprocess's
ru_maxrss, measured by a small parent of its own so nothing else counts).

    .venv/bin/python bench/bench_export.py                 # 100,000 x 2 KB (about 200 MB of text)
    .venv/bin/python bench/bench_export.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage import SessionStore
from storage.models import to_micros, utc_now

REPO = Path(__file__).resolve().parent.parent
# A parent whose only child is the export: its RUSAGE_CHILDREN peak is the export's peak.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(done.returncode, peak)\n"
)


def fill_session(path: Path, messages: int, size: int) -> str:
    """A migrated database at `path` holding one session of `messages` messages of `size` bytes."""
    asyncio.run(_migrate(path))
    session_id = str(uuid.uuid4())
    now = to_micros(utc_now())
    body = ("lorem ipsum dolor sit amet " * (size // 27 + 1))[: size - 8]
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(
                "INSERT INTO sessions (id, agent_id, user_id, situation, created_at, updated_at)"
                " VALUES (?, 'sara', 'ana', 'Situation.', ?, ?)",
                (session_id, now, now),
            )
            connection.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
                " INSERT INTO messages (session_id, role, author_name, content, created_at,"
                " tokens, tokens_source)"
                " SELECT ?, CASE i % 2 WHEN 0 THEN 'assistant' ELSE 'user' END, 'Ana',"
                " printf('%08d', i) || ?, ? + i, 400, 'estimate' FROM n",
                (messages, session_id, body, now),
            )
    finally:
        connection.close()
    return session_id


async def _migrate(path: Path) -> None:
    async with SessionStore.open(path):
        pass


def export_peak(database: Path, session_id: str, fmt: str, output: Path | None) -> tuple[int, int]:
    """(exit status, peak RSS in KiB) of `sessionbot sessions export` in a subprocess."""
    command = [sys.executable, "-m", "bot", "sessions", "export", session_id, "--format", fmt]
    if output is not None:
        command += ["-o", str(output)]
    env = {**os.environ, "SESSIONBOT_DATABASE": str(database)}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        env=env, cwd=REPO, capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    status, peak = done.stdout.split()
    return int(status), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=2048, help="bytes per message")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "export.db"
        start = time.perf_counter()
        session_id = fill_session(database, args.messages, args.size)
        text_mb = args.messages * args.size / 1e6
        print(f"built {args.messages:,} messages ({text_mb:.0f} MB of text) in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        for fmt in ("json", "md"):
            for target in ("stdout", "file"):
                output = Path(tmp) / f"out.{fmt}" if target == "file" else None
                start = time.perf_counter()
                status, peak = export_peak(database, session_id, fmt, output)
                elapsed = time.perf_counter() - start
                print(f"export --format {fmt} to {target}: exit {status}, "
                      f"peak RSS {peak / 1024:.0f} MB, {elapsed:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
