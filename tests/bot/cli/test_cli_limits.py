"""The `sessionbot` command refuses what the store cannot keep, and copes with a busy or foreign
database file: one line, a non-zero exit, never a traceback (real subprocesses, real SQLite)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

DEEP = "[" * 500 + "]" * 500
HUGE = "1" * 30


def run(args: list[str | bytes], env: dict[str, str], stdin: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


def finish(process: subprocess.Popen[bytes], stdin: str = "") -> tuple[int, str, str]:
    out, err = process.communicate(stdin.encode(), timeout=90)
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def assert_one_line_error(code: int, stderr: str, words: str) -> None:
    assert code != 0
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("hint:")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sessionbot: error: ") and words in lines[0], stderr


def stored_sessions(env: dict[str, str]) -> int:
    path = Path(env["SESSIONBOT_DATABASE"])
    if not path.exists():
        return 0
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM sessions").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["chat", "--persona", "sara", "--meta", f"a:={DEEP}"], "nested deeper than 32"),
        (["chat", "--persona", "sara", "--meta", "a:=" + "[" * 100_000], "nested too deeply"),
        (["chat", "--persona", "sara", "--meta", f"n:={HUGE}"], "64-bit range"),
        (["chat", "--persona", "sara", "--tag", b"bad\xff"], "unpaired surrogate"),
        (["chat", "--persona", "sara", "--name", b"An\xffa"], "unpaired surrogate"),
        (["chat", "--persona", "sara", "--meta", b"k=v\xff"], "unpaired surrogate"),
        (["sessions", "list", "--meta", f"n:={HUGE}"], "64-bit range"),
        (["sessions", "list", "--tag", b"\xff"], "unpaired surrogate"),
    ],
)
def test_values_the_store_cannot_keep_are_one_line_errors(
    shipped_env: dict[str, str], args: list[str | bytes], words: str
) -> None:
    code, _, stderr = finish(run(args, shipped_env), "hello\n")
    assert_one_line_error(code, stderr, words)
    assert stored_sessions(shipped_env) == 0


def test_a_foreign_database_is_refused_untouched(shipped_env: dict[str, str]) -> None:
    path = Path(shipped_env["SESSIONBOT_DATABASE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.close()
    before = path.read_bytes()
    code, _, stderr = finish(run(["sessions", "list"], shipped_env))
    assert_one_line_error(code, stderr, "not a sessionbot database")
    assert path.read_bytes() == before


def keep_writing(path: Path, stop: threading.Event, hold: float) -> None:
    """Another program writing: a write transaction held for `hold` s, again and again."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        while not stop.is_set():
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE sessions SET summary = ?", (str(time.time()),))
            time.sleep(hold)
            connection.execute("COMMIT")
            time.sleep(0.1)  # a gap between transactions, as a real writer leaves
    finally:
        connection.close()


def prepared(env: dict[str, str]) -> Path:
    code, _, stderr = finish(run(["chat", "--persona", "sara"], env), "first\n")
    assert code == 0, stderr
    return Path(env["SESSIONBOT_DATABASE"])


def test_commands_succeed_while_another_program_writes(shipped_env: dict[str, str]) -> None:
    path = prepared(shipped_env)
    stop = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(path, stop, 0.3))
    writer.start()
    try:
        results = []
        for _ in range(5):  # six at a time on a small machine
            group = [run(["sessions", "list"], shipped_env) for _run in range(6)]
            results += [finish(p) for p in group]
        chats = [run(["chat", "--persona", "sara"], shipped_env) for _ in range(5)]
        results += [finish(p, "hello\n") for p in chats]
    finally:
        stop.set()
        writer.join()
    for index, (code, _, stderr) in enumerate(results):
        assert code == 0 and "Traceback" not in stderr, (index, stderr)
    assert stored_sessions(shipped_env) == 6


def test_a_lock_that_is_never_released_is_one_line(shipped_env: dict[str, str]) -> None:
    path = prepared(shipped_env)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE sessions SET summary = 'held'")
        code, _, stderr = finish(run(["chat", "--persona", "sara"], shipped_env), "hello\n")
        listed = finish(run(["sessions", "list"], shipped_env))
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    assert_one_line_error(code, stderr, "stayed locked by another program")
    assert listed[0] == 0 and "Traceback" not in listed[2]  # reading never waits for a writer
    assert stored_sessions(shipped_env) == 1
    assert os.path.getsize(path) > 0
