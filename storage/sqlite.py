"""The SQLite plumbing under SessionStore: one aiosqlite connection, one lock, transactions."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Generic, Self, TypeVar
from uuid import UUID

import aiosqlite

from . import queries as q
from .connection import BUSY_TIMEOUT, connect, is_busy
from .errors import DatabaseBusy, SessionNotFound
from .models import Session
from .rows import session_from_row

__all__ = ["Opening", "SqliteDatabase"]

log = logging.getLogger(__name__)

_CLOSING_PRAGMAS: Final = (
    "PRAGMA busy_timeout = 50",  # maintenance is not worth waiting for a busy database
    "PRAGMA analysis_limit = 400",
    "PRAGMA optimize",
)
_UNDECODABLE: Final = "Could not decode to UTF-8"
_RETRY_PAUSE: Final = 0.05


def _replacing_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


S = TypeVar("S", bound="SqliteDatabase")
T = TypeVar("T")
Statements = Sequence[tuple[str, Sequence[Any]]]


def _read_together(conn: sqlite3.Connection, statements: Statements) -> list[list[sqlite3.Row]]:
    """Run read statements in one read transaction (one snapshot); in the worker thread."""
    conn.execute("BEGIN")
    try:
        rows = [conn.execute(sql, params).fetchall() for sql, params in statements]
        conn.execute("COMMIT")  # a read transaction: nothing to keep or undo
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return rows


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
        """Close the connection (idempotent), after best-effort query-planner maintenance."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            try:
                await self._optimize()
            finally:
                await self._db.close()

    async def _optimize(self) -> None:
        """`PRAGMA optimize` is optional: if another process holds the database, skip it."""
        try:
            for pragma in _CLOSING_PRAGMAS:
                await self._db.execute_fetchall(pragma)
        except sqlite3.OperationalError as exc:
            log.debug("skipped PRAGMA optimize at close: %s", exc)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement, one thread hop; the caller holds the lock.

        A locked database is retried until the busy timeout has passed (DatabaseBusy then);
        text stored by an older version that is not valid UTF-8 is read with U+FFFD in place
        of the bad bytes (every statement here gives the same result when run again).
        """
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                return list(await self._db.execute_fetchall(sql, params))
            except sqlite3.OperationalError as exc:
                if str(exc).startswith(_UNDECODABLE):
                    return await self._run_replacing(sql, params)
                if not is_busy(exc):
                    raise
                # Inside a transaction the lock cannot be waited out statement by statement.
                if self._db.in_transaction or time.monotonic() >= deadline:
                    raise DatabaseBusy(BUSY_TIMEOUT) from exc
                await asyncio.sleep(_RETRY_PAUSE)

    async def _run_replacing(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        log.warning("some stored text is not valid UTF-8; showing U+FFFD in its place")
        self._db.text_factory = _replacing_text
        try:
            return list(await self._db.execute_fetchall(sql, params))
        finally:
            self._db.text_factory = str

    async def _in_worker(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on the connection in aiosqlite's worker thread: one hop for several
        statements; the caller holds the lock.

        aiosqlite has no public way to do this: `_execute` (queue a function on the worker
        thread) and `_conn` are private, used here and nowhere else; pyproject.toml bounds
        aiosqlite to the minor version this was tested with.
        """
        conn = self._db._conn  # private: see above
        result: T = await self._db._execute(fn, conn)  # type: ignore[no-untyped-call]
        return result

    async def _read(self, statements: Statements) -> list[list[sqlite3.Row]]:
        """The rows of several read statements, in one hop and one snapshot; the caller holds
        the lock. A busy database or undecodable text falls back to one `_run` per statement
        (which waits out the one and reads the other with U+FFFD)."""
        try:
            return await self._in_worker(lambda conn: _read_together(conn, statements))
        except sqlite3.OperationalError as exc:
            if not (is_busy(exc) or str(exc).startswith(_UNDECODABLE)):
                raise
            return [await self._run(sql, params) for sql, params in statements]

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
