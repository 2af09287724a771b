"""Cheap questions about the database itself, for health probes, metrics and `doctor`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .sqlite import SqliteDatabase

__all__ = ["StoreHealth", "StoreStatus"]

# One statement, one thread hop: the schema version and how many sessions are active (a scan
# of the sessions table only, never of messages).
_STATUS: Final = (
    "SELECT (SELECT user_version FROM pragma_user_version), "
    "(SELECT count(*) FROM sessions WHERE status = 'active')"
)


@dataclass(frozen=True)
class StoreStatus:
    schema_version: int
    active_sessions: int


class StoreHealth(SqliteDatabase):
    """The store's own health: answered from the shared connection, under its lock."""

    async def status(self) -> StoreStatus:
        """The schema version and the number of active sessions (one cheap query)."""
        rows = await self._query(_STATUS)
        return StoreStatus(schema_version=int(rows[0][0]), active_sessions=int(rows[0][1]))

    async def quick_check(self) -> list[str]:
        """SQLite's `PRAGMA quick_check`: `["ok"]`, or one line per problem it found."""
        rows = await self._query("PRAGMA quick_check")
        return [str(row[0]) for row in rows]
