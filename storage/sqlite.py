"""The SQLite plumbing under SessionStore: one aiosqlite connection, one lock, transactions."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

import aiosqlite

from . import queries as q
from .connection import connect
from .errors import SessionNotFound
from .models import Session
from .rows import session_from_row

__all__ = ["Opening", "SqliteDatabase"]

S = TypeVar("S", bound="SqliteDatabase")


class Opening(Generic[S]):
    """Returned by `open`: `await` it, or use it directly in `async with`."""

    def __init__(self, cls: type[S], path: str | os.PathLike[str]) -> None:
        self._cls = cls
        self._path = path
        self._store: S | None = None

    def __await__(self) -> Generator[Any, None, S]:
        return self._open().__await__()

    async def __aenter__(self) -> S:
        self._store = await self._open()
        return self._store

    async def _open(self) -> S:
        return self._cls(await connect(self._path))

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


class SqliteDatabase:
    """One shared connection. Every operation holds one lock, so no statement from another
    task ever lands inside someone else's transaction on the shared connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Opening[Self]:
        """Open (creating if needed) and migrate the database at `path`."""
        return Opening(cls, path)

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await self._db.execute_fetchall("PRAGMA analysis_limit = 400")
                await self._db.execute_fetchall("PRAGMA optimize")
            finally:
                await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement, one thread hop; the caller holds the lock."""
        return list(await self._db.execute_fetchall(sql, params))

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            return await self._run(sql, params)

    @asynccontextmanager
    async def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> AsyncIterator[None]:
        async with self._lock:
            await self._run(begin)
            try:
                yield
            except BaseException:
                await self._run("ROLLBACK")
                raise
            await self._run("COMMIT")

    async def _fetch_session(self, session_id: UUID) -> Session:
        rows = await self._run(q.SELECT_SESSION, (str(session_id),))
        if not rows:
            raise SessionNotFound(session_id)
        return session_from_row(rows[0])

    async def _require_session(self, session_id: UUID) -> None:
        if not await self._run(q.SESSION_EXISTS, (str(session_id),)):
            raise SessionNotFound(session_id)
