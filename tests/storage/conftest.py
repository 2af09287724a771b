"""Fixtures for the storage tests: a real database per test, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Store, open_store


@pytest.fixture
def db_path(database_url: str) -> Path:
    """The SQLite file under `store` (asking for it keeps a test on SQLite alone)."""
    return Path(database_url)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    try:
        yield opened
    finally:
        await opened.close()
