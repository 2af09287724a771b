"""What is particular to the PostgreSQL store: its URL, its rights, its migrations, its limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage import ListQuery, PostgresStore, UsageQuery, open_store, parse_location
from storage.errors import InvalidText, NotSessionbotDatabase, UnsupportedDatabase
from storage.postgres.migrate import MIGRATION_LOCK
from tests.postgres_server import NO_POSTGRES, ROLE, ROLE_PASSWORD, PostgresServer
from tests.storage.helpers import new_session, say


@pytest.fixture
def server(postgres: PostgresServer | None) -> PostgresServer:
    if postgres is None:
        pytest.skip(NO_POSTGRES)
    return postgres


@pytest.fixture
async def empty_url(server: PostgresServer) -> AsyncIterator[str]:
    async with server.fresh_database(migrated=False) as url:
        yield url


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("sessions.db", "sqlite", "sessions.db"),
        ("data/sessions.db", "sqlite", "data/sessions.db"),
        ("sqlite:///var/lib/sessionbot.db", "sqlite", "/var/lib/sessionbot.db"),
        ("SQLite://data/sessions.db", "sqlite", "data/sessions.db"),
        ("postgresql://bot:pw@db:5432/sessions", "postgresql", "postgresql://bot:pw@db:5432/sessions"),
        ("postgres://bot@db/sessions", "postgresql", "postgres://bot@db/sessions"),
        ("POSTGRESQL://bot@db/sessions", "postgresql", "POSTGRESQL://bot@db/sessions"),
    ],
)  # fmt: skip
def test_a_location_names_its_backend(text: str, kind: str, target: str) -> None:
    location = parse_location(text)
    assert (location.kind, location.target) == (kind, target)


@pytest.mark.parametrize(
    "text", ["mysql://bot@db/sessions", "file:///tmp/x.db", "https://x", "sqlite://"]
)
def test_any_other_scheme_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(UnsupportedDatabase) as caught:
        parse_location(text)
    assert "\n" not in str(caught.value)
    assert "postgresql://USER:PASS@HOST:PORT/DB" in str(caught.value)


def test_a_url_shows_its_password_as_stars() -> None:
    location = parse_location("postgresql://bot:s%40cret@db:5432/sessions")
    assert str(location) == "postgresql://bot:***@db:5432/sessions"
    assert "cret" not in repr(str(location))


async def test_an_escaped_password_logs_in(empty_url: str) -> None:
    assert "%40" in empty_url  # ROLE_PASSWORD's "@", escaped
    async with PostgresStore.open(empty_url) as store:
        assert (await store.status()).active_sessions == 0


async def test_migrations_need_only_the_owners_rights(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        assert (
            await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", ROLE) is False
        )
        assert (
            await conn.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
            == ROLE
        )
    finally:
        await conn.close()
    async with PostgresStore.open(empty_url) as store:
        assert (await store.status()).schema_version >= 1
        assert await store.quick_check() == ["ok"]


async def test_reopening_applies_nothing_twice(empty_url: str) -> None:
    for _ in range(2):
        async with PostgresStore.open(empty_url) as store:
            version = (await store.status()).schema_version
    conn = await asyncpg.connect(empty_url)
    try:
        rows = await conn.fetch("SELECT version FROM sessionbot_schema ORDER BY version")
    finally:
        await conn.close()
    assert [row[0] for row in rows] == list(range(1, version + 1))


async def test_migrations_wait_for_the_lock(empty_url: str) -> None:
    holder = await asyncpg.connect(empty_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await open_store(empty_url)
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        store = await open_store(empty_url)
        await store.close()
    finally:
        await holder.close()


async def test_a_foreign_database_is_refused_and_left_untouched(empty_url: str) -> None:
    conn = await asyncpg.connect(empty_url)
    try:
        await conn.execute("CREATE TABLE invoices (id int)")
        with pytest.raises(NotSessionbotDatabase, match="invoices"):
            await open_store(empty_url)
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    assert [row[0] for row in tables] == ["invoices"]


async def test_text_postgresql_cannot_hold_is_refused_in_one_sentence(
    server: PostgresServer,
) -> None:
    async with server.fresh_database() as url, PostgresStore.open(url) as store:
        session = await new_session(store)
        with pytest.raises(InvalidText, match="NUL character"):
            await say(store, session, "before\x00after")
        with pytest.raises(InvalidText, match="NUL character"):
            await new_session(store, agent_id="a\x00b")
        assert await store.count_messages(session.id) == 0
        assert await store.active_session("key\x00") is None


def test_the_test_role_password_needs_escaping() -> None:
    assert set("@:/%?#") <= set(ROLE_PASSWORD)


async def test_filters_holding_a_nul_match_nothing_as_on_sqlite(server: PostgresServer) -> None:
    async with server.fresh_database() as url, PostgresStore.open(url) as store:
        session = await new_session(store, binding_key="k", tags=["t"])
        await say(store, session, "hi", external_id="e")
        for filters in ({"agent_id": "sa\x00"}, {"key_prefix": "k\x00"}, {"tags_any": ["t\x00"]}):
            assert (await store.list_sessions(ListQuery(**filters))).items == []
        assert await store.sessions_holding("k\x00", "e") == []
        assert await store.delete_message(session.id, "e\x00") is False
        assert await store.usage(UsageQuery(since=session.created_at, agent_id="\x00")) == []
        assert await store.tokens_since("k\x00", session.created_at) == 0
        assert await store.tokens_since("k", session.created_at) == 1
