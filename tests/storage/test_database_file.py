"""Which files the store opens, and how it behaves when another program holds the database."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage import SessionStore
from storage.errors import DatabaseBusy, NotSessionbotDatabase
from storage.migrate import APPLICATION_ID, default_source, load_migrations
from tests.storage.helpers import new_session, raw_query, say


def test_the_migration_sets_the_application_id_constant() -> None:
    [last] = [m for m in load_migrations(default_source()) if m.name.endswith("application_id.sql")]
    assert f"PRAGMA application_id = {APPLICATION_ID}" in last.statements[0]


async def test_a_new_database_is_marked_as_sessionbot(store: SessionStore, db_path: Path) -> None:
    assert raw_query(db_path, "PRAGMA application_id") == [(APPLICATION_ID,)]


async def test_an_older_sessionbot_database_is_marked_on_upgrade(db_path: Path) -> None:
    async with SessionStore.open(db_path) as store:
        session = await new_session(store)
        await say(store, session, "kept")
    raw_query(db_path, "PRAGMA application_id = 0")
    raw_query(db_path, "PRAGMA user_version = 3")
    async with SessionStore.open(db_path) as store:
        assert [m.content for m in await store.recent_history(session.id, limit=5)] == ["kept"]
    assert raw_query(db_path, "PRAGMA application_id") == [(APPLICATION_ID,)]


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (["CREATE TABLE invoices (id INTEGER)"], "other tables: invoices"),
        (["PRAGMA application_id = 42"], "application id"),
        (["CREATE TABLE things (x)", "PRAGMA user_version = 2"], "without sessionbot's tables"),
    ],
)
async def test_a_foreign_database_is_refused_and_left_untouched(
    db_path: Path, setup: list[str], words: str
) -> None:
    db_path.parent.mkdir()
    for sql in setup:
        raw_query(db_path, sql)
    before = raw_query(db_path, "SELECT name FROM sqlite_master ORDER BY name")
    with pytest.raises(NotSessionbotDatabase, match=words) as caught:
        await SessionStore.open(db_path)
    assert "not a sessionbot database" in str(caught.value)
    assert raw_query(db_path, "SELECT name FROM sqlite_master ORDER BY name") == before


def hold_write_lock(db_path: Path, seconds: float, started: threading.Event) -> None:
    connection = sqlite3.connect(db_path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE sessions SET summary = 'held'")
        started.set()
        time.sleep(seconds)
        connection.execute("COMMIT")
    finally:
        connection.close()


@contextmanager
def another_writer(db_path: Path, seconds: float) -> Iterator[None]:
    """Another connection holds a write transaction for `seconds` while the block runs."""
    started = threading.Event()
    writer = threading.Thread(target=hold_write_lock, args=(db_path, seconds, started))
    writer.start()
    started.wait()
    try:
        yield
    finally:
        writer.join()


async def test_close_skips_maintenance_when_another_program_writes(db_path: Path) -> None:
    store = await SessionStore.open(db_path)
    await new_session(store)
    with another_writer(db_path, 1.0):
        await store.close()  # PRAGMA optimize may need the lock: best effort, never raised


async def test_a_write_waits_for_a_lock_released_within_the_busy_timeout(db_path: Path) -> None:
    async with SessionStore.open(db_path) as store:
        session = await new_session(store)
        with another_writer(db_path, 1.0):
            message = await say(store, session, "after the wait")
    assert message.content == "after the wait"


async def test_a_lock_held_past_the_busy_timeout_is_one_sentence(db_path: Path) -> None:
    async with SessionStore.open(db_path) as store:
        session = await new_session(store)
        with another_writer(db_path, 6.5), pytest.raises(DatabaseBusy, match="stayed locked"):
            await say(store, session, "never stored")
    assert raw_query(db_path, "SELECT count(*) FROM messages") == [(0,)]
