"""PostgreSQL's numbered migrations (storage/postgres/migrations), applied under a lock.

The schema version lives in `sessionbot_schema`. A session-level advisory lock serialises every
process that opens the same database, so processes starting together on a fresh database
never race: the second one finds the work done. Each file and its version row commit together.
Only the rights of the database's owner are needed.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..errors import MigrationError, NotSessionbotDatabase
from ..migrate import APPLICATION_ID, Migration, load_migrations

__all__ = ["MIGRATION_LOCK", "Conn", "apply_migrations", "default_source", "schema_version"]

log = logging.getLogger(__name__)

Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
"""A connection of its own or one lent by the pool."""

MIGRATION_LOCK: Final = APPLICATION_ID
"""The advisory lock key held while migrating ("SBOT"); other advisory locks must avoid it."""

_CREATE_VERSION_TABLE: Final = """
CREATE TABLE IF NOT EXISTS sessionbot_schema (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_VERSION: Final = "SELECT coalesce(max(version), 0) FROM sessionbot_schema"
# Tables of ours in the schema the connection writes to (the first of its search_path).
_TABLES: Final = """
SELECT array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE c.relname IS NOT NULL)
FROM pg_class AS c
WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
  AND c.relkind IN ('r', 'p')
"""


def default_source() -> Traversable:
    """The PostgreSQL migrations shipped with this package."""
    return resources.files("storage.postgres") / "migrations"


async def schema_version(conn: Conn) -> int:
    """The applied version; 0 for a database that has none of sessionbot's tables."""
    exists = await conn.fetchval("SELECT to_regclass('sessionbot_schema') IS NOT NULL")
    return int(await conn.fetchval(_VERSION)) if exists else 0


async def apply_migrations(conn: Conn, source: Traversable | None = None) -> int:
    """Bring the database up to the newest migration; return the new version."""
    try:
        migrations = await asyncio.to_thread(load_migrations, source or default_source())
    except (OSError, ValueError) as exc:
        raise MigrationError(str(exc), version=0) from exc
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await _check_ours(conn)
        await conn.execute(_CREATE_VERSION_TABLE)
        current = await schema_version(conn)
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise MigrationError(
                f"the database is at version {current} but this code only knows up to {latest}",
                version=current,
            )
        for migration in migrations[current:]:
            await _apply(conn, migration, current)
            current = migration.version
        return current
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _check_ours(conn: Conn) -> None:
    """NotSessionbotDatabase if the schema holds tables but no sessionbot version table."""
    tables = await conn.fetchval(_TABLES) or []
    if tables and "sessionbot_schema" not in tables:
        shown = ", ".join(tables[:5])
        raise NotSessionbotDatabase(f"it already holds other tables: {shown}")


async def _apply(conn: Conn, migration: Migration, current: int) -> None:
    log.info("applying migration %s", migration.name)
    try:
        async with conn.transaction():
            for statement in migration.statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO sessionbot_schema (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{migration.name} failed ({exc})", version=current) from exc
