"""Opening the database file: its directory, connection settings and migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

import aiosqlite

from .errors import DatabaseBusy
from .migrate import apply_migrations, check_ours, user_version

__all__ = ["BUSY_TIMEOUT", "connect", "is_busy"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT: Final = 5.0
"""Seconds a statement waits for another connection's write lock before giving up."""

_PRAGMAS: Final = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000):d}",
)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """True for "database is locked" / "database is busy" (another connection holds a lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "database is locked" in str(exc)
    return code & 0xFF in _BUSY_CODES  # the primary code of an extended one


_BUSY_CODES: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


async def connect(path: str | os.PathLike[str]) -> aiosqlite.Connection:
    """An autocommit connection in WAL mode, with foreign keys on and migrations applied."""
    location = os.fspath(path)
    if location != ":memory:":
        await asyncio.to_thread(Path(location).parent.mkdir, parents=True, exist_ok=True)
    db = await aiosqlite.connect(location, isolation_level=None, timeout=BUSY_TIMEOUT)
    try:
        db.row_factory = sqlite3.Row
        # Before anything changes the file, and in one read transaction: another process may
        # be creating the tables right now, and the version and the tables must agree.
        await db.execute_fetchall("BEGIN")
        try:
            await check_ours(db, await user_version(db))
        finally:
            await db.execute_fetchall("ROLLBACK")
        await _configure(db)
        await apply_migrations(db)
    except BaseException as exc:
        await db.close()
        if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
            raise DatabaseBusy(BUSY_TIMEOUT) from exc
        raise
    return db


async def _configure(db: aiosqlite.Connection) -> None:
    rows = list(await db.execute_fetchall("PRAGMA journal_mode = WAL"))
    if rows[0][0] != "wal":
        log.warning("SQLite refused WAL mode (journal_mode=%s)", rows[0][0])
    for pragma in _PRAGMAS:
        await db.execute_fetchall(pragma)
