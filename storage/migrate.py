"""Numbered SQL migrations applied under `PRAGMA user_version`.

Each `NNNN_name.sql` file and its version bump commit together in one explicit transaction,
so a failing file leaves the database exactly as it was. Files must not contain their own
transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT) or `PRAGMA foreign_keys`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

import aiosqlite

from .errors import MigrationError, NotSessionbotDatabase

__all__ = [
    "APPLICATION_ID",
    "Migration",
    "apply_migrations",
    "default_source",
    "load_migrations",
    "split_statements",
]

APPLICATION_ID: Final = 0x53424F54  # "SBOT"; set by 0004_application_id.sql
_OUR_TABLES: Final = frozenset({"sessions", "messages"})

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_\w+\.sql$")
_FORBIDDEN_START = re.compile(r"^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def default_source() -> Traversable:
    """The migrations shipped with this package."""
    return resources.files("storage") / "migrations"


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    pieces = script.split(";")
    for piece in pieces[:-1]:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    leftover = _strip_comments(buffer + pieces[-1])
    if leftover:
        raise ValueError(f"incomplete SQL statement at the end: {leftover[:60]!r}")
    return [s for s in statements if _strip_comments(s) != ";"]


def _strip_comments(sql: str) -> str:
    lines = (line for line in sql.splitlines() if not line.strip().startswith("--"))
    return "\n".join(lines).strip()


def load_migrations(source: Traversable) -> list[Migration]:
    """Read and check every `NNNN_name.sql` under `source`, in version order."""
    found: dict[int, Migration] = {}
    for entry in source.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None or not entry.is_file():
            continue
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations share version {version}: {entry.name}")
        found[version] = _read_migration(entry, version)
    versions = sorted(found)
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must run 1, 2, 3... without gaps; found {versions}")
    return [found[v] for v in versions]


def _read_migration(entry: Traversable, version: int) -> Migration:
    statements = tuple(split_statements(entry.read_text(encoding="utf-8")))
    for statement in statements:
        if _FORBIDDEN_START.match(_strip_comments(statement)):
            raise ValueError(f"{entry.name} must not control transactions itself")
    return Migration(version=version, name=entry.name, statements=statements)


async def user_version(db: aiosqlite.Connection) -> int:
    rows = list(await db.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def apply_migrations(db: aiosqlite.Connection, source: Traversable | None = None) -> int:
    """Bring the database up to the newest migration in `source`; return the new version.

    `db` must be in autocommit mode (`isolation_level=None`).
    """
    current = await user_version(db)
    try:
        migrations = await asyncio.to_thread(load_migrations, source or default_source())
    except (OSError, ValueError) as exc:
        raise MigrationError(str(exc), version=current) from exc
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise MigrationError(
            f"the database is at version {current} but this code only knows up to {latest}",
            version=current,
        )
    for migration in migrations[current:]:
        current = await _apply(db, migration, current)
    return current


async def check_ours(db: aiosqlite.Connection, version: int) -> None:
    """NotSessionbotDatabase unless the file is blank, ours, or ours from before APPLICATION_ID."""
    rows = list(await db.execute_fetchall("PRAGMA application_id"))
    application_id = int(rows[0][0])
    if application_id == APPLICATION_ID:
        return
    if application_id != 0:
        raise NotSessionbotDatabase(f"its application id is {application_id:#010x}")
    rows = list(await db.execute_fetchall(_TABLES))
    tables = {str(row[0]) for row in rows}
    if version == 0 and tables:
        shown = ", ".join(sorted(tables)[:5])
        raise NotSessionbotDatabase(f"it already holds other tables: {shown}")
    if version > 0 and not tables >= _OUR_TABLES:
        raise NotSessionbotDatabase(f"it is at version {version} without sessionbot's tables")


_TABLES: Final = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
)


async def _apply(db: aiosqlite.Connection, migration: Migration, current: int) -> int:
    """Apply `migration` unless another connection did meanwhile; return the version now.

    BEGIN IMMEDIATE takes the write lock before the version is read again, so processes
    starting together on a fresh file apply each migration once: the others wait, then skip.
    """
    await db.execute_fetchall("BEGIN IMMEDIATE")
    try:
        current = await user_version(db)
        if current >= migration.version:
            await db.execute_fetchall("COMMIT")
            return current
        log.info("applying migration %s", migration.name)
        for statement in migration.statements:
            await db.execute_fetchall(statement)
        await db.execute_fetchall(f"PRAGMA user_version = {migration.version:d}")
        await db.execute_fetchall("COMMIT")
    except BaseException as exc:
        if db.in_transaction:
            await db.execute_fetchall("ROLLBACK")
        if isinstance(exc, sqlite3.Error) and not _busy(exc):
            raise MigrationError(f"{migration.name} failed ({exc})", version=current) from exc
        raise
    return migration.version


def _busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)
