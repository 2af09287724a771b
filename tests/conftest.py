"""Shared fixtures."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.postgres_server import NO_POSTGRES, PostgresServer, postgres_server


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A started fake OpenAI-compatible server; `fake_openai.base_url` is its /v1 URL."""
    async with FakeOpenAI() as fake:
        yield fake


# The store's two backends ------------------------------------------------------------------
# Every test that asks for `database_url` (through a `store` fixture) runs twice: on a SQLite
# file and on a fresh PostgreSQL database. PostgreSQL is a throwaway cluster the session starts
# itself when initdb is installed, or the server at SESSIONBOT_TEST_POSTGRES (a URL of a role
# that may create databases). Without either, the PostgreSQL half is skipped, except in CI
# (CI=true) or with SESSIONBOT_REQUIRE_POSTGRES=1, where it fails instead.

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run storage-touching tests on both backends; tests that look under the SQLite file
    (they ask for `db_path`) or are marked `sqlite_only` run on SQLite alone."""
    if "backend" not in metafunc.fixturenames:
        return
    sqlite_only = "db_path" in metafunc.fixturenames or metafunc.definition.get_closest_marker(
        "sqlite_only"
    )
    metafunc.parametrize("backend", ["sqlite"] if sqlite_only else list(BACKENDS))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer | None]:
    """The PostgreSQL server for the tests, or None where there is none (outside CI)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
async def database_url(
    backend: str, tmp_path: Path, postgres: PostgresServer | None
) -> AsyncIterator[str]:
    """A fresh, empty database of `backend` (with the schema in place for PostgreSQL)."""
    if backend == "sqlite":
        yield str(tmp_path / "data" / "sessions.db")
        return
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    async with postgres.fresh_database() as url:
        yield url
