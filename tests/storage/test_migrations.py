"""Numbered migrations: blank database, re-opening, upgrading, failing safely."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from storage import ListQuery, Role, SessionStore
from storage.errors import MigrationError
from storage.migrate import apply_migrations, default_source, load_migrations, split_statements
from tests.storage.helpers import new_session, raw_query

SHIPPED = load_migrations(default_source())
LATEST = SHIPPED[-1].version


def copy_migrations(target: Path, upto: int) -> Path:
    """A migrations directory holding the shipped files up to version `upto`."""
    target.mkdir()
    for entry in default_source().iterdir():
        if entry.name.endswith(".sql") and int(entry.name[:4]) <= upto:
            (target / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return target


async def migrate_with(db_path: Path, source: Path) -> int:
    async with aiosqlite.connect(db_path, isolation_level=None) as db:
        return await apply_migrations(db, source)


def schema(db_path: Path) -> list[tuple[str, str]]:
    return raw_query(db_path, "SELECT name, sql FROM sqlite_master ORDER BY name")


def test_shipped_migrations_are_numbered_from_one() -> None:
    assert [m.version for m in SHIPPED] == list(range(1, len(SHIPPED) + 1))
    assert SHIPPED[0].name == "0001_initial.sql"


async def test_blank_database_gets_the_latest_version(store: SessionStore, db_path: Path) -> None:
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST,)]
    tables = {name for (name,) in raw_query(db_path, "SELECT name FROM sqlite_master")}
    assert {"sessions", "session_tags", "messages"} <= tables


async def test_reopening_changes_nothing(db_path: Path) -> None:
    async with SessionStore.open(db_path) as store:
        session = await new_session(store)
    before = schema(db_path)
    async with SessionStore.open(db_path) as store:
        assert await store.get_session(session.id) == session
    assert schema(db_path) == before
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST,)]


async def test_upgrade_from_the_previous_version_keeps_rows(tmp_path: Path, db_path: Path) -> None:
    db_path.parent.mkdir()
    previous = copy_migrations(tmp_path / "previous", upto=LATEST - 1)
    assert await migrate_with(db_path, previous) == LATEST - 1
    raw_query(
        db_path,
        "INSERT INTO sessions (id, agent_id, situation, created_at, updated_at, tags, metadata)"
        " VALUES ('8f9c2b8e-7c55-4d7c-9a43-2ad1c8f5b6a1', 'sara', 'Old.', 1, 2, '[\"kept\"]',"
        ' \'{"db_uuid":"1234","n":7}\')',
    )
    raw_query(
        db_path,
        "INSERT INTO messages (session_id, role, content, created_at, tokens, tokens_source)"
        " VALUES ('8f9c2b8e-7c55-4d7c-9a43-2ad1c8f5b6a1', 'user', 'old message', 3, 2, 'estimate')",
    )
    async with SessionStore.open(db_path) as store:
        page = await store.list_sessions(ListQuery(tags_any=["kept"]))
        [session] = page.items
        by_meta = await store.list_sessions(ListQuery(metadata_filter={"db_uuid": "1234", "n": 7}))
        assert by_meta.items == [session]  # rows from before an upgrade stay filterable
        [old] = await store.recent_history(session.id, limit=5)
        assert (old.content, old.reply_to) == ("old message", None)
        reply = await store.append_message(
            session.id, role=Role.ASSISTANT, content="new", tokens=1, reply_to=old.id
        )
        assert reply.reply_to == old.id
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST,)]


async def test_failing_migration_rolls_back_and_keeps_the_version(
    tmp_path: Path, db_path: Path
) -> None:
    db_path.parent.mkdir()
    source = copy_migrations(tmp_path / "broken", upto=LATEST)
    assert await migrate_with(db_path, source) == LATEST
    (source / f"{LATEST + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INTEGER);\n"
        "INSERT INTO half_done VALUES (1);\n"
        "DROP TABLE messages;\n"
        "SELECT * FROM no_such_table;\n",
        encoding="utf-8",
    )
    before = schema(db_path)
    with pytest.raises(MigrationError) as raised:
        await migrate_with(db_path, source)
    assert raised.value.version == LATEST
    assert "_broken.sql" in str(raised.value)
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST,)]
    assert schema(db_path) == before


async def test_failing_first_upgrade_leaves_a_blank_database_blank(
    tmp_path: Path, db_path: Path
) -> None:
    db_path.parent.mkdir()
    source = copy_migrations(tmp_path / "m", upto=1)
    (source / "0002_broken.sql").write_text("CREATE TABLE t (x); SELEC 1;", encoding="utf-8")
    with pytest.raises(MigrationError):
        await migrate_with(db_path, source)
    assert raw_query(db_path, "PRAGMA user_version") == [(1,)]
    assert raw_query(db_path, "SELECT name FROM sqlite_master WHERE name = 't'") == []


async def test_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    async with SessionStore.open(db_path):
        pass
    raw_query(db_path, "PRAGMA user_version = 99")
    with pytest.raises(MigrationError, match="version 99"):
        await SessionStore.open(db_path)
    assert raw_query(db_path, "PRAGMA user_version") == [(99,)]


def test_split_statements_keeps_trigger_bodies_and_quoted_semicolons_whole() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d';
        DELETE FROM t WHERE x = ';';
    END;
    INSERT INTO t VALUES ('x'); INSERT INTO t VALUES ('y');
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    assert statements[3] == "INSERT INTO t VALUES ('y');"


def test_split_statements_refuses_an_unfinished_statement() -> None:
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE t (x); CREATE TABLE u (y)")


@pytest.mark.parametrize(
    "files",
    [
        {"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"},
        {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"},
        {"0001_a.sql": "BEGIN; SELECT 1; COMMIT;"},
    ],
)
def test_load_migrations_refuses_gaps_duplicates_and_transaction_control(
    tmp_path: Path, files: dict[str, str]
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        load_migrations(tmp_path)


def test_load_migrations_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;", encoding="utf-8")
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    (tmp_path / "draft.sql").write_text("nonsense", encoding="utf-8")
    assert [m.name for m in load_migrations(tmp_path)] == ["0001_a.sql"]
