"""Fixtures for the storage tests: a real SQLite file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import SessionStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SessionStore]:
    async with SessionStore.open(db_path) as opened:
        yield opened
