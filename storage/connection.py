"""Opening the database file: its directory, connection settings and migrations."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

import aiosqlite

from .migrate import apply_migrations

__all__ = ["connect"]

log = logging.getLogger(__name__)

_PRAGMAS: Final = (
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
)


async def connect(path: str | os.PathLike[str]) -> aiosqlite.Connection:
    """An autocommit connection in WAL mode, with foreign keys on and migrations applied."""
    location = os.fspath(path)
    if location != ":memory:":
        await asyncio.to_thread(Path(location).parent.mkdir, parents=True, exist_ok=True)
    db = await aiosqlite.connect(location, isolation_level=None, timeout=5.0)
    try:
        db.row_factory = sqlite3.Row
        await _configure(db)
        await apply_migrations(db)
    except BaseException:
        await db.close()
        raise
    return db


async def _configure(db: aiosqlite.Connection) -> None:
    rows = list(await db.execute_fetchall("PRAGMA journal_mode = WAL"))
    if rows[0][0] != "wal":
        log.warning("SQLite refused WAL mode (journal_mode=%s)", rows[0][0])
    for pragma in _PRAGMAS:
        await db.execute_fetchall(pragma)
