"""The session store in PostgreSQL (asyncpg, a connection pool, its own numbered migrations)."""

from typing import Final

import asyncpg

from .store import PostgresStore

__all__ = ["POSTGRES_OPEN_ERRORS", "PostgresStore"]

POSTGRES_OPEN_ERRORS: Final[tuple[type[Exception], ...]] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    TimeoutError,
    ValueError,
)
"""What connecting may raise beside OSError: refused logins, unknown databases, bad URLs."""
