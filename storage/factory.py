"""Which store a database location names, and opening it.

`SESSIONBOT_DATABASE` is a file path or `sqlite:///path` (SQLite), or
`postgresql://USER[:PASS]@HOST:PORT/DB` (`postgres://` too; escape special characters of the
password as in any URL, e.g. `@` as `%40`). Any other `scheme://` is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

from .copying import CopyableStore
from .errors import UnsupportedDatabase
from .postgres import PostgresStore
from .store import SessionStore

__all__ = ["DatabaseLocation", "open_store", "opened_store", "parse_location"]

_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES: Final = frozenset({"postgresql", "postgres"})


@dataclass(frozen=True)
class DatabaseLocation:
    """A parsed `SESSIONBOT_DATABASE`: a SQLite file or a PostgreSQL URL."""

    kind: Literal["sqlite", "postgresql"]
    target: str
    """The SQLite path, or the PostgreSQL URL as given (password included)."""

    def __str__(self) -> str:
        """The location for messages and logs: a URL's password is shown as `***`."""
        if self.kind == "sqlite":
            return self.target
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        user = parts.username or ""
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_location(location: str | os.PathLike[str]) -> DatabaseLocation:
    """UnsupportedDatabase for a `scheme://` that is neither SQLite nor PostgreSQL."""
    text = os.fspath(location)
    match = _SCHEME.match(text)
    if match is None:
        return DatabaseLocation("sqlite", text)
    scheme = match.group(1).lower()
    if scheme == "sqlite" and text[match.end() :]:  # sqlite:///abs/path, or sqlite://rel/path
        return DatabaseLocation("sqlite", text[match.end() :])
    if scheme in _POSTGRES:
        return DatabaseLocation("postgresql", text)
    raise UnsupportedDatabase(scheme)


async def open_store(location: str | os.PathLike[str] | DatabaseLocation) -> CopyableStore:
    """Open (creating and migrating if needed) the store at `location`; close it when done."""
    parsed = location if isinstance(location, DatabaseLocation) else parse_location(location)
    if parsed.kind == "postgresql":
        return await PostgresStore.open(parsed.target)
    return await SessionStore.open(parsed.target)


@asynccontextmanager
async def opened_store(
    location: str | os.PathLike[str] | DatabaseLocation,
) -> AsyncIterator[CopyableStore]:
    """`open_store` for an `async with` block, closing the store at its end."""
    store = await open_store(location)
    try:
        yield store
    finally:
        await store.close()
