"""The PostgreSQL plumbing under PostgresStore: an asyncpg pool, opening and migrating.

Every operation borrows one pooled connection for as long as it needs it (one statement, or one
transaction), so operations of different tasks run concurrently. `connection()` lends one out
for longer, e.g. to hold a session-level advisory lock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Generator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Generic, Self, TypeVar
from uuid import UUID

import asyncpg

from ..errors import SessionNotFound
from ..health import StoreStatus
from ..models import Session
from . import queries as q
from .migrate import Conn, apply_migrations, schema_version
from .rows import session_from_record

__all__ = ["PostgresDatabase", "PostgresOpening"]

log = logging.getLogger(__name__)

POOL_MIN: Final = 1
POOL_MAX: Final = 10
COMMAND_TIMEOUT: Final = 30.0
"""Seconds one statement may take before it is cancelled."""

P = TypeVar("P", bound="PostgresDatabase")


class PostgresOpening(Generic[P]):
    """Returned by `open`: `await` it, or use it directly in `async with`."""

    def __init__(self, cls: type[P], dsn: str) -> None:
        self._cls = cls
        self._dsn = dsn
        self._store: P | None = None

    def __await__(self) -> Generator[Any, None, P]:
        return self._open().__await__()

    async def __aenter__(self) -> P:
        self._store = await self._open()
        return self._store

    async def _open(self) -> P:
        pool = await asyncpg.create_pool(
            self._dsn,
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            command_timeout=COMMAND_TIMEOUT,
            server_settings={"timezone": "UTC", "application_name": "sessionbot"},
        )
        try:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
        except BaseException:
            await pool.close()
            raise
        return self._cls(pool)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database holding sessionbot's schema."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._closed = False

    @classmethod
    def open(cls, dsn: str) -> PostgresOpening[Self]:
        """Connect to the database at `dsn` (a postgresql:// URL) and migrate it."""
        return PostgresOpening(cls, dsn)

    async def close(self) -> None:
        """Close every pooled connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """One pooled connection for the block (for advisory locks or a long transaction)."""
        async with self._pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Conn]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[asyncpg.Record]:
        return list(await self._pool.fetch(sql, *params))

    async def _fetch_session(self, conn: Conn, session_id: UUID) -> Session:
        row = await conn.fetchrow(q.SELECT_SESSION_FOR_UPDATE, session_id)
        if row is None:
            raise SessionNotFound(session_id)
        return session_from_record(row)

    async def _require_session(self, conn: Conn, session_id: UUID) -> None:
        if await conn.fetchval(q.SESSION_EXISTS, session_id) is None:
            raise SessionNotFound(session_id)

    # The database itself

    async def status(self) -> StoreStatus:
        """The schema version and the number of active sessions."""
        async with self._pool.acquire() as conn:
            version = await schema_version(conn)
            active = await conn.fetchval(q.COUNT_ACTIVE)
        return StoreStatus(schema_version=version, active_sessions=int(active))

    async def quick_check(self) -> list[str]:
        """`["ok"]` when every table and index of the schema is there and readable."""
        rows = await self._fetch(q.MISSING_RELATIONS, [list(q.EXPECTED_RELATIONS)])
        if rows:
            return [f"missing {row['name']}" for row in rows]
        await self._fetch(q.READ_EVERY_TABLE)
        return ["ok"]
